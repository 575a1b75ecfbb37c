"""Parsers behind the network, primary-remote and reachability checks: `/debug/networkz`,
`/debug/syncz` (every field-name version, and istioctl's CSDS form) and Envoy access logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnostics.parse.access_log import parse_access_log, parse_line
from diagnostics.parse.networkz import networks_known, parse_networkz
from diagnostics.parse.syncz import (ERROR, NOT_SENT, STALE, SYNCED, parse_syncz,
                                     proxies_by_cluster, short_type)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istio"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


# ------------------------------------------------------------------------------------ networkz

def test_networkz_1_23_and_later_service_gateway():
    [gw] = parse_networkz(load("constructed/debug-networkz-service-gateway.json"))
    assert (gw.network, gw.cluster, gw.address, gw.port) == ("network2", "cluster2",
                                                             "34.120.10.20", 15443)
    assert gw.hbone_port == 0 and gw.service_account == ""
    assert gw.target == "34.120.10.20:15443"


def test_networkz_hbone_gateway_keeps_its_service_account():
    [gw] = parse_networkz(load("constructed/debug-networkz-gatewayapi-hbone.json"))
    assert gw.hbone_port == 15008
    assert gw.service_account == "istio-system/istio-eastwestgateway"
    assert "HBONE 15008" in gw.describe()


def test_networkz_literal_null_means_no_gateway():
    raw = (FIXTURES / "constructed/debug-networkz-none.json").read_text()
    assert raw.strip() == "null"
    assert parse_networkz(json.loads(raw)) == []
    assert parse_networkz(raw) == []  # the body as text, too
    assert networks_known(None) == set()


def test_networkz_1_22_has_only_four_fields():
    body = [{"Network": "network1", "Cluster": "cluster1", "Addr": "34.120.10.20", "Port": 15443},
            {"Network": "network2", "Cluster": "cluster2", "Addr": "35.190.20.30", "Port": 15443}]
    gws = parse_networkz(body)
    assert [g.describe() for g in gws] == ["network1 → 34.120.10.20:15443 (cluster1)",
                                           "network2 → 35.190.20.30:15443 (cluster2)"]
    assert networks_known(body) == {"network1", "network2"}


def test_networkz_other_casings_and_junk():
    body = [{"network": "n1", "cluster": "c1", "addr": "1.2.3.4", "port": "15443"},
            {"Network": "n2"}, "junk", None]
    assert [g.target for g in parse_networkz(body)] == ["1.2.3.4:15443"]
    assert parse_networkz({"gateways": body})[0].network == "n1"
    assert parse_networkz("") == [] and parse_networkz([]) == []


# ---------------------------------------------------------------------------------------- syncz

def test_syncz_constructed_fixture():
    first, second = parse_syncz(load("constructed/debug-syncz.json"))
    assert (first.proxy, first.pod, first.namespace) == (
        "sleep-dd98b5f48-djwdw.sample", "sleep-dd98b5f48-djwdw", "sample")
    assert (first.cluster_id, first.proxy_type, first.istio_version) == ("cluster1", "sidecar",
                                                                         "1.28.1")
    assert {t: s.status for t, s in first.types.items()} == {
        "CDS": SYNCED, "LDS": SYNCED, "RDS": SYNCED, "EDS": SYNCED, "SDS": SYNCED}
    assert second.cluster_id == "cluster2"
    assert second.types["EDS"].status == STALE  # sent, never acked


def test_syncz_before_1_23_has_no_resources_map():
    body = [{"cluster_id": "cluster2", "proxy": "p.ns", "proxy_type": "sidecar",
             "istio_version": "1.22.8", "cluster_sent": "n1", "cluster_acked": "n1",
             "listener_sent": "n2", "listener_acked": "n1", "endpoint_acked": ""}]
    [proxy] = parse_syncz(body)
    assert {t: s.status for t, s in proxy.types.items()} == {
        "CDS": SYNCED, "LDS": STALE, "EDS": NOT_SENT}


def test_syncz_before_1_18_has_no_proxy_type():
    [proxy] = parse_syncz([{"cluster_id": "Kubernetes", "proxy": "p.ns", "istio_version": "1.17.2",
                            "cluster_sent": "a", "cluster_acked": "a"}])
    assert proxy.proxy_type is None and proxy.cluster_id == "Kubernetes"


def test_syncz_camel_case_and_last_error():
    body = [{"clusterId": "cluster1", "proxy": "p.ns", "proxyType": "router",
             "istioVersion": "1.28.1", "clusterSent": "a", "clusterAcked": "a",
             "resources": {"type.googleapis.com/envoy.config.listener.v3.Listener": {
                 "sent": "b", "acked": "a", "lastError": "rejected listener 0.0.0.0_80",
                 "sentTime": "2026-11-20T08:31:00Z"},
                 "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": {
                     "sentTime": "0001-01-01T00:00:00Z"}}}]
    [proxy] = parse_syncz(body)
    assert (proxy.cluster_id, proxy.proxy_type) == ("cluster1", "router")
    assert proxy.types["CDS"].status == SYNCED
    assert proxy.types["LDS"].status == ERROR
    assert proxy.types["RDS"].status == NOT_SENT  # never sent: zero sentTime, no nonce


def test_syncz_read_the_same_in_istiod_spelling_and_any_other():
    """Entries keyed exactly as istiod marshals SyncStatus are read directly; re-marshalled
    in camelCase (istioctl -o json) they take the spelling-blind path: same proxies."""
    def camel(key: str) -> str:
        head, *rest = key.split("_")
        return head + "".join(w.title() for w in rest)

    body = load("constructed/debug-syncz.json") + [
        {"proxy": "old.ns", "proxy_version": "1.17.2", "cluster_sent": "a", "cluster_acked": "a"},
        {"proxy": "empty.ns", "istio_version": "", "proxy_version": "1.20.0"}]
    respelled = [{camel(k): v for k, v in entry.items()} for entry in body]
    assert respelled[0].keys() != body[0].keys()
    assert parse_syncz(respelled) == parse_syncz(body)
    assert [p.istio_version for p in parse_syncz(body)[-2:]] == ["1.17.2", None]


def test_syncz_csds_response_from_istioctl():
    [proxy] = parse_syncz(load("istioctl-proxy-status-xds-syncz-response.json"))
    assert (proxy.proxy, proxy.cluster_id, proxy.istio_version) == ("proxy1", "cluster1", "1.20")
    assert {t: s.status for t, s in proxy.types.items()} == {
        "CDS": STALE, "LDS": SYNCED, "RDS": NOT_SENT, "EDS": SYNCED, "ECDS": SYNCED}


def test_syncz_node_id_is_reduced_to_pod_and_namespace():
    [proxy] = parse_syncz({"resources": [{"node": {
        "id": "sidecar~10.10.1.42~sleep-x.sample~sample.svc.cluster.local",
        "metadata": {"CLUSTER_ID": "cluster1"}}}]})
    assert proxy.proxy == "sleep-x.sample"


@pytest.mark.parametrize("body", [None, [], "", "null", "[]"])
def test_syncz_empty_bodies(body):
    assert parse_syncz(body) == []


def test_syncz_grouped_by_the_proxy_cluster():
    grouped = proxies_by_cluster(load("constructed/debug-syncz.json") + [{"proxy": "x.ns"}])
    assert sorted(grouped) == ["", "cluster1", "cluster2"]


def test_short_type_names():
    assert short_type("type.googleapis.com/envoy.config.cluster.v3.Cluster") == "CDS"
    assert short_type("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig") == "ECDS"
    assert short_type("extensionconfig") == "ECDS"


# ----------------------------------------------------------------------------------- access log

OK = ('[2026-11-20T08:55:00.000Z] "GET /hello HTTP/1.1" 200 - via_upstream - "-" 0 60 3 2 "-" '
      '"curl/8.16.0" "082cc89e" "helloworld.sample:5000" "10.10.1.26:5000" '
      'outbound|5000||helloworld.sample.svc.cluster.local 10.10.1.42:46400 10.96.249.187:5000 '
      '10.10.1.42:46399 - default')
UF = ('[2026-11-20T08:55:01.116Z] "GET /hello HTTP/1.1" 503 UF '
      'upstream_reset_before_response_started{connection_timeout} - "-" 0 91 10001 - "-" '
      '"curl/8.16.0" "ba19268c" "helloworld.sample:5000" "35.190.20.30:15443" '
      'outbound|5000||helloworld.sample.svc.cluster.local - 10.96.249.187:5000 '
      '10.10.1.42:56974 - default')


def test_default_format_success():
    e = parse_line(OK)
    assert (e.code, e.flags, e.upstream_host, e.duration_ms) == (200, (), "10.10.1.26:5000", 3)
    assert e.upstream_cluster == "outbound|5000||helloworld.sample.svc.cluster.local"
    assert e.authority == "helloworld.sample:5000" and not e.failed_to_connect


def test_default_format_connection_failure():
    e = parse_line(UF)
    assert (e.code, e.flags, e.upstream_host) == (503, ("UF",), "35.190.20.30:15443")
    assert e.failed_to_connect and e.duration_ms == 10001
    assert e.failure == "503 UF upstream_reset_before_response_started{connection_timeout}"
    assert e.short().startswith('[2026-11-20T08:55:01.116Z] "GET /hello HTTP/1.1" 503 UF')
    assert '"35.190.20.30:15443" outbound|5000||' in e.short()


def test_retries_exhausted_and_tls_failure():
    line = ('[2026-01-01T00:00:00.000Z] "GET / HTTP/1.1" 503 UF,URX '
            'upstream_reset_before_response_started{connection_failure,TLS_error:_268435612:'
            'SSL_routines:OPENSSL_internal:HTTP_REQUEST} - "TLS_error:_268435612:SSL_routines:'
            'OPENSSL_internal:HTTP_REQUEST" 0 190 12 - "-" "curl/8" "id" "svc:80" "10.20.1.5:80" '
            'outbound|80||svc.ns.svc.cluster.local - 10.96.0.9:80 10.10.1.2:4000 - default')
    e = parse_line(line)
    assert e.flags == ("UF", "URX")
    assert e.transport_failure.startswith("TLS_error")
    assert e.failed_to_connect


def test_tcp_connection_line():
    line = ('[2026-01-01T00:00:00.000Z] "- - -" 0 UF - - "-" 0 0 10000 - "-" "-" "-" "-" '
            '"35.190.20.30:15443" outbound|6379||redis.db.svc.cluster.local - 10.96.3.3:6379 '
            '10.10.1.2:5000 - -')
    e = parse_line(line)
    assert (e.request, e.code, e.upstream_host) == ("- - -", 0, "35.190.20.30:15443")
    assert e.failed_to_connect and e.duration_ms == 10000


def test_no_healthy_upstream_has_no_host():
    line = ('[2026-01-01T00:00:00.000Z] "GET / HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 '
            '- "-" "curl/8" "id" "svc:80" "-" outbound|80||svc.ns.svc.cluster.local - '
            '10.96.0.9:80 10.10.1.2:4000 - default')
    e = parse_line(line)
    assert e.upstream_host == "" and e.flags == ("UH",) and e.failed_to_connect


def test_pre_1_9_format_with_mixer_status_field():
    line = ('[2020-06-01T10:00:00.000Z] "GET /hello HTTP/1.1" 503 UF "-" "-" 0 91 10001 - "-" '
            '"curl/7" "id" "helloworld.sample:5000" "35.190.20.30:15443" '
            'outbound|5000||helloworld.sample.svc.cluster.local - 10.96.0.1:5000 10.0.0.2:1 - '
            'default')
    e = parse_line(line)
    assert (e.code, e.flags, e.upstream_host, e.duration_ms) == (503, ("UF",),
                                                                "35.190.20.30:15443", 10001)


def test_json_encoding():
    line = json.dumps({"start_time": "2026-01-01T00:00:00.000Z", "method": "GET", "path": "/",
                       "protocol": "HTTP/1.1", "response_code": 503, "response_flags": "UF",
                       "upstream_host": "35.190.20.30:15443", "duration": 10001,
                       "upstream_cluster": "outbound|5000||helloworld.sample.svc.cluster.local",
                       "upstream_transport_failure_reason": None, "authority": "helloworld:5000"})
    e = parse_line(line)
    assert (e.request, e.code, e.upstream_host, e.failed_to_connect) == (
        "GET / HTTP/1.1", 503, "35.190.20.30:15443", True)


def test_agent_lines_and_noise_are_skipped():
    text = "\n".join([
        "2026-11-20T08:30:10.000000Z\tinfo\tFLAG: --concurrency=\"0\"",
        "2026-11-20T08:30:11.421000Z\tinfo\tEnvoy proxy is ready",
        "[not an access log line",
        "{\"level\": \"info\", \"msg\": \"json agent line\"}",
        "", OK, UF])
    entries = list(parse_access_log(text))
    assert [e.code for e in entries] == [200, 503]
    assert list(parse_access_log(None)) == []
