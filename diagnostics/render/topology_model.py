"""The mesh as a graph, built from a report alone: what the topology picture draws.

No second diagnosis: every node and edge comes from the report's clusters, its steps' data
(the checks keep there what they saw: remote-secret edges, each replica's sync state, networks
and gateways, trust roots) and its findings. A finding is drawn on the element its step's data
names it on (a remote-secret edge, a trust root, a gateway); one its step does not place is
drawn on its cluster (on the istiod node for the control plane's checks), or listed under the
picture when it names no cluster. Colours follow the finding's severity in the Okabe-Ito
palette, which stays distinct for the common colour-vision deficiencies; line style and the
finding id written beside each element say the same without colour.

Pure data: diagnostics/render/topology_draw.py turns it into DOT and a PNG or SVG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from diagnostics.model import SEVERITY_ORDER, Report

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common deficiency.
ERROR, WARNING, INFO = "#D55E00", "#E69F00", "#0072B2"  # vermillion, orange, blue
HEALTHY, UNKNOWN, NEUTRAL = "#009E73", "#999999", "#000000"  # bluish green, grey, black
SEVERITY_COLOURS = {"error": ERROR, "warning": WARNING, "info": INFO}
LEGEND = (("error finding", ERROR, "dashed"), ("warning finding", WARNING, "dashed"),
          ("info finding", INFO, "solid"), ("reads, synced", HEALTHY, "solid"),
          ("state not known", UNKNOWN, "dotted"))

CONTROL_PLANE_CHECKS = {"istiod-health", "istiod-remote-view", "webhooks",
                        "external-control-plane"}  # their unplaced findings go on istiod
MAX_REPLICAS_NAMED = 3  # more are counted, not named: the picture stays readable


@dataclass
class Node:
    """One element: a cluster, its istiod, an east-west gateway, a trust root, or a cluster
    the mesh names but that was not read."""

    id: str
    kind: str  # cluster | istiod | gateway | root | unread
    lines: list[str]
    cluster: str | None = None  # the cluster box it is drawn in
    findings: list[str] = field(default_factory=list)
    colour: str = NEUTRAL


@dataclass
class Edge:
    """istiod reading a cluster (kind `reads`, or `config` for an external istiod's config
    cluster), or a cluster trusting a root (kind `trusts`)."""

    tail: str
    head: str
    kind: str
    label: str
    state: str  # present | synced | not-synced | missing | key-mismatch | config | unknown | trusts
    findings: list[str] = field(default_factory=list)
    colour: str = HEALTHY
    style: str = "solid"


@dataclass
class Topology:
    """The graph: cluster boxes grouped by network, edges between their elements."""

    title: str
    verdict: str
    clusters: dict[str, str]  # cluster name -> how the picture labels its box
    networks: dict[str, str | None]  # cluster name -> network (None: not known)
    nodes: dict[str, Node]
    edges: list[Edge]
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # (finding id, severity)

    def node(self, kind: str, cluster: str | None) -> Node | None:
        return next((n for n in self.nodes.values() if n.kind == kind and n.cluster == cluster),
                    None)

    def finding_colours(self) -> dict[str, set[str]]:
        """Every finding id drawn, with the colours it is drawn in (for tests and the legend)."""
        out: dict[str, set[str]] = {}
        for element in [*self.nodes.values(), *self.edges]:
            for fid in element.findings:
                out.setdefault(fid, set()).add(element.colour)
        return out


def node_id(kind: str, cluster: str | None, extra: str = "") -> str:
    """A DOT node id: never with `:` (DOT reads `a:b` as node a, port b)."""
    return "|".join(p for p in (kind, cluster or "mesh", extra) if p).replace(":", "_")


class _Builder:
    """Walks the report once; keeps the severities of its findings for the colours."""

    def __init__(self, report: Report):
        self.report = report
        self.severity = {(f.id, f.cluster): f.severity for f in report.findings}
        self.by_id = {f.id: f.severity for f in report.findings}
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.unplaced: list[tuple[str, str]] = []

    # -- colours ----------------------------------------------------------------------------

    def worst(self, ids: Iterable[str], cluster: str | None = None) -> str | None:
        sevs = [self.severity.get((i, cluster)) or self.by_id.get(i) or "error" for i in ids]
        return min(sevs, key=lambda s: SEVERITY_ORDER[s]) if sevs else None

    def mark(self, element: Node | Edge, ids: Iterable[str], cluster: str | None) -> None:
        """Add finding ids to an element; its colour becomes the worst one's."""
        new = [i for i in ids if i not in element.findings]
        element.findings += new
        sev = self.worst(element.findings, cluster)
        if sev:
            element.colour = SEVERITY_COLOURS[sev]
            if isinstance(element, Edge):
                element.style = "dashed" if sev != "info" else element.style

    # -- elements ---------------------------------------------------------------------------

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def cluster_node(self, name: str) -> Node:
        return self.add(Node(node_id("cluster", name), "cluster", [name], name))

    def istiod(self, cluster: str) -> Node:
        return self.add(Node(node_id("istiod", cluster), "istiod", ["istiod"], cluster))

    def edge(self, tail: str, head: str, kind: str) -> Edge:
        found = next((e for e in self.edges if (e.tail, e.head, e.kind) == (tail, head, kind)),
                     None)
        if found is None:
            found = Edge(tail, head, kind, "", "unknown", colour=UNKNOWN, style="dotted")
            self.edges.append(found)
        return found


