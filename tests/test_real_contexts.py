"""From outside, as a new user meets meshbot: the demo mesh served by `meshbot replay` under
kubeconfig contexts named as real ones are, and read through one context or all of them.

The failure that made this suite: contexts named kind-east and gke_… were taken for cluster
ids, a healthy remote secret was reported mismatched with a fix that deleted it, and the one
cluster of the current context answered the broken demo mesh `healthy`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from diagnostics.replay.runner import ReplayThread
from tests.test_cli import REPO, assert_clean_usage_error, meshbot

DEMO = REPO / "examples" / "demo-mesh"
CONTEXTS = {"cluster1": "kind-east", "cluster2": "gke_acme_us-east1_prod-b"}
ASK = ("mesh", "why-local-only", "helloworld", "-n", "sample", "-o", "json")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory):
    with ReplayThread(DEMO, contexts=CONTEXTS) as replay:
        yield replay.write_kubeconfig(tmp_path_factory.mktemp("real") / "kubeconfig")


def _ask(*args: str) -> tuple[dict, subprocess.CompletedProcess]:
    proc = meshbot(*ASK, *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout), proc


def test_every_context_answers_as_the_snapshot_does(kubeconfig: Path):
    live, proc = _ask("--kubeconfig", str(kubeconfig))
    snap, _ = _ask("--snapshot", str(DEMO))
    assert proc.returncode == 1
    assert [f["id"] for f in live["findings"]] == [f["id"] for f in snap["findings"]] == \
        ["remote-secret-missing"]
    assert [(c["name"], c["context"], c["cluster_id"]) for c in live["clusters"]] == [
        ("cluster1", "kind-east", "cluster1"), ("cluster2", "gke_acme_us-east1_prod-b",
                                                "cluster2")]
    fix = live["findings"][0]["commands"]
    assert ("istioctl create-remote-secret --context=gke_acme_us-east1_prod-b --name=cluster2 "
            "| kubectl apply --context=kind-east -f -") in fix
    text = " ".join(meshbot(*ASK[:-2], "--kubeconfig", str(kubeconfig)).stdout.split())
    assert "clusters: cluster1 (context kind-east), cluster2 (context gke_acme_us-east1_prod-b)" \
        in text  # wrapped to the terminal's width


def test_no_context_is_mistaken_for_a_cluster_id_on_a_healthy_secret(kubeconfig: Path):
    """cluster2's secret for cluster1 is healthy: no key mismatch, nothing deleted."""
    live, _ = _ask("--kubeconfig", str(kubeconfig), "--cluster", "cluster2")
    assert "remote-secret-key-mismatch" not in [f["id"] for f in live["findings"]]
    assert not [c for f in live["findings"] for c in f["commands"] if "delete" in c]


def test_the_context_of_the_broken_cluster_alone_is_a_problem(kubeconfig: Path):
    report, proc = _ask("--kubeconfig", str(kubeconfig), "--context", "kind-east")
    assert report["verdict"] == "problem" and proc.returncode == 1
    assert [f["id"] for f in report["findings"]] == ["istiod-reads-no-remote-cluster"]


def test_the_other_context_alone_is_never_healthy(kubeconfig: Path):
    report, proc = _ask("--kubeconfig", str(kubeconfig), "--context", "gke_acme_us-east1_prod-b")
    assert report["verdict"] == "inconclusive" and proc.returncode == 3
    assert "the mesh also names cluster1" in report["summary"]
    assert "--context" in report["summary"]


def test_cluster_may_be_named_by_id_or_by_context(kubeconfig: Path):
    by_id, _ = _ask("--kubeconfig", str(kubeconfig), "--cluster", "cluster1")
    by_context, _ = _ask("--kubeconfig", str(kubeconfig), "--cluster", "kind-east")
    assert [f["id"] for f in by_id["findings"]] == [f["id"] for f in by_context["findings"]]
    proc = meshbot(*ASK, "--kubeconfig", str(kubeconfig), "--cluster", "cluster9")
    assert_clean_usage_error(proc, "unknown cluster cluster9; the clusters read are: cluster1 "
                                   "(context kind-east), cluster2 (context "
                                   "gke_acme_us-east1_prod-b)")


def test_a_config_file_maps_contexts_to_ids_and_a_wrong_name_is_reported(kubeconfig: Path,
                                                                         tmp_path: Path):
    config = tmp_path / "meshbot.yaml"
    config.write_text(yaml.safe_dump({"clusters": [
        {"name": "cluster1", "context": "kind-east"},
        {"name": "west", "context": "gke_acme_us-east1_prod-b"}]}))
    proc = meshbot("mesh", "remote-clusters", "-o", "json", "--kubeconfig", str(kubeconfig),
                   "--config", str(config))
    report = json.loads(proc.stdout)
    ids = [f["id"] for f in report["findings"]]
    assert ids.count("cluster-name-mismatch") == 1 and "remote-secret-key-mismatch" not in ids
    named = [c for c in report["clusters"] if c["name"] == "west"]
    assert named and named[0]["cluster_id"] == "cluster2"


def test_replay_refuses_a_malformed_context_name():
    proc = meshbot("replay", str(DEMO), "--context-name", "cluster9=x")
    assert proc.returncode == 2 and "no cluster 'cluster9'" in proc.stderr
