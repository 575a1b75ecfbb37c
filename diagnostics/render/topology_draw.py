"""The topology graph drawn: DOT written with the graphviz binding, laid out by Graphviz's dot.

Graphviz places the boxes (networks holding clusters, each cluster holding its istiod and
gateways) and routes the edges; nothing here places coordinates. The binding writes the DOT
with Graphviz's own quoting; dot itself runs as a subprocess with a deadline, so a missing or
hung dot costs the picture, never the answer (`DrawError` says why, for the log).

`MESHBOT_DOT` names the dot executable when it is not `dot` on PATH.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess

from diagnostics.render.topology_model import (HEALTHY, LEGEND, NEUTRAL, SEVERITY_COLOURS,
                                               UNKNOWN, Edge, Node, Topology)

DOT_TIMEOUT = 20.0  # seconds: a 10-cluster mesh lays out in well under one
FORMATS = ("png", "svg")
FONT = "Liberation Sans"  # fonts-liberation2, installed beside graphviz
SHAPES = {"cluster": "box", "istiod": "ellipse", "gateway": "box", "root": "note",
          "unread": "box"}
STACK = ("istiod", "cluster", "gateway")  # top to bottom inside a cluster's box
ROW = 4  # cluster boxes side by side before the next row
LABELLED_UP_TO = 2  # clusters up to which healthy links carry their secret and sync labels
COLLAPSE_ABOVE = 3  # clusters above which healthy links are counted on istiod, not drawn
PNG_MAGIC, SVG_TAG = b"\x89PNG\r\n\x1a\n", b"<svg"


class DrawError(Exception):
    """The picture could not be drawn (no dot, dot failed or took too long)."""


def dot_source(topo: Topology) -> str:
    """The DOT text of the picture."""
    import graphviz  # loaded when a picture is drawn, not with every command

    g = graphviz.Digraph("mesh", graph_attr={
        "rankdir": "TB", "fontname": FONT, "fontsize": "20", "labelloc": "t", "labeljust": "l",
        "label": f"Mesh topology · {topo.title}", "nodesep": "0.35", "ranksep": "1.1",
        "compound": "true", "newrank": "true", "pad": "0.3", "bgcolor": "white", "dpi": "96"},
        node_attr={"fontname": FONT, "fontsize": "14", "style": "filled",
                   "fillcolor": "white", "penwidth": "1.5"},
        edge_attr={"fontname": FONT, "fontsize": "13", "penwidth": "2"})
    quiet = len(topo.clusters) > LABELLED_UP_TO
    if len(topo.clusters) > COLLAPSE_ABOVE:
        topo = copy.deepcopy(topo)  # the model stays whole; only the drawing is condensed
        edges = _collapsed(topo)
    else:
        edges = topo.edges
    by_cluster: dict[str | None, list[Node]] = {}
    for node in topo.nodes.values():
        by_cluster.setdefault(node.cluster, []).append(node)
    for network in dict.fromkeys(topo.networks.get(c) for c in topo.clusters):
        members = [c for c in topo.clusters if topo.networks.get(c) == network]
        if network is None:
            for c in members:
                _cluster_box(g, topo, c, by_cluster.get(c, []))
            continue
        with g.subgraph(name=f"cluster_net_{network}") as net:
            net.attr(label=f"network {network}", style="dashed,rounded", color="#555555",
                     fontsize="16", fontcolor="#333333")
            for c in members:
                _cluster_box(net, topo, c, by_cluster.get(c, []))
    with g.subgraph(name="roots") as bottom:  # trust roots under the clusters they serve
        bottom.attr(rank="max")
        for node in by_cluster.get(None, []):
            _node(bottom, node)
    for edge in edges:
        _edge(g, edge, quiet, grid=len(topo.clusters) > ROW)
    _rows(g, topo, by_cluster)
    _legend(g, topo)
    return g.source


def _cluster_box(g, topo: Topology, cluster: str, nodes: list[Node]) -> None:
    with g.subgraph(name=f"cluster_k8s_{cluster}") as box:
        box.attr(label="", style="rounded,filled", fillcolor="#F4F4F4", color="#BBBBBB")
        ordered = sorted(nodes, key=_stack)
        for node in ordered:
            _node(box, node)
        for upper, lower in zip(ordered, ordered[1:]):  # istiod above its cluster, gateways below
            box.edge(upper.id, lower.id, style="invis", weight="10")


def _label(lines: list[str], findings: list[str]) -> str:
    return "\n".join([*lines, *[f"! {fid}" for fid in findings]])


def _node(g, node: Node) -> None:
    flagged = bool(node.findings)
    attrs = {"shape": SHAPES.get(node.kind, "box"), "color": node.colour,
             "penwidth": "3" if flagged else "1.5",
             "fontcolor": node.colour if flagged else NEUTRAL}
    if node.kind == "cluster":
        attrs.update(style="filled,bold", fontsize="15")
    if node.kind == "gateway":
        attrs.update(style="filled,rounded", fillcolor="#E8F1F8")
    if node.kind == "unread":
        attrs.update(style="filled,dashed", fontcolor=UNKNOWN)
    g.node(node.id, _label(node.lines, node.findings), **attrs)


def _healthy(edge: Edge) -> bool:
    return not edge.findings and edge.state in ("synced", "present", "config", "trusts")


def _collapsed(topo: Topology) -> list[Edge]:
    """A large mesh without its healthy edges (ten primaries read each other over ninety):
    each istiod says how many peers it reads in sync, each cluster which root it trusts, and
    only the edges that are broken or unknown are drawn."""
    kept = []
    for edge in topo.edges:
        if not _healthy(edge):
            kept.append(edge)
            continue
        tail, head = topo.nodes[edge.tail], topo.nodes[edge.head]
        if edge.kind == "trusts":
            tail.lines.append(head.lines[0])
        else:
            tail.lines.append(f"reads {head.cluster or head.lines[0]}: {edge.state}")
    for node in topo.nodes.values():  # `reads cluster2: synced` x 9 -> one line
        reads = [line for line in node.lines if line.startswith("reads ")]
        if len(reads) > 1 and all(line.endswith(": synced") for line in reads):
            node.lines = [line for line in node.lines if line not in reads] + \
                [f"reads {len(reads)} peers, all synced"]
    return kept


def _rows(g, topo: Topology, by_cluster: dict[str | None, list[Node]]) -> None:
    """More than ROW clusters wrap into rows (invisible edges from one box's bottom to the top
    of the box a row below), so ten clusters stay a picture Slack's preview can show."""
    boxes = [sorted(by_cluster[c], key=_stack) for c in topo.clusters if by_cluster.get(c)]
    for upper, lower in zip(boxes, boxes[ROW:]):
        g.edge(upper[-1].id, lower[0].id, style="invis", weight="20")