def build(report: Report) -> Topology:
    """The graph of a report: whatever its steps saw (a `trust` answer has no gateways, a
    `why-local-only` answer only the networks its service spans)."""
    b = _Builder(report)
    labels = {c.name: c.label for c in report.clusters}
    for c in report.clusters:
        b.cluster_node(c.name).lines = [c.label] + ([] if c.reachable else ["not reachable"])
    networks: dict[str, str | None] = {c.name: None for c in report.clusters}
    placed_by_step: list[set[str]] = []
    for step in report.steps:
        placed_by_step.append(_place(b, step.check, step.cluster, step.data, networks))
    for i, step in enumerate(report.steps):
        for f in report.step_findings(i):
            if f.id not in placed_by_step[i]:
                _fallback(b, step.check, f.cluster or step.cluster, f.id, f.severity)
    return Topology(f"{report.command} · {report.verdict} · {report.generated_at}", report.verdict,
                    labels, networks,
                    b.nodes, b.edges, b.unplaced)


def _place(b: _Builder, check: str, cluster: str | None, data: dict[str, Any],
           networks: dict[str, str | None]) -> set[str]:
    """Draw what one step's data says; the finding ids it placed."""
    placed: set[str] = set()
    if check == "mesh-membership":
        _membership(b, data)
    elif check == "istiod-health" and cluster and data.get("replicas"):
        b.istiod(cluster).lines = [f"istiod × {data['replicas']}",
                                   f"{data.get('serving', 0)} serving"
                                   + (f" · {', '.join(data['versions'])}"
                                      if data.get("versions") else "")]
    elif check == "remote-secrets" and cluster:
        for peer in data.get("peers") or []:
            placed |= _secret_edge(b, cluster, peer)
    elif check == "istiod-remote-view" and cluster:
        placed |= _view(b, cluster, data)
    elif check in ("mesh-networks", "network-gateways"):
        networks.update({c: n for c, n in (data.get("networks") or {}).items() if c in networks})
        for gw in data.get("gateways") or []:
            placed |= _gateway(b, gw)
    elif check == "root-of-trust":
        for i, group in enumerate(data.get("root_groups") or []):
            placed |= _root(b, i, group)
    elif check == "trust-domain":
        for c, about in (data.get("trust_domains") or {}).items():
            node = b.cluster_node(c)
            node.lines.append(f"trust domain {about.get('domain')}")
            b.mark(node, about.get("findings") or [], c)
            placed |= set(about.get("findings") or [])
    return placed


def _membership(b: _Builder, data: dict[str, Any]) -> None:
    for c, counts in (data.get("data_planes") or {}).items():
        used = [f"{mode} ({n} ns)" for mode, n in sorted(counts.items()) if n]
        b.cluster_node(c).lines.append("data plane: " + (" + ".join(used) or "none enrolled"))
    for name in data.get("unread") or []:
        b.add(Node(node_id("unread", name), "unread", [name, "named by the mesh, not read"],
                   None, colour=UNKNOWN))


