"""No destructive fix on an inference.

A fix that deletes, recreates or overwrites something (a secret, a label, a webhook, a pod) is
printed only when the evidence it rests on was read, and the fix says which evidence. The
catalog marks such entries with a `guard` (what must have been read); the checks hand that
evidence over as the finding's `basis`; without it the catalog prints only how to confirm,
with read-only commands.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone
from functools import lru_cache

import pytest
import yaml

from diagnostics.catalog import DESTRUCTIVE, CatalogError, default_catalog, parse_catalog
from diagnostics.inputs import ISTIO_SECRETS, ISTIOD_PODS
from diagnostics.model import SNAPSHOT_FOLDER, ClusterInfo, Finding
from tests.check_support import run_check
from tests.scenario_support import run_live, run_snapshot, scenarios

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
GUARDED = sorted(fid for fid, e in default_catalog().entries.items() if e.destructive)


def test_the_catalog_has_destructive_fixes_and_guards_each():
    assert {"remote-secret-key-mismatch", "remote-secret-missing", "root-cert-mismatch",
            "cluster-id-collision", "proxy-disconnected"} <= set(GUARDED)
    for fid in GUARDED:
        assert default_catalog().entry(fid).guard, fid


def test_an_entry_that_destroys_without_a_guard_is_refused():
    entry = {"severity": "error", "rank": 1, "title": "t", "summary": "s", "cause": "c",
             "why": "w", "docs": "d", "fix": ["f"], "params": {"secret": "s"},
             "commands": ["kubectl delete secret {secret}"]}
    with pytest.raises(CatalogError, match="guard"):
        parse_catalog({"schema": "meshbot.catalog/v1", "findings": {"x": entry}})


def _params(fid: str) -> dict[str, str]:
    return {p: f"<{p}>" for p in default_catalog().entry(fid).params}


@pytest.mark.parametrize("fid", GUARDED)
def test_without_basis_nothing_destructive_is_printed(fid):
    rendered = default_catalog().render(Finding(fid, "c1", params=_params(fid)))
    assert not [c for c in rendered.commands if DESTRUCTIVE.search(c)], rendered.commands
    assert rendered.fix[0].startswith("meshbot could not confirm ")
    assert len(rendered.fix) == 1  # no prose step tells anyone to delete either
    assert rendered.basis == []


@pytest.mark.parametrize("fid", GUARDED)
def test_with_basis_the_fix_names_the_evidence_it_rests_on(fid):
    basis = ["cluster2 states its cluster id cluster2 (istiod CLUSTER_ID)"]
    rendered = default_catalog().render(Finding(fid, "c1", params={**_params(fid),
                                                                   "basis": basis}))
    assert any(DESTRUCTIVE.search(c) for c in rendered.commands)
    assert rendered.fix[0] == f"What these steps change rests on what meshbot read: {basis[0]}."
    assert rendered.basis == basis


@lru_cache(maxsize=1)
def _scenario_reports():
    async def run_all():
        return [(sc.name, await run_snapshot(sc)) for sc in scenarios()]
    return asyncio.run(run_all())


def test_every_destructive_fix_of_every_scenario_rests_on_evidence_in_its_report():
    """Walk every guarded finding of every scenario: either its destructive commands are
    printed with a basis the report itself shows, or none is printed and the fix says what
    to confirm. Every guarded id prints its destructive fix in at least one scenario."""
    printed = set()
    for name, report in _scenario_reports():
        shown = {line for s in report.steps for line in s.evidence}
        for f in report.findings:
            if f.id not in GUARDED:
                continue
            if not any(DESTRUCTIVE.search(c) for c in f.commands):
                assert not f.basis and f.fix[0].startswith("meshbot could not confirm"), name
                continue
            printed.add(f.id)
            assert f.basis, f"{name}: {f.id} in {f.cluster} prints a destructive fix on nothing"
            for line in f.basis:
                assert line in f.evidence or line in shown, (name, f.id, line)
            assert f.fix[0].startswith("What these steps change rests on what meshbot read")
    assert printed == set(GUARDED), set(GUARDED) - printed


# -- the failure that made this rule: a secret "mismatched" only by inference ----------------


def _secret(name: str, key: str, annotations: dict | None = None) -> dict:
    kubeconfig = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
        {"name": "c", "cluster": {"server": "https://10.0.0.2:6443"}}]})
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "istio-system",
                         "labels": {"istio/multiCluster": "true"},
                         "annotations": annotations or {}},
            "data": {key: base64.b64encode(kubeconfig.encode()).decode()}}


ISTIOD = {"metadata": {"name": "istiod-1", "namespace": "istio-system",
                       "labels": {"app": "istiod"}},
          "spec": {"containers": [{"name": "discovery",
                                   "env": [{"name": "CLUSTER_ID", "value": "cluster1"}]}]},
          "status": {"phase": "Running"}}


def _key_mismatch(secret: dict, peer: ClusterInfo) -> Finding:
    mesh = {"cluster1": {ISTIO_SECRETS: [secret], ISTIOD_PODS: [ISTIOD]},
            "cluster2": {ISTIO_SECRETS: [], ISTIOD_PODS: []}}
    steps = run_check("remote-secrets", mesh, now=NOW, infos={"cluster2": peer},
                      focus=["cluster1"])
    (finding,) = [f for s in steps for f in s.findings]
    return finding


def test_a_mismatch_inferred_from_the_only_stray_key_deletes_nothing():
    """A secret with an odd key and nothing saying it is cluster2's: meshbot may say it is
    likely cluster2's, but it must not print `kubectl delete secret` for it."""
    peer = ClusterInfo("cluster2", id_origin="istiod CLUSTER_ID (pod istio-system/istiod-2)")
    finding = _key_mismatch(_secret("east-creds", "kind-east"), peer)
    assert finding.id == "remote-secret-key-mismatch"
    rendered = default_catalog().render(finding)
    assert not [c for c in rendered.commands if "delete" in c], rendered.commands
    assert "likely meant for" in finding.evidence[0]


