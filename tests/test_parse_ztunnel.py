"""ztunnel's /config_dump in every shape it printed, its log, and istiod's ambientz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from diagnostics.parse.ztunnel import log_errors, parse_dump

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ztunnel"
MAPS = json.loads((FIXTURES / "istioctl-dump-maps.json").read_text())
REAL = yaml.safe_load((FIXTURES / "real-lines.yaml").read_text())["lines"]
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "ambient-healthy" / "snapshot"


def test_the_map_shape_of_ztunnel_1_22_reads_like_istioctl_reads_it():
    dump = parse_dump(MAPS)
    assert len(dump.workloads) == len(MAPS["workloads"])
    assert len(dump.services) == len(MAPS["services"])
    ratings = next(w for w in dump.workloads if w.name == "ratings-v1-6484c4d9bb-mdxm5")
    assert (ratings.network, ratings.node, ratings.cluster_id) == ("network1", "ambient-worker2",
                                                                   "Kubernetes")
    assert ratings.waypoint and ratings.waypoint.target == "10.96.65.117"
    assert ratings.waypoint.port == 15008  # the old GatewayAddress spelled it `port`
    waypoint = next(s for s in dump.services if s.name == "namespace-istio-waypoint")
    assert [w.name for w in dump.endpoints_of(waypoint)] == \
        ["namespace-istio-waypoint-d94944bf6-z89g2"]
    uid = "54ce2023-7c77-4bb8-b6c3-eccf619cd6f2"
    assert dump.proxies(uid) == "Up" and dump.proxies("no-such-uid") is None


def test_the_list_shape_and_its_settings():
    body = json.loads(next(SCENARIO.glob("clusters/cluster1/ztunnel/*/config_dump.json"))
                      .read_text())
    assert isinstance(body["workloads"], list)
    dump = parse_dump(body)
    assert (dump.network, dump.cluster_id, dump.version) == ("network1", "cluster1", "1.28.1")
    svc = dump.service("helloworld.sample.svc.cluster.local", "sample")
    workloads = dump.endpoints_of(svc)
    remote = [w for w in workloads if w.split_horizon]
    assert len(workloads) == 2 and len(remote) == 1
    assert remote[0].network == "network2" and remote[0].network_gateway.port == 15008
    assert remote[0].network_gateway.is_address


def test_the_stores_internal_names_before_1_22():
    """Before istio/ztunnel#923 the stores were flattened under their Rust field names."""
    workload = MAPS["workloads"]["network1/10.244.2.54"]
    service = MAPS["services"]["/10.96.65.117"]
    old = {"by_uid": {workload["uid"]: workload},
           "by_host": {service["hostname"]: [service]}}
    dump = parse_dump(old)
    assert [w.name for w in dump.workloads] == [workload["name"]]
    assert [s.name for s in dump.services] == [service["name"]]


@pytest.mark.parametrize("body", [None, [], "text", {"workloads": "x", "services": 3}])
def test_anything_else_reads_as_an_empty_dump(body):
    dump = parse_dump(body)
    assert dump.workloads == [] and dump.services == [] and dump.network is None


@pytest.mark.parametrize("line", REAL, ids=[f"{i}-{x['source'].rsplit('/', 1)[-1]}"
                                            for i, x in enumerate(REAL)])
def test_real_ztunnel_lines(line):
    errors = log_errors(line["text"])
    if line["expect"]["kind"] == "none":
        assert errors == []
    else:
        assert [e.kind for e in errors] == [line["expect"]["kind"]]
        if "error" in line["expect"]:
            assert errors[0].text == line["expect"]["error"]


def test_json_framed_lines_and_lines_without_a_level():
    json_line = json.dumps({"level": "warn", "time": "2026-11-20T08:51:00Z", "scope": "access",
                            "message": "connection failed",
                            "error": "unknown network gateway: network gateway x not found"})
    assert [(e.kind, e.text) for e in log_errors(json_line)] == [
        ("gateway", "unknown network gateway: network gateway x not found")]
    assert log_errors("info\taccess\tconnection complete\tsrc.addr=1.2.3.4:1") == []


def test_ambientz_workloads_read_like_ztunnels():
    """istiod's /debug/ambientz is protojson: gateways as a oneof, services as a map."""
    body = json.loads(next(SCENARIO.glob("clusters/cluster1/istiod/*/ambientz.json")).read_text())
    dump = parse_dump(body)
    remote = [w for w in dump.workloads if w.split_horizon]
    assert remote and remote[0].network_gateway.destination.startswith("network2/")
    assert all(w.services for w in dump.workloads)