def _secret_edge(b: _Builder, cluster: str, peer: dict[str, Any]) -> set[str]:
    """A primary's istiod -> a peer, as the remote secret sets it up."""
    head = _peer_node(b, peer)
    edge = b.edge(b.istiod(cluster).id, head, "config" if peer.get("state") == "config"
                  else "reads")
    state = peer.get("state") or "unknown"
    secret = (peer.get("secret") or "").rsplit("/", 1)[-1]
    edge.label = {"config": f"config cluster ({secret})", "present": secret,
                  "missing": "no remote secret"}.get(state, f"{state} ({secret})")
    if edge.state == "unknown":  # istiod's view, when the report has it, says more
        edge.state = state
        if state in ("present", "config"):
            edge.colour, edge.style = HEALTHY, "solid"
    b.mark(edge, peer.get("findings") or [], cluster)
    return set(peer.get("findings") or [])


def _view(b: _Builder, cluster: str, data: dict[str, Any]) -> set[str]:
    """The replicas of a primary, and each one's state for each peer."""
    replicas = list(data.get("replicas") or [])
    if not replicas and not data.get("peers"):
        return set()  # no istiod here (a remote), or nothing asked of it
    node = b.istiod(cluster)
    if replicas and node.lines == ["istiod"]:
        node.lines = [f"istiod × {len(replicas)}"]
    named = replicas[:MAX_REPLICAS_NAMED]
    more = len(replicas) - len(named)
    node.lines += named + ([f"+{more} more"] if more else [])
    placed: set[str] = set()
    for peer in data.get("peers") or []:
        edge = b.edge(node.id, _peer_node(b, peer), "reads")
        statuses = dict(peer.get("status") or {})
        synced = sum(1 for s in statuses.values() if s == "synced")
        edge.state = "synced" if statuses and synced == len(statuses) else \
            "not-synced" if statuses else "unknown"
        others = sorted({s for s in statuses.values() if s != "synced"})
        edge.label = " · ".join(p for p in (edge.label, f"synced {synced}/{len(statuses)}"
                                            + (f" ({', '.join(others)})" if others else ""))
                                if p)
        edge.colour, edge.style = (HEALTHY, "solid") if edge.state == "synced" else \
            (UNKNOWN, "dotted")
        b.mark(edge, peer.get("findings") or [], cluster)
        placed |= set(peer.get("findings") or [])
    return placed


def _peer_node(b: _Builder, peer: dict[str, Any]) -> str:
    name = str(peer.get("peer"))
    return node_id("cluster", name) if node_id("cluster", name) in b.nodes else \
        b.add(Node(node_id("unread", name), "unread", [name, "not read"], colour=UNKNOWN)).id


def _gateway(b: _Builder, gw: dict[str, Any]) -> set[str]:
    cluster = str(gw.get("cluster"))
    node = b.add(Node(node_id("gateway", cluster, str(gw.get("service"))), "gateway", [], cluster))
    address = gw.get("address") or ("<pending>" if gw.get("type") == "LoadBalancer"
                                     else gw.get("type") or "no address")
    node.lines = ["east-west gateway", f"{str(gw.get('service')).rsplit('/', 1)[-1]}",
                  f"address {address}", *(gw.get("listeners") or ["no cross-network listener"])]
    b.mark(node, gw.get("findings") or [], cluster)
    return set(gw.get("findings") or [])


def _root(b: _Builder, index: int, group: dict[str, Any]) -> set[str]:
    prints = group.get("fingerprints") or []
    short = prints[0][:11] + "…" + prints[0][-5:] if prints else "?"
    node = b.add(Node(node_id("root", None, str(index + 1)), "root", [
        f"root of trust {index + 1}", *(group.get("subjects") or [])[:1], short
        + (f" (+{len(prints) - 1})" if len(prints) > 1 else "")], colour=HEALTHY))
    for c in group.get("clusters") or []:
        edge = b.edge(b.cluster_node(c).id, node.id, "trusts")
        edge.label, edge.state, edge.colour, edge.style = "", "trusts", UNKNOWN, "solid"
    b.mark(node, group.get("findings") or [], None)
    return set(group.get("findings") or [])


def _fallback(b: _Builder, check: str, cluster: str | None, fid: str, severity: str) -> None:
    """A finding no step data placed: on its cluster (its istiod for the control plane's
    checks), or under the picture."""
    if cluster is None or node_id("cluster", cluster) not in b.nodes:
        if (fid, severity) not in b.unplaced:
            b.unplaced.append((fid, severity))
        return
    node = b.istiod(cluster) if check in CONTROL_PLANE_CHECKS else b.cluster_node(cluster)
    b.mark(node, [fid], cluster)
