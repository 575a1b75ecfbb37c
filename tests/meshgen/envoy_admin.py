"""A sidecar's own Envoy admin `/clusters?format=json` (snake_case, docs/istio-surface.md §2.3).

Host statistics come from the same simulated request loop as the access log, so a gateway the
client cannot reach shows `cx_connect_fail` counting up next to the 503 `UF` lines.
"""

from __future__ import annotations

from tests.meshgen.config_dump import assignments
from tests.meshgen.istiod_view import ControlPlane
from tests.meshgen.topology import Pod, World
from tests.meshgen.traffic import TARGET, simulate

_THRESHOLDS = {"thresholds": [
    {"max_connections": 4294967295, "max_pending_requests": 4294967295,
     "max_requests": 4294967295, "max_retries": 4294967295},
    {"priority": "HIGH", "max_connections": 1024, "max_pending_requests": 1024,
     "max_requests": 1024, "max_retries": 3}]}


def _stats(counts: dict[str, int]) -> list[dict]:
    out = []
    for name in ("cx_connect_fail", "cx_total", "rq_error", "rq_success", "rq_timeout", "rq_total"):
        s: dict = {"name": name}
        if counts.get(name):
            s["value"] = str(counts[name])
        out.append(s)
    out += [{"type": "GAUGE", "name": "cx_active"}, {"type": "GAUGE", "name": "rq_active"}]
    return out


def clusters_json(world: World, cp: ControlPlane, client: Pod) -> dict:
    counts: dict[tuple[str, int], dict[str, int]] = {}
    for r in simulate(world, cp, client):
        first = counts.setdefault((r.first.address, r.first.port), {})
        if r.failed or r.retried:
            first["cx_connect_fail"] = first.get("cx_connect_fail", 0) + 1
            first["cx_total"] = first.get("cx_total", 0) + 1
            first["rq_total"] = first.get("rq_total", 0) + (0 if r.retried else 1)
            first["rq_error"] = first.get("rq_error", 0) + (0 if r.retried else 1)
        final = counts.setdefault((r.final.address, r.final.port), {})
        if not r.failed:
            for k in ("cx_total", "rq_total", "rq_success"):
                final[k] = final.get(k, 0) + 1
    statuses = []
    for a in assignments(cp, client):
        hosts = []
        for g in a.groups:
            for ep in g.endpoints:
                h: dict = {"address": {"socket_address": {"address": ep.address,
                                                          "port_value": ep.port}},
                           "stats": _stats(counts.get((ep.address, ep.port), {})
                                           if a.service.hostname == TARGET else {}),
                           "health_status": {"eds_health_status":
                                             "UNHEALTHY" if ep.healthy is False else "HEALTHY"},
                           "weight": ep.weight}
                loc = {k: v for k, v in (("region", g.region), ("zone", g.zone)) if v}
                if loc:
                    h["locality"] = loc
                if g.priority:
                    h["priority"] = g.priority
                hosts.append(h)
        statuses.append({"name": a.cluster_name, "added_via_api": True,
                         "circuit_breakers": _THRESHOLDS, "observability_name": a.cluster_name,
                         "eds_service_name": a.cluster_name, "host_statuses": hosts})
    return {"cluster_statuses": statuses}
