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
from diagnostics.catalog import default_catalog
from diagnostics.model import Report

log = logs.get("meshbot.pictures")
TOPOLOGY_FILE = "mesh-topology.png"
ATTACHED_TO = ("why-local-only", "remote-clusters", "trust")
def wants_picture(report: Report) -> bool:
    """`topology` always; the answers about the mesh's links when one of them is broken: a
    finding the catalog marks `topology: true`."""
    if report.command == "topology":
        return True
    if report.command not in ATTACHED_TO:
        return False
    catalog = default_catalog()
    return any(f.id in catalog.entries and catalog.entry(f.id).topology
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