def _stack(node: Node) -> int:
    return STACK.index(node.kind) if node.kind in STACK else 9


def _edge(g, edge: Edge, quiet: bool = False, grid: bool = False) -> None:
    """An edge, labelled unless the mesh is large and the edge is healthy (the legend says
    what green means; the broken link keeps its label and id)."""
    flagged = bool(edge.findings)
    if quiet and not flagged and edge.state in ("synced", "present", "trusts"):
        edge = Edge(edge.tail, edge.head, edge.kind, "", edge.state, [], edge.colour,
                    edge.style)
    attrs = {"color": edge.colour, "style": edge.style,
             "fontcolor": edge.colour if flagged else "#333333"}
    if grid:  # rows of boxes are laid out by the boxes; links cross them as they must
        attrs["constraint"] = "false"
    if edge.kind == "trusts":
        attrs.update(arrowhead="none", penwidth="1")
    if flagged:
        attrs["penwidth"] = "3.5"
    g.edge(edge.tail, edge.head, _label([edge.label] if edge.label else [], edge.findings),
           **attrs)


def _legend(g, topo: Topology) -> None:
    rows = "".join(
        f'<TR><TD><FONT COLOR="{colour}" POINT-SIZE="18">'
        f'{"━ ━" if style == "dashed" else "┄┄┄" if style == "dotted" else "━━━"}'
        f'</FONT></TD><TD ALIGN="LEFT">{text}</TD></TR>' for text, colour, style in LEGEND)
    unplaced = "".join(
        f'<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT COLOR="{SEVERITY_COLOURS[sev]}">! {fid} '
        f'(mesh-wide)</FONT></TD></TR>' for fid, sev in topo.unplaced)
    label = (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2">'
             f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>{rows}'
             f'<TR><TD COLSPAN="2" ALIGN="LEFT">! finding id, drawn where it is</TD></TR>'
             f'{unplaced}</TABLE>>')
    g.node("legend", label, shape="box", style="rounded", color="#BBBBBB")


def dot_executable() -> str | None:
    return os.environ.get("MESHBOT_DOT") or shutil.which("dot")


def draw(topo: Topology, fmt: str = "png", *, timeout: float = DOT_TIMEOUT) -> bytes:
    """The picture as PNG or SVG bytes; raises DrawError with the reason it could not be."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    exe = dot_executable()
    if not exe:
        raise DrawError("Graphviz's dot is not installed (apt-get install graphviz)")
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=dot_source(topo).encode(),
                              capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DrawError(f"Graphviz's dot was not found at {exe}") from None
    except PermissionError:
        raise DrawError(f"{exe} cannot be run") from None
    except subprocess.TimeoutExpired:
        raise DrawError(f"dot took longer than {timeout:g}s") from None
    if done.returncode != 0 or not _looks_like(fmt, done.stdout):
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise DrawError(f"dot failed (exit {done.returncode}): {reason[0][:200]}")
    return done.stdout


def _looks_like(fmt: str, body: bytes) -> bool:
    return body.startswith(PNG_MAGIC) if fmt == "png" else SVG_TAG in body[:2048]


__all__ = ["DrawError", "FORMATS", "draw", "dot_source", "HEALTHY"]
