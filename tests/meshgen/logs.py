"""istiod (`discovery`) and sidecar (`istio-proxy`) container logs.

istiod lines use the text layout of docs/istio-surface.md §3.3
(`time TAB level TAB [scope TAB] message [TAB labels]`), or with `--log_as_json` (LogKnobs.json)
one JSON object per record (`level`, `time`, `scope` unless default, `msg`, one key per label).
Secret-controller wordings follow the cluster's istiod version (docs/istiod-log-versions.md):
`processing secret event for secret` / `error adding secret` and the `secret=` label before
1.30, `processing remote config event for` / `error adding remote config` and `config=` from
1.30, and from 1.30 the clusters collection's warning when it omits a timed-out cluster.
client-go's reflector also logs each failed list (`<reflector.go:N>: failed to list T: ...`,
klog at info) up to client-go 0.32 (Istio 1.26); from 0.33 on only istiod's own watch error
handler reports it. Sidecar logs hold Istio's default access-log format and are written only
when the mesh config turns access logging on, as on a live cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.meshgen.certs import intermediate_ca
from tests.meshgen.config_dump import sidecar_cluster_counter
from tests.meshgen.control_plane_knobs import istiod_host
from tests.meshgen.istiod_view import PUSH_TIME, ControlPlane, merged_services
from tests.meshgen.k8s_objects import root_cert
from tests.meshgen.naming import hexid, number, ts_micro, ts_milli
from tests.meshgen.remote_secrets import SecretResult, failing_informers, list_error
from tests.meshgen.topology import ISTIO_NS, Pod, World
from tests.meshgen.traffic import Request, simulate

# (client-go version in Istio's go.mod at the minor's .0 tag, reflector.go line naming the
# reflector there); None: client-go >= 0.33 logs no list warning of its own.
_CLIENT_GO = {22: ("v0.30.0", 232), 23: ("v0.30.1", 232), 24: ("v0.31.1", 243),
              25: ("v0.32.1", 251), 26: ("v0.32.3", 251)}
_LABEL_SPLIT = re.compile(r" (?=[A-Za-z_][\w./-]*=)")


def _reflector(version: tuple[int, int]) -> str | None:
    found = _CLIENT_GO.get(version[1]) if version[1] >= 22 else _CLIENT_GO[22]
    if found is None:
        return None
    go, line = found
    return f"k8s.io/client-go@{go}/tools/cache/reflector.go:{line}"


@dataclass(frozen=True)
class _Record:
    time: datetime
    seq: int
    level: str
    scope: str
    msg: str
    labels: str

    def text(self) -> str:
        line = f"{ts_micro(self.time)}\t{self.level}\t" + (f"{self.scope}\t" if self.scope else "")
        return line + self.msg + (f"\t{self.labels}" if self.labels else "")

    def json(self) -> str:
        doc = {"level": self.level, "time": ts_micro(self.time)}
        if self.scope:
            doc["scope"] = self.scope
        doc["msg"] = self.msg
        for part in _LABEL_SPLIT.split(self.labels) if self.labels else []:
            key, _, value = part.partition("=")
            doc[key] = value
        return json.dumps(doc, separators=(",", ":"))  # zap writes compact JSON


class _Log:
    def __init__(self) -> None:
        self.records: list[_Record] = []

    def add(self, t: datetime, level: str, msg: str, scope: str = "", labels: str = "") -> None:
        self.records.append(_Record(t, len(self.records), level, scope, msg, labels))

    def text(self, as_json: bool = False) -> str:
        ordered = sorted(self.records, key=lambda r: (r.time, r.seq))
        return "".join((r.json() if as_json else r.text()) + "\n" for r in ordered)


def _secret_lines(log: _Log, cp: ControlPlane, t: datetime, s: SecretResult, count: int) -> int:
    v = cp.version
    ref = f"{ISTIO_NS}/{s.secret}"
    renamed = v >= (1, 30)
    labels = f"cluster={s.key} " + (f"config={ref}" if renamed else f"secret={ref}")
    log.add(t, "info", f"processing remote config event for {ref}" if renamed
            else f"processing secret event for secret {ref}")
    t += timedelta(microseconds=70)
    if s.status == "ignored":
        log.add(t, "info", "ignoring cluster as it would overwrite the config cluster", labels=labels)
        return count
    if s.status == "duplicate":
        log.add(t, "warn", "cluster has already been registered", labels=labels)
        return count
    log.add(t, "info", "Add cluster", labels=labels)
    if s.status == "rejected":
        log.add(t + timedelta(microseconds=450), "error",
                f"Add cluster: create remote cluster failed: {s.error}", labels=labels)
        log.add(t + timedelta(microseconds=530), "info", f"Number of remote clusters: {count}")
        inner = "error adding remote config" if renamed else "error adding secret"
        log.add(t + timedelta(microseconds=640), "error",
                f"error handling {ref}, and retry budget exceeded: {inner} {ref}: "
                f"1 error occurred:\n\t* {s.error}\n\n", scope="controllers",
                labels="controller=multicluster secret")
        return count
    count += 1
    log.add(t + timedelta(microseconds=1600), "info", f"Number of remote clusters: {count}")
    log.add(t + timedelta(microseconds=2500), "info",
            f'Initializing Kubernetes service registry "{s.key}"', scope="kube")
    if s.status == "synced":
        log.add(t + timedelta(milliseconds=788), "info", "sync complete",
                labels=f"name=cluster[{s.key}] synced attempt=9 time=788.402ms")
        return count
    _failure_lines(log, cp, t, s)
    return count


def _failure_lines(log: _Log, cp: ControlPlane, t: datetime, s: SecretResult) -> None:
    slow = s.outcome in ("timeout", "networkpolicy")
    rounds = [30.0, 95.0, 2100.0] if slow else [0.3, 1.6, 12.8, 130.0, 2100.0]
    dns = f"{cp.spec.service_prefix}.0.10"
    klog = _reflector(cp.version)
    for r in rounds:
        for i, (typ, path, resource, group) in enumerate(failing_informers(s.outcome)):
            at = t + timedelta(seconds=r, microseconds=61 * i + 17)
            err = f"failed to list {typ}: " + list_error(s.outcome, s.server, path, resource, group, dns)
            if klog:
                log.add(at, "info", f"{klog}: {err}", scope="klog")
            log.add(at + timedelta(microseconds=25), "error", f"watch error in cluster {s.key}: {err}")
    timeout_at = t + timedelta(seconds=30, milliseconds=6)
    if cp.version >= (1, 15):
        log.add(timeout_at, "error", f"remote cluster {s.key} failed to sync after 30s")
    else:
        log.add(timeout_at, "error", "remote clusters failed to sync after 30s")
    if cp.version >= (1, 30):
        omitted = "is timed out" if cp.version >= (1, 31) else "is closed or timed out"
        log.add(timeout_at + timedelta(microseconds=310), "warn",
                f"remote cluster {s.key} {omitted}, omitting it from the clusters collection")


def discovery_log(world: World, cp: ControlPlane, replica: Pod) -> str:
    """The `discovery` container log of one istiod replica."""
    log = _Log()
    t = replica.created + timedelta(seconds=4, microseconds=number("t0", replica.name) % 900000)
    spec = cp.spec
    root = root_cert(spec)
    inter = intermediate_ca(spec.root_ca, spec.root_not_after, spec.id)
    log.add(t, "info", "initializing mesh configuration ./etc/istio/config/mesh")
    log.add(t + timedelta(milliseconds=12), "info", "Use plugged-in cert at etc/cacerts/ca-key.pem")
    for i, c in enumerate((inter, root)):
        log.add(t + timedelta(milliseconds=13, microseconds=i), "info",
                f'x509 cert - Issuer: "{c.issuer}", Subject: "{c.subject}", SN: {c.serial:x}, '
                f'NotBefore: "{c.not_before:%Y-%m-%dT%H:%M:%SZ}", NotAfter: "{c.not_after:%Y-%m-%dT%H:%M:%SZ}"')
    log.add(t + timedelta(milliseconds=40), "info",
            f'Initializing Kubernetes service registry "{cp.id}"', scope="kube")
    if cp.replicas.index(replica) == 0:
        log.add(t + timedelta(milliseconds=310), "info",
                "leader election lock obtained: istio-namespace-controller-election")
    log.add(t + timedelta(milliseconds=420), "info",
            "multicluster remote secrets controller cache synced in 10.482ms")
    st = t + timedelta(milliseconds=431)
    count = 0
    for i, s in enumerate(cp.secrets):
        count = _secret_lines(log, cp, st + timedelta(milliseconds=3 * i), s, count)
    _ads_lines(log, cp, replica)
    return log.text(as_json=cp.spec.logs.json)


def _ads_lines(log: _Log, cp: ControlPlane, replica: Pod) -> None:
    proxies = cp.proxies.get(replica.name, [])
    services = merged_services(cp)
    router_clusters = 3 + sum(len(m.primary.spec.ports) for m in services)
    n_eds = sum(len(m.primary.spec.ports) for m in services if not m.primary.spec.headless)
    sidecar_clusters = sidecar_cluster_counter(cp)
    for i, pod in enumerate(proxies):
        n_clusters = router_clusters
        if pod.proxy_type == "sidecar":
            n_clusters = sidecar_clusters(pod)
        t = PUSH_TIME + timedelta(milliseconds=37 * i)
        log.add(t, "info", f"ADS: new connection for node:{pod.proxy_id}-{i + 1}", scope="ads")
        log.add(t + timedelta(milliseconds=2), "info",
                f"CDS: PUSH request for node:{pod.proxy_id} resources:{n_clusters} size:{0.9 * n_clusters:.1f}kB",
                scope="ads")
        log.add(t + timedelta(milliseconds=3), "info",
                f"EDS: PUSH request for node:{pod.proxy_id} resources:{n_eds} size:{0.4 * n_eds:.1f}kB "
                f"empty:0 cached:0/{n_eds} filtered:0", scope="ads")
    for pod, err in cp.rejected_proxies:
        t = PUSH_TIME + timedelta(seconds=2, milliseconds=number("rej", pod.name) % 900)
        log.add(t, "error", f"Failed to authenticate client from {pod.ip}:{40000 + number(pod.name) % 20000}: {err}",
                scope="security")
    if proxies:
        log.add(PUSH_TIME + timedelta(minutes=12), "info",
                f"XDS: Pushing Services:{len(services)} ConnectedEndpoints:{len(proxies)} "
                f"Version:2026-11-20T08:43:00Z/31", scope="ads")


# --------------------------------------------------------------------------------------------
# Sidecar


def _access_line(world: World, client: Pod, r: Request) -> str:
    cw = world.clusters[client.cluster]
    svc = cw.service("sample", "helloworld")
    vip = f"{svc.cluster_ip}:5000" if svc and svc.cluster_ip else "-"
    port = 40000 + number("port", r.request_id) % 20000
    if r.failed:
        code, flags, details, up_local = 503, "UF", "upstream_reset_before_response_started{connection_timeout}", "-"
    else:
        code, flags, details, up_local = 200, "-", "via_upstream", f"{client.ip}:{port + 1}"
    host = f"{r.final.address}:{r.final.port}"
    svc_time = "-" if r.failed else str(max(1, r.duration_ms - 1))
    return (f'[{ts_milli(r.start)}] "GET /hello HTTP/1.1" {code} {flags} {details} - "-" 0 '
            f'{len(r.body)} {r.duration_ms} {svc_time} "-" "curl/8.16.0" "{r.request_id}" '
            f'"helloworld.sample:5000" "{host}" outbound|5000||helloworld.sample.svc.cluster.local '
            f'{up_local} {vip} {client.ip}:{port} - default\n')


def proxy_log(world: World, cp: ControlPlane, client: Pod) -> str:
    """istio-proxy log of a client: agent start-up lines plus access-log lines."""
    t0 = client.created + timedelta(seconds=5)
    lines = [
        f"{ts_micro(t0)}\tinfo\tFLAG: --concurrency=\"0\"\n",
        f"{ts_micro(t0 + timedelta(milliseconds=2))}\tinfo\tVersion {client.istio_version}-"
        f"{hexid(40, 'build', client.istio_version)}-Clean\n",
        f"{ts_micro(t0 + timedelta(milliseconds=40))}\tinfo\tProxy role\tips=[{client.ip}] "
        f"type=sidecar id={client.proxy_id} domain=sample.svc.cluster.local\n",
        f"{ts_micro(t0 + timedelta(milliseconds=900))}\tinfo\txdsproxy\tconnected to upstream XDS "
        f"server: {istiod_host(cp.spec)}:15012\n",
        f"{ts_micro(t0 + timedelta(seconds=1, milliseconds=420))}\tinfo\tReadiness succeeded in 1.42s\n",
        f"{ts_micro(t0 + timedelta(seconds=1, milliseconds=421))}\tinfo\tEnvoy proxy is ready\n",
    ]
    lines += [_access_line(world, client, r) for r in simulate(world, cp, client)]
    return "".join(lines)
