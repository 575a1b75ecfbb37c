"""The topology picture in Slack: drawn off the event loop after the text is posted.

`/mesh topology` always gets it; the `why-local-only`, `remote-clusters` and `trust` answers
get it when a multicluster finding explains them (a picture of a healthy mesh adds nothing to
a green answer); the morning digest posts it beside its trend chart. Drawing runs dot in a
worker thread with a deadline (diagnostics/render/topology_draw.py); whatever goes wrong
there is logged with its reason and the picture is left out: the text answer never waits for
it and never depends on it.
"""

from __future__ import annotations

import asyncio

from bot import logs
from diagnostics.model import Report

log = logs.get("meshbot.pictures")
TOPOLOGY_FILE = "mesh-topology.png"
ATTACHED_TO = ("why-local-only", "remote-clusters", "trust")
# The findings that are about the mesh's shape: a link between clusters, a network's gateway,
# the trust the clusters share. DESIGN.md C3 names them.
MULTICLUSTER_IDS = frozenset({
    "remote-secret-missing", "remote-secret-key-mismatch", "remote-cluster-not-synced",
    "remote-api-unreachable", "remote-api-dns", "remote-api-tls", "remote-api-unauthorized",
    "remote-kubeconfig-invalid", "istiod-egress-blocked-by-networkpolicy",
    "istiod-remote-missing", "cluster-id-collision", "root-cert-mismatch",
    "trust-domain-mismatch", "root-cert-expiring", "eastwest-gateway-missing",
    "eastwest-gateway-pending", "eastwest-gateway-network-label",
    "cross-network-gateway-missing", "pod-network-unset", "system-namespace-network-label",
    "remote-endpoints-unreachable", "ambient-eastwest-gateway-invalid",
    "ambient-multinetwork-disabled", "ztunnel-network-gateway-unknown",
    "ztunnel-network-unset"})


def wants_picture(report: Report) -> bool:
    """`topology` always; the answers about the mesh's links when one of them is broken."""
    if report.command == "topology":
        return True
    return report.command in ATTACHED_TO and any(f.id in MULTICLUSTER_IDS
                                                 for f in report.findings)


def _draw(report: Report) -> bytes:
    from diagnostics.render.topology_draw import draw
    from diagnostics.render.topology_model import build

    return draw(build(report), "png")


async def topology_png(report: Report) -> bytes | None:
    """The picture, drawn in a worker thread; None (and the reason logged) when it cannot be."""
    from diagnostics.render.topology_draw import DrawError

    try:
        return await asyncio.to_thread(_draw, report)
    except DrawError as exc:
        log.warning("picture_omitted", command=report.command, reason=str(exc))
    except Exception:  # noqa: BLE001 - a picture must never cost the answer
        log.exception("picture_failed", command=report.command)
    return None