def test_a_mismatch_against_an_id_only_named_by_a_folder_deletes_nothing():
    """istioctl's name says the secret is cluster2's, but cluster2 never stated its id (only
    a snapshot folder calls it cluster2): the delete rests on a name, not on evidence."""
    peer = ClusterInfo("cluster2", id_origin=SNAPSHOT_FOLDER)
    secret = _secret("istio-remote-secret-cluster2", "kind-cluster2",
                     {"networking.istio.io/cluster": "cluster2"})
    rendered = default_catalog().render(_key_mismatch(secret, peer))
    assert not [c for c in rendered.commands if DESTRUCTIVE.search(c)]


def test_a_mismatch_with_both_facts_read_prints_the_delete_with_them():
    peer = ClusterInfo("cluster2", id_origin="istiod CLUSTER_ID (pod istio-system/istiod-2)")
    secret = _secret("istio-remote-secret-cluster2", "kind-cluster2",
                     {"networking.istio.io/cluster": "cluster2"})
    rendered = default_catalog().render(_key_mismatch(secret, peer))
    assert ("kubectl delete secret istio-remote-secret-cluster2 -n istio-system "
            "--context=cluster2") not in rendered.commands  # the secret lives in cluster1
    assert any(c.startswith("kubectl delete secret istio-remote-secret-cluster2") and
               "--context=cluster1" in c for c in rendered.commands)
    assert "cluster2 states its cluster id cluster2" in rendered.fix[0]


async def test_a_healthy_mesh_behind_real_context_names_is_healthy_and_deletes_nothing():
    """The reported failure, end to end: the healthy mesh served by replay under contexts
    named kind-east and gke_…; no key mismatch, no fix at all."""
    (sc,) = [s for s in scenarios() if s.name == "healthy"]
    report = await run_live(sc)
    assert report.verdict == "healthy", report.summary
    assert report.findings == []
    assert [c.context for c in report.clusters] == ["kind-east", "gke_acme_us-east1_prod-b"]
    assert [c.name for c in report.clusters] == ["cluster1", "cluster2"]
