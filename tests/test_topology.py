"""The topology picture: its graph model from real diagnoses of the scenario meshes (through the
engine and the snapshot source), the drawing by Graphviz's dot, and the terminal's -o png|svg.

The model is asserted before anything is drawn: which nodes and edges exist, in which state,
and which finding colours which element. Drawing is asserted on what a viewer needs: a PNG
that parses, an SVG that is XML, and a clear reason when dot is missing, fails or hangs.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from diagnostics.model import Report
from diagnostics.render.topology_draw import DrawError, dot_source, draw
from diagnostics.render.topology_model import ERROR, HEALTHY, Topology, build, node_id
from tests.scenario_support import run_snapshot, scenarios

REPO = Path(__file__).resolve().parents[1]
MESHBOT = [sys.executable, "-m", "bot.cli"]
BY_NAME = {s.name: s for s in scenarios()}


async def topology_of(name: str) -> tuple[Report, Topology]:
    report = await run_snapshot(BY_NAME[name])
    return report, build(report)


def reads(topo: Topology, tail: str, head: str):
    """The istiod -> cluster edge of `tail`'s istiod reading `head`."""
    return next(e for e in topo.edges if e.kind == "reads"
                and (e.tail, e.head) == (node_id("istiod", tail), node_id("cluster", head)))


def drawn_findings(topo: Topology) -> set[str]:
    return set(topo.finding_colours()) | {fid for fid, _ in topo.unplaced}


async def test_healthy_mesh_every_link_synced_with_networks_gateways_and_one_root():
    report, topo = await topology_of("topology-healthy")
    assert report.verdict == "healthy"
    assert {n.cluster for n in topo.nodes.values() if n.kind == "cluster"} == \
        {"cluster1", "cluster2"}
    for a, b in (("cluster1", "cluster2"), ("cluster2", "cluster1")):
        edge = reads(topo, a, b)
        assert (edge.state, edge.colour, edge.style) == ("synced", HEALTHY, "solid")
        assert f"istio-remote-secret-{b}" in edge.label and "synced 1/1" in edge.label
    assert topo.networks == {"cluster1": "network1", "cluster2": "network2"}
    gateways = [n for n in topo.nodes.values() if n.kind == "gateway"]
    assert sorted(n.cluster for n in gateways) == ["cluster1", "cluster2"]
    assert all("15443 TLS AUTO_PASSTHROUGH" in n.lines for n in gateways)
    assert "address 34.120.10.20" in topo.node("gateway", "cluster1").lines
    (root,) = [n for n in topo.nodes.values() if n.kind == "root"]
    assert root.colour == HEALTHY and not root.findings
    assert "data plane: sidecar (1 ns)" in topo.node("cluster", "cluster1").lines
    assert topo.node("istiod", "cluster1").lines[0] == "istiod × 1"
    assert topo.finding_colours() == {} and topo.unplaced == []


async def test_missing_remote_secret_is_the_one_broken_link_in_the_error_colour():
    report, topo = await topology_of("topology-remote-secret-missing")
    broken = reads(topo, "cluster1", "cluster2")
    assert (broken.state, broken.colour, broken.style) == ("missing", ERROR, "dashed")
    assert broken.findings == ["remote-secret-missing"]
    assert reads(topo, "cluster2", "cluster1").state == "synced"
    assert topo.finding_colours() == {"remote-secret-missing": {ERROR}}
    assert drawn_findings(topo) == {f.id for f in report.findings}


async def test_root_mismatch_draws_two_roots_the_peer_s_marked():
    report, topo = await topology_of("topology-root-cert-mismatch")
    roots = {n.id: n for n in topo.nodes.values() if n.kind == "root"}
    assert len(roots) == 2
    trusted = {e.tail: e.head for e in topo.edges if e.kind == "trusts"}
    marked = roots[trusted[node_id("cluster", "cluster2")]]
    assert marked.findings == ["root-cert-mismatch"] and marked.colour == ERROR
    assert not roots[trusted[node_id("cluster", "cluster1")]].findings
    assert all(e.state == "synced" for e in topo.edges if e.kind == "reads")
    assert topo.finding_colours() == {"root-cert-mismatch": {ERROR}}


async def test_three_primaries_six_links_one_broken():
    report, topo = await topology_of("topology-three-clusters")
    links = [e for e in topo.edges if e.kind == "reads"]
    assert len(links) == 6
    assert [(e.tail, e.head) for e in links if e.state != "synced"] == \
        [(node_id("istiod", "cluster3"), node_id("cluster", "cluster1"))]
    assert reads(topo, "cluster3", "cluster1").colour == ERROR
    assert set(topo.networks.values()) == {"network1", "network2", "network3"}
    assert drawn_findings(topo) == {"remote-secret-missing"}


@pytest.mark.parametrize("name", sorted(n for n, s in BY_NAME.items()
                                        if s.expected["command"] in
                                        ("topology", "trust", "remote-clusters")))
async def test_every_finding_of_a_mesh_wide_answer_is_drawn(name):
    """Whatever the scenario, each finding is drawn somewhere (an element or the list under
    the picture), in its severity's colour; and the picture is the same from the JSON."""
    report, topo = await topology_of(name)
    assert drawn_findings(topo) == {f.id for f in report.findings}
    again = build(Report.from_dict(report.to_dict()))
    assert again.finding_colours() == topo.finding_colours()
    assert [(e.tail, e.head, e.state) for e in again.edges] == \
        [(e.tail, e.head, e.state) for e in topo.edges]


