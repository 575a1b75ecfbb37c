"""Scenarios of the `proxy-status` and `check` commands: the healthy base plus one workload knob.

`expected` states what a perfect diagnosis reports, decided from the meanings of the finding ids
in DESIGN.md C3. The `check` scenarios add a small shop to cluster1 (namespace `shop`:
payload-api behind Service payload-api, an nginx web-frontend calling it, with mesh-wide STRICT
mTLS, HTTP probes and access logging on), on Istio 1.26 so sidecars are classic containers.
"""

from __future__ import annotations

from tests.meshgen.model import (Mesh, ServicePort, ServiceSpec, WorkloadSpec, default_mesh,
                                 primary_remote_mesh)
from tests.meshgen.scenarios import CAPTURED, Expected, _versions, scenario
from tests.meshgen.workload_knobs import PeerAuthSpec, WorkloadKnobs

SHOP = "shop"


def _proxy_status(description: str, verdict: str, findings: list[str],
                  cluster: str | None = None, args: list[str] | None = None) -> Expected:
    return Expected(description, verdict, findings, findings[0] if findings else None, cluster,
                    command="proxy-status", args=list(args or []), now=CAPTURED)


def _unready(exp: Expected) -> Expected:
    """The target's pods are not Ready: the target step warns beside the cause's step."""
    exp.also_failing.append("workload-target")
    return exp


def _check(description: str, verdict: str, findings: list[str], args: list[str],
           first: str | None = None, cluster: str | None = "cluster1") -> Expected:
    first = first or (findings[0] if findings else None)
    return Expected(description, verdict, findings, first, cluster if findings else None,
                    command="check", args=args)


# ------------------------------------------------------------------------------ the shop


def payload_api(**knobs) -> WorkloadSpec:
    defaults = {"probes": True, "app_log": True}
    return WorkloadSpec("payload-api", "payload-api", "v1",
                        "registry.example.com/shop/payload-api:2.3.1", 8080, "payload-api",
                        namespace=SHOP, replicas=2, knobs=WorkloadKnobs(**{**defaults, **knobs}))


def web_frontend(**knobs) -> WorkloadSpec:
    defaults = {"calls": ("payload-api", 8080)}
    return WorkloadSpec("web-frontend", "web-frontend", "v1", "docker.io/library/nginx:1.27", 80,
                        "web-frontend", namespace=SHOP,
                        knobs=WorkloadKnobs(**{**defaults, **knobs}))


def service(name: str, *ports: ServicePort, headless: bool = False) -> ServiceSpec:
    return ServiceSpec(name, SHOP, list(ports), {"app": name}, labels={"app": name},
                       headless=headless)


def shop_mesh(payload: WorkloadSpec | None = None, frontend: WorkloadSpec | None = None,
              api_port: ServicePort | None = None) -> Mesh:
    """default_mesh on Istio 1.26, with the shop in cluster1 and mesh-wide STRICT mTLS."""
    mesh = _versions(default_mesh(), "1.26.3")
    c1 = mesh.cluster("cluster1")
    c1.access_log = True
    c1.apps.peer_authentications = [PeerAuthSpec("default", "istio-system", "STRICT")]
    c1.workloads += [payload or payload_api(), frontend or web_frontend()]
    c1.services += [service("payload-api", api_port or ServicePort("http", 8080, 8080)),
                    service("web-frontend", ServicePort("http", 80, 80))]
    return mesh


def statsd_relay() -> tuple[WorkloadSpec, ServiceSpec]:
    w = WorkloadSpec("statsd-relay", "statsd-relay", None, "docker.io/statsd/statsd:v0.10.2",
                     8125, "statsd-relay", namespace=SHOP, knobs=WorkloadKnobs(udp=True))
    return w, service("statsd-relay", ServicePort("udp-statsd", 8125, 8125, protocol="UDP"))


def ledger_db() -> tuple[WorkloadSpec, ServiceSpec]:
    w = WorkloadSpec("ledger-db", "ledger-db", None, "docker.io/library/postgres:17.2", 5432,
                     "ledger-db", namespace=SHOP, replicas=2,
                     knobs=WorkloadKnobs(kind="StatefulSet"))
    return w, service("ledger-db", ServicePort("tcp-postgres", 5432, 5432), headless=True)


def audit_export() -> tuple[WorkloadSpec, ServiceSpec]:
    w = WorkloadSpec("audit-export", "audit-export", None,
                     "registry.example.com/shop/audit-export:0.9.0", 9090, "audit-export",
                     namespace=SHOP, knobs=WorkloadKnobs(
                         injected=False, pod_labels={"sidecar.istio.io/inject": "false"}))
    return w, service("audit-export", ServicePort("http-metrics", 9090, 9090))


def _add(mesh: Mesh, *pairs: tuple[WorkloadSpec, ServiceSpec]) -> Mesh:
    c1 = mesh.cluster("cluster1")
    for w, s in pairs:
        c1.workloads.append(w)
        c1.services.append(s)
    return mesh


