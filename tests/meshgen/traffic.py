"""A short, deterministic request loop from a client sidecar to helloworld.

Only scenarios that need data-plane evidence (access logs, Envoy admin stats) use it. Requests
go round-robin over the priority-0 endpoints the client received from istiod; a request that
lands on a gateway the client cannot reach fails with `UF` after the 10 s connect timeout, and
is retried on another host unless a VirtualService turned retries off (Istio's default retry
policy retries connect failures on a different host).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tests.meshgen.config_dump import Assignment, LbEndpoint, assignments
from tests.meshgen.istiod_view import ControlPlane
from tests.meshgen.naming import at, uid
from tests.meshgen.topology import Pod, World

TARGET = "helloworld.sample.svc.cluster.local"
REQUESTS = 10
CONNECT_TIMEOUT_MS = 10000


@dataclass
class Request:
    start: object
    first: LbEndpoint              # host the load balancer picked first
    final: LbEndpoint              # host that answered (or failed)
    failed: bool                   # 503 UF
    retried: bool
    duration_ms: int
    body: str
    request_id: str


def helloworld_assignment(cp: ControlPlane, pod: Pod) -> Assignment | None:
    return next((a for a in assignments(cp, pod) if a.service.hostname == TARGET), None)


def _unreachable(world: World, client: Pod, ep: LbEndpoint) -> bool:
    if not ep.gateway:
        return False
    target = next((c for c in world.mesh.clusters if c.gateway_ip == ep.address), None)
    return target is not None and (client.cluster, target.id) in world.mesh.blocked_paths


def _instance(world: World, ep: LbEndpoint) -> str:
    """Which helloworld pod answers behind an endpoint (a gateway forwards to its cluster)."""
    for cw in world.clusters.values():
        if ep.gateway and cw.spec.gateway_ip == ep.address:
            pod = next(p for p in cw.pods if p.labels.get("app") == "helloworld" and p.ready)
            return pod.name
        for p in cw.pods:
            if p.ip == ep.address:
                return p.name
    return "unknown"


def simulate(world: World, cp: ControlPlane, client: Pod) -> list[Request]:
    a = helloworld_assignment(cp, client)
    if a is None or not a.groups:
        return []
    hosts = [ep for g in a.groups if g.priority == 0 for ep in g.endpoints]
    retries = TARGET not in world.clusters[client.cluster].spec.retries_off_for
    out = []
    start = at(22 * 60 + 55)
    for i in range(REQUESTS):
        if out:   # a sequential curl loop: the next request starts after the previous ends
            start = out[-1].start + timedelta(milliseconds=out[-1].duration_ms + 1000 + 113 * i)
        first = hosts[i % len(hosts)]
        final, failed, retried, dur = first, False, False, 3 + (i * 7) % 11
        if _unreachable(world, client, first):
            others = [h for h in hosts if h is not first and not _unreachable(world, client, h)]
            if retries and others:
                final, retried, dur = others[0], True, CONNECT_TIMEOUT_MS + dur
            else:
                failed, dur = True, CONNECT_TIMEOUT_MS + 1
        version = "v1"
        name = _instance(world, final)
        if "-v2-" in name:
            version = "v2"
        body = ("upstream connect error or disconnect/reset before headers. reset reason: "
                "connection timeout" if failed else f"Hello version: {version}, instance: {name}\n")
        out.append(Request(start, first, final, failed, retried, dur, body,
                           uid("request", client.proxy_id, i)))
    return out
