"""istiod (`discovery`) and sidecar (`istio-proxy`) container logs.

istiod lines use the text layout of docs/istio-surface.md §3.3
(`time TAB level TAB [scope TAB] message [TAB labels]`) and the secret-controller wordings of §3.4
for the cluster's istiod version. Sidecar logs hold Istio's default access-log format and are
written only when the mesh config turns access logging on, as on a live cluster.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.meshgen.certs import intermediate_ca
from tests.meshgen.config_dump import sidecar_clusters
from tests.meshgen.control_plane_knobs import istiod_host
from tests.meshgen.istiod_view import PUSH_TIME, ControlPlane, merged_services
from tests.meshgen.k8s_objects import root_cert
from tests.meshgen.naming import hexid, number, ts_micro, ts_milli
from tests.meshgen.remote_secrets import SecretResult, failing_informers, list_error
from tests.meshgen.topology import ISTIO_NS, Pod, World
from tests.meshgen.traffic import Request, simulate


def _client_go(version: tuple[int, int]) -> str:
    return {22: "v0.30.0", 23: "v0.31.0", 24: "v0.31.2", 25: "v0.32.1", 26: "v0.33.0",
            27: "v0.33.3", 28: "v0.34.1", 29: "v0.34.2"}.get(version[1], "v0.34.1")


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[datetime, int, str]] = []

    def add(self, t: datetime, level: str, msg: str, scope: str = "", labels: str = "") -> None:
        text = f"{ts_micro(t)}\t{level}\t" + (f"{scope}\t" if scope else "") + msg
        if labels:
            text += f"\t{labels}"
        self.lines.append((t, len(self.lines), text))

    def text(self) -> str:
        return "".join(line + "\n" for _t, _i, line in sorted(self.lines))


def _secret_lines(log: _Log, cp: ControlPlane, t: datetime, s: SecretResult, count: int) -> int:
    v = cp.version
    ref = f"{ISTIO_NS}/{s.secret}"
    master = v >= (1, 31)
    labels = f"cluster={s.key} " + (f"config={ref}" if master else f"secret={ref}")
    log.add(t, "info", f"processing remote config event for {ref}" if master
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
        inner = "error adding remote config" if master else "error adding secret"
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
    klog = f"k8s.io/client-go@{_client_go(cp.version)}/tools/cache/reflector.go:290"
    for r in rounds:
        for i, (typ, path, resource, group) in enumerate(failing_informers(s.outcome)):
            at = t + timedelta(seconds=r, microseconds=61 * i + 17)
            err = f"failed to list {typ}: " + list_error(s.outcome, s.server, path, resource, group, dns)
            log.add(at, "info", f"{klog}: {err}", scope="klog")
            log.add(at + timedelta(microseconds=25), "error", f"watch error in cluster {s.key}: {err}")
    timeout_at = t + timedelta(seconds=30, milliseconds=6)
    if cp.version >= (1, 15):
        log.add(timeout_at, "error", f"remote cluster {s.key} failed to sync after 30s")
    else:
        log.add(timeout_at, "error", "remote clusters failed to sync after 30s")


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
    return log.text()


def _ads_lines(log: _Log, cp: ControlPlane, replica: Pod) -> None:
    proxies = cp.proxies.get(replica.name, [])
    services = merged_services(cp)
    router_clusters = 3 + sum(len(m.primary.spec.ports) for m in services)
    n_eds = sum(len(m.primary.spec.ports) for m in services if not m.primary.spec.headless)
    for i, pod in enumerate(proxies):
        n_clusters = router_clusters
        if pod.proxy_type == "sidecar":
            n_clusters = len(sidecar_clusters(cp, pod))
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