# ------------------------------------------------------------------------------ proxy-status


@scenario("proxy-status-healthy")
def proxy_status_healthy():
    return default_mesh(), _proxy_status(
        "Every sidecar and gateway of both clusters is listed by its cluster's istiod, every "
        "subscribed type SYNCED, proxies and istiods on 1.28.1.", "healthy", [])


@scenario("proxy-status-primary-remote-healthy")
def proxy_status_primary_remote():
    return primary_remote_mesh(), _proxy_status(
        "Primary-remote: cluster2 runs no istiod; its proxies appear in cluster1's syncz with "
        "cluster_id cluster2, so none of them is disconnected.", "healthy", [])


@scenario("proxy-stale")
def proxy_stale():
    mesh = default_mesh()
    mesh.cluster("cluster2").workload("sleep").knobs = WorkloadKnobs(
        stale_types=("cluster", "endpoint"))
    return mesh, _proxy_status(
        "cluster2's sleep proxy never acknowledged the 08:43 push of CDS and EDS (sent ≠ acked "
        "in syncz, sentTime 08:43): STALE for 17 minutes at the diagnosis clock.", "problem",
        ["proxy-stale"], "cluster2")


@scenario("proxy-stale-istio-1-22")
def proxy_stale_122():
    mesh = _versions(default_mesh(), "1.22.8")
    mesh.cluster("cluster1").workload("helloworld-v1").knobs = WorkloadKnobs(
        stale_types=("listener",))
    return mesh, _proxy_status(
        "istiod 1.22 (syncz without `resources`, so no sentTime): helloworld-v1's LDS is STALE; "
        "how long comes from the push version in the nonce (2026-11-20T08:43:00Z/31).",
        "problem", ["proxy-stale"], "cluster1", ["-n", "sample"])


@scenario("proxy-disconnected")
def proxy_disconnected():
    mesh = primary_remote_mesh()
    mesh.cluster("cluster2").workload("helloworld-v2").knobs = WorkloadKnobs(connected=False)
    return mesh, _proxy_status(
        "Primary-remote: cluster2's helloworld-v2 pod runs its sidecar, but no istiod replica "
        "lists it (cluster1's syncz has cluster2's sleep and gateway only).", "problem",
        ["proxy-disconnected"], "cluster2")


@scenario("proxy-version-skew")
def proxy_version_skew():
    mesh = default_mesh()
    mesh.cluster("cluster2").workload("helloworld-v2").knobs = WorkloadKnobs(
        proxy_version="1.26.4")
    return mesh, _proxy_status(
        "cluster2's helloworld-v2 was injected with proxy 1.26.4 and never restarted after istiod "
        "moved to 1.28.1: two minor versions apart. A warning, so the verdict stays healthy.",
        "healthy", ["proxy-version-skew"], "cluster2", ["-n", "sample"])


# ------------------------------------------------------------------------------ check: healthy


@scenario("check-healthy-deploy")
def check_healthy_deploy():
    return default_mesh(), _check(
        "helloworld-v1 (cluster1 only) has its native sidecar, completed istio-init, no probes "
        "and an `http` port: nothing to report.", "healthy", [],
        ["deploy/helloworld-v1", "-n", "sample"])


@scenario("check-healthy-namespace")
def check_healthy_namespace():
    return default_mesh(), _check(
        "Namespace sample in both clusters (helloworld and sleep): every workload injected, "
        "named ports, no probes: nothing to report.", "healthy", [], ["ns/sample"])


@scenario("check-healthy-shop")
def check_healthy_shop():
    return shop_mesh(), _check(
        "The shop under mesh-wide STRICT mTLS on classic sidecars: payload-api's HTTP probes are "
        "rewritten to the agent's port 15020, its log starts cleanly, web-frontend calls it with "
        "HTTP/1.1 (200 in its access log), every port is named: no finding at all.", "healthy",
        [], ["ns/shop"])


# ------------------------------------------------------------------------------ check: one id each


@scenario("check-sidecar-not-injected")
def check_not_injected():
    mesh = shop_mesh(payload_api(injected=False,
                                 pod_labels={"sidecar.istio.io/inject": "false"}))
    return mesh, _check(
        "payload-api's pod template carries sidecar.istio.io/inject=false, so the webhook skips "
        "its pods although namespace shop is labelled istio-injection=enabled.", "problem",
        ["sidecar-not-injected"], ["svc/payload-api", "-n", "shop"])


@scenario("check-app-starts-before-proxy")
def check_start_race():
    mesh = shop_mesh(payload_api(start_race=True))
    return mesh, _check(
        "payload-api on a classic sidecar without holdApplicationUntilProxyStarts: it crashed "
        "once and its log starts with `connection refused` to its database before connecting. "
        "A warning, so the verdict stays healthy.", "healthy", ["app-starts-before-proxy"],
        ["deploy/payload-api", "-n", "shop"])