async def test_a_why_local_only_answer_gives_the_part_it_saw():
    report, topo = await topology_of("demo")
    assert report.command == "why-local-only"
    assert reads(topo, "cluster1", "cluster2").findings == ["remote-secret-missing"]


@pytest.mark.parametrize("name,cluster", [("eastwest-gateway-pending", "cluster2"),
                                          ("eastwest-gateway-network-label", "cluster2"),
                                          ("cross-network-gateway-missing", "cluster2")])
async def test_a_why_local_only_gateway_finding_is_drawn_on_its_gateway(name, cluster):
    """The network-gateways step keeps each gateway it judged with the findings about it, so
    the broken gateway is the element in the error colour, not its whole cluster."""
    report, topo = await topology_of(name)
    (fid,) = {f.id for f in report.findings}
    gateway = topo.node("gateway", cluster)
    assert gateway.findings == [fid] and gateway.colour == ERROR
    assert fid not in topo.node("cluster", cluster).findings
    assert drawn_findings(topo) == {fid}


async def test_the_digest_picture_has_the_networks_and_their_gateways():
    """The digest describes the networks (mesh-networks) from what it reads anyway."""
    from diagnostics.engine import diagnose
    from diagnostics.snapshot import Snapshot
    from diagnostics.sources.snapshot import SnapshotSource
    from handlers.commands import parse

    demo = BY_NAME["demo"]
    report = await diagnose(parse(["digest"], terminal=False).plan(),
                            SnapshotSource(Snapshot.open(demo.snapshot_dir)))
    topo = build(report)
    assert topo.networks == {"cluster1": "network1", "cluster2": "network2"}
    gateways = sorted(n.cluster for n in topo.nodes.values() if n.kind == "gateway")
    assert gateways == ["cluster1", "cluster2"]
    assert reads(topo, "cluster1", "cluster2").findings == ["remote-secret-missing"]


# ------------------------------------------------------------------------------- drawing


async def test_png_and_svg_are_real_pictures():
    _, topo = await topology_of("topology-three-clusters")
    png = draw(topo, "png")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 300
    svg = ET.fromstring(draw(topo, "svg"))
    assert svg.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
    assert "! remote-secret-missing" in texts and "network network3" in texts
    assert "legend" in texts


async def test_dot_source_quotes_cluster_names_graphviz_would_misread():
    _, topo = await topology_of("remote-clusters-external-healthy")
    source = dot_source(topo)
    assert '"cluster|prod/remote1"' in source
    ET.fromstring(draw(topo, "svg"))  # a name with `/` still lays out


def fake_dot(tmp_path: Path, body: str) -> str:
    script = tmp_path / "dot"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize("body, reason", [
    (None, "not found"),
    ("echo 'Error: syntax error in line 1' >&2; exit 1", "dot failed (exit 1): Error: syntax"),
    ("exec sleep 30", "took longer than 0.5s"),
    ("echo not-a-picture", "dot failed (exit 0)"),
])
async def test_a_missing_failing_or_hung_dot_says_why(tmp_path, monkeypatch, body, reason):
    _, topo = await topology_of("topology-healthy")
    exe = fake_dot(tmp_path, body) if body else str(tmp_path / "absent")
    monkeypatch.setenv("MESHBOT_DOT", exe)
    with pytest.raises(DrawError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        draw(topo, "png", timeout=0.5)


# ------------------------------------------------------------------------------ terminal


def meshbot(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "NO_COLOR": "1", **env}
    full.pop("MESHBOT_SNAPSHOT", None)
    return subprocess.run(MESHBOT + list(args), cwd=REPO, capture_output=True, timeout=120,
                          env=full)


def test_terminal_writes_the_picture_with_the_verdict_s_exit_code(tmp_path):
    snapshot = str(BY_NAME["topology-remote-secret-missing"].snapshot_dir)
    out = tmp_path / "mesh.png"
    proc = meshbot("mesh", "topology", "--snapshot", snapshot, "-o", "png", "--out", str(out))
    assert proc.returncode == 1, proc.stderr  # a problem, as with text
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"wrote {out}" in proc.stderr.decode()
    piped = meshbot("mesh", "topology", "--snapshot", snapshot, "-o", "svg")
    assert piped.returncode == 1 and b"<svg" in piped.stdout[:1000]


def test_terminal_without_dot_is_a_clear_usage_error(tmp_path):
    snapshot = str(BY_NAME["topology-healthy"].snapshot_dir)
    proc = meshbot("mesh", "topology", "--snapshot", snapshot, "-o", "png", "--out",
                   str(tmp_path / "x.png"), MESHBOT_DOT=str(tmp_path / "absent"))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "no picture: Graphviz's dot was not found" in err
    assert "-o text" in err and "Traceback" not in err and not (tmp_path / "x.png").exists()
    text = meshbot("mesh", "topology", "--snapshot", snapshot,
                   MESHBOT_DOT=str(tmp_path / "absent"))
    assert text.returncode == 0 and b"Networks and east-west gateways" in text.stdout


async def test_ambient_mesh_shows_its_data_plane_and_hbone_gateways():
    report, topo = await topology_of("topology-ambient")
    assert report.verdict == "healthy"
    for cluster in ("cluster1", "cluster2"):
        assert "data plane: ambient (1 ns)" in topo.node("cluster", cluster).lines
        assert "15008 HBONE Terminate" in topo.node("gateway", cluster).lines
    assert all(e.state == "synced" for e in topo.edges if e.kind == "reads")