@scenario("check-app-starts-before-proxy-previous-run")
def check_start_race_recovered():
    mesh = shop_mesh(payload_api(start_race=True, race_recovered=True))
    return mesh, _check(
        "payload-api crashed at start with `connection refused` to its database and came up "
        "cleanly on its restart: the current log is clean, only the crashed run's log "
        "(kubectl logs --previous) shows that the app started before its proxy.", "healthy",
        ["app-starts-before-proxy"], ["deploy/payload-api", "-n", "shop"])


@scenario("check-probes-fail-under-mtls")
def check_probes():
    payload = payload_api(rewrite_probes=False)
    payload.ready = False
    return shop_mesh(payload), _unready(_check(
        "payload-api sets sidecar.istio.io/rewriteAppHTTPProbers: \"false\"; its HTTP probes "
        "hit port 8080, where mesh-wide STRICT mTLS makes the sidecar reset the kubelet's plain "
        "connections: not ready, restarted by the liveness probe, Unhealthy events.", "problem",
        ["probes-fail-under-mtls"], ["deploy/payload-api", "-n", "shop"]))


@scenario("check-port-protocol-ambiguous")
def check_port_ambiguous():
    mesh = shop_mesh(api_port=ServicePort("api", 8080, 8080))
    return mesh, _check(
        "Service payload-api names its port `api`: no protocol prefix, no appProtocol, so Istio "
        "sniffs (IST0118). A warning.", "healthy", ["port-protocol-ambiguous"],
        ["svc/payload-api", "-n", "shop"])


@scenario("check-udp-port-not-proxied")
def check_udp():
    mesh = _add(shop_mesh(), statsd_relay())
    return mesh, _check(
        "statsd-relay listens on UDP 8125 (Service port udp-statsd, protocol UDP): the sidecar "
        "does not carry it. A warning.", "healthy", ["udp-port-not-proxied"],
        ["svc/statsd-relay", "-n", "shop"])


@scenario("check-istio-init-blocked")
def check_init_blocked():
    payload = payload_api(init_blocked=True)
    payload.ready = False
    mesh = shop_mesh(payload)
    mesh.cluster("cluster1").apps.namespace_labels[SHOP] = {
        "istio-injection": "enabled", "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted"}
    return mesh, _unready(_check(
        "A policy engine drops all capabilities in namespace shop (also labelled for restricted "
        "Pod Security warnings): payload-api's istio-init lacks NET_ADMIN/NET_RAW, iptables-restore "
        "is refused (`Permission denied (you must be root)`), Init:CrashLoopBackOff.", "problem",
        ["istio-init-blocked"], ["deploy/payload-api", "-n", "shop"]))


@scenario("check-app-tls-under-strict-mtls")
def check_app_tls():
    payload = payload_api(probes=False)
    payload.container_port = 8443
    mesh = shop_mesh(payload, web_frontend(calls=None), ServicePort("https", 8443, 8443))
    return mesh, _check(
        "payload-api serves its own TLS on 8443 (Service port `https`) while mesh-wide STRICT "
        "mTLS applies: clients outside the mesh are refused. A warning.", "healthy",
        ["app-tls-under-strict-mtls"], ["svc/payload-api", "-n", "shop"])


@scenario("check-headless-service-statefulset")
def check_headless():
    mesh = _add(shop_mesh(), ledger_db())
    return mesh, _check(
        "ledger-db is a StatefulSet of 2 behind the headless Service ledger-db (clusterIP None, "
        "port tcp-postgres): members are addressed one by one. Informational.", "healthy",
        ["headless-service-statefulset"], ["svc/ledger-db", "-n", "shop"])


@scenario("check-http10-upstream-426")
def check_http10():
    mesh = shop_mesh(frontend=web_frontend(http10=True))
    return mesh, _check(
        "web-frontend is nginx with its default `proxy_pass` (HTTP/1.0 upstream): its sidecar "
        "answers every call to payload-api:8080 with 426 Upgrade Required (http1.low_version).",
        "problem", ["http10-upstream-426"], ["deploy/web-frontend", "-n", "shop"])


@scenario("check-namespace-shop")
def check_namespace():
    mesh = shop_mesh(frontend=web_frontend(http10=True), api_port=ServicePort("api", 8080, 8080))
    _add(mesh, statsd_relay(), ledger_db(), audit_export())
    return mesh, _check(
        "check ns/shop over six workloads: audit-export opts out of injection (error, first), "
        "web-frontend speaks HTTP/1.0 (426), payload-api's port `api` is ambiguous, statsd-relay "
        "is UDP, ledger-db is a headless StatefulSet; the other checks stay quiet.", "problem",
        ["sidecar-not-injected", "http10-upstream-426", "port-protocol-ambiguous",
         "udp-port-not-proxied", "headless-service-statefulset"], ["ns/shop"])
