"""Least privilege, enforced: every command's diagnosis through the kubernetes client against
`meshbot replay` that authorizes each request with the RBAC a deploy/ shape renders, as an API
server would (tests/rbac_support.py).

- The full install (deploy/, remote-reader): nothing meshbot asks for is refused.
- The install without Secret reads (overlays/no-secrets, remote-reader-no-secrets): the only
  refusals are Secrets lists in the Istio namespace; the trust answers are the same as with
  Secrets (the roots come from public certificates); the remote-secret steps are skips that say
  "not checked: this install reads no Secrets" and what istiod's own view says instead, and
  istiod's view runs from clusterz, metrics and logs; no read error is reported and no check
  fails because of it. A cause istiod's view shows is still found; one only the Secrets show
  is not guessed.
"""

from __future__ import annotations

import pytest
import yaml

from diagnostics.capture import capture
from diagnostics.catalog import DESTRUCTIVE
from diagnostics.config import Config
from diagnostics.engine import diagnose
from diagnostics.replay.responses import forbidden_message
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from diagnostics.sources.snapshot import SnapshotSource
from tests.rbac_support import EnforcingReplay
from tests.scenario_support import Scenario, comparable, run_snapshot, scenarios
from tests.test_deploy import _one_scenario_per_command, render

ISTIO_NS = "istio-system"


def _rbac(shape: str) -> list[dict]:
    return [o for o in render(shape) if o["kind"] in ("ClusterRole", "Role")]


async def _run_enforced(scenario, shape: str, tmp_path):
    servers = await EnforcingReplay(_rbac(shape)).start(scenario.snapshot_dir)
    kubeconfig = tmp_path / f"{scenario.name}.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=10)
    try:
        report = await diagnose(scenario.request.plan(), source, timeout=10, now=scenario.now)
    finally:
        await source.close()
        await servers.close()
    return report, servers


def _commands():
    return {s.name: s for s in _one_scenario_per_command()}


def _by_name(name: str):
    return next(s for s in scenarios() if s.name == name)


@pytest.mark.parametrize("shape", ["base", "remote-reader"])
async def test_the_full_install_refuses_nothing_meshbot_asks(shape, tmp_path):
    for scenario in _commands().values():
        _, servers = await _run_enforced(scenario, shape, tmp_path)
        assert servers.requests and not servers.denied, (scenario.name, servers.denied)


@pytest.mark.parametrize("shape", ["no-secrets", "remote-reader-no-secrets"])
async def test_without_secrets_only_secrets_are_refused_and_nothing_errs(shape, tmp_path):
    for scenario in _commands().values():
        report, servers = await _run_enforced(scenario, shape, tmp_path)
        assert {d for d in servers.denied} <= {("list", "", "secrets", ISTIO_NS)}, scenario.name
        assert not [e for e in report.errors if "secrets" in e.message], report.errors
        assert all(s.status != "error" for s in report.steps
                   if any("Secrets" in line for line in s.evidence)), scenario.name


@pytest.mark.parametrize("name", ["trust-healthy", "trust-root-mismatch", "root-cert-mismatch",
                                  "root-cert-expiring-critical", "trust-domain-mismatch"])
async def test_trust_answers_are_the_same_without_secrets(name, tmp_path):
    scenario = _by_name(name)
    report, servers = await _run_enforced(scenario, "no-secrets", tmp_path)
    # (Every command lists Secrets once, to learn cluster ids from remote secrets: refused here.)
    assert set(servers.denied) <= {("list", "", "secrets", ISTIO_NS)}
    expected = await run_snapshot(scenario)
    trust = [s for s in report.steps if s.check in ("root-of-trust", "trust-domain")]
    assert [(s.status, s.evidence, [f.id for f in s.findings]) for s in trust] == \
        [(s.status, s.evidence, [f.id for f in s.findings]) for s in expected.steps
         if s.check in ("root-of-trust", "trust-domain")]
    if scenario.expected["command"] == "trust":
        assert comparable(report) == comparable(expected)


NOT_CHECKED = "not checked (this install reads no Secrets)"


def _steps(report, check: str):
    return [s for s in report.steps if s.check == check]


async def test_a_healthy_mesh_without_secrets_is_healthy_from_istiods_own_view(tmp_path):
    """Every replica lists its peer as synced (naming the secret): istiod itself shows a secret
    keyed by the peer's id exists and works. The Remote secrets steps stay skips that say
    what was not checked and what istiod says instead; istiod's view runs, peer by peer."""
    report, servers = await _run_enforced(_by_name("remote-clusters-healthy"), "no-secrets",
                                          tmp_path)
    assert ("list", "", "secrets", ISTIO_NS) in servers.denied and not report.errors
    for step in _steps(report, "remote-secrets"):
        assert step.status == "skip" and not step.incomplete
        assert step.evidence[0].startswith("not checked: this install reads no Secrets in "
                                           "istio-system (the API server says: secrets is "
                                           "forbidden")
        assert "istiod reads it through istio-system/istio-remote-secret-" in step.evidence[1]
    views = _steps(report, "istiod-remote-view")
    assert [(s.cluster, s.status, s.findings) for s in views] == \
        [("cluster1", "pass", []), ("cluster2", "pass", [])]
    for step, peer in zip(views, ("cluster2", "cluster1")):
        assert f"{peer}: synced on 1 of 1 replica" in step.evidence
        assert f"{peer}: {NOT_CHECKED}: what the kubeconfig in istio-system/" \
               f"istio-remote-secret-{peer} says (its server, credentials, CA)" in step.evidence
    (ids,) = _steps(report, "cluster-ids")
    for cluster in ("cluster1", "cluster2"):
        assert f"{cluster}: {NOT_CHECKED}: whether a remote secret is keyed by istiod's own id " \
               "or by an id another secret already took" in ids.evidence
    assert report.verdict == "healthy", report.summary


async def test_a_dns_failure_is_still_found_without_secrets(tmp_path):
    """clusterz (timeout) and the log (`no such host`, naming the server) are istiod's own:
    remote-api-dns stands, its server taken from the log, and nothing destructive is printed
    (the guard asks for the secret, which was not read)."""
    report, _ = await _run_enforced(_by_name("remote-api-dns"), "no-secrets", tmp_path)
    assert report.verdict == "problem"
    assert [f.id for f in report.findings] == ["remote-api-dns", "remote-cluster-not-synced"]
    dns = report.findings[0]
    assert dns.title == ("istiod in cluster1 cannot resolve cluster2's API server name "
                         "cluster2-api.example.internal")
    assert "server as istiod's log names it: https://cluster2-api.example.internal:6443" \
        in dns.evidence
    assert dns.fix[0].startswith("meshbot could not confirm the secret istiod reads")
    assert not [c for c in dns.commands if DESTRUCTIVE.search(c)]
    (step,) = [s for s in _steps(report, "istiod-remote-view") if s.cluster == "cluster1"]
    assert f"cluster2: {NOT_CHECKED}: what the kubeconfig in istio-system/" \
           "istio-remote-secret-cluster2 says (its server, credentials, CA)" in step.evidence


@pytest.mark.parametrize("name", ["demo", "two-faults-secret-and-root"])
async def test_a_missing_secret_is_not_guessed_without_secrets(name, tmp_path):
    """No replica of cluster1's istiod reads cluster2 and istiod names no secret for it: why
    is in the Secrets. No remote-secret-missing (a guess), no remote-cluster-not-synced (it
    says istiod has the secret); the step says what it could not check, and the answer is
    never healthy."""
    report, _ = await _run_enforced(_by_name(name), "no-secrets", tmp_path)
    ids = [f.id for f in report.findings]
    assert "remote-secret-missing" not in ids and "remote-cluster-not-synced" not in ids
    (step,) = [s for s in _steps(report, "istiod-remote-view") if s.cluster == "cluster1"]
    assert step.status == "warn" and step.incomplete and not step.findings
    assert f"cluster2: {NOT_CHECKED}: whether a remote secret exists for cluster2 and what " \
           "its kubeconfig says" in step.evidence
    assert report.verdict == "problem"  # the client sees only local endpoints (or the root)
    sc = _by_name(name)
    remote = await _run_enforced(Scenario(name, sc.path, {**sc.expected, "args": [],
                                                          "command": "remote-clusters"}),
                                 "no-secrets", tmp_path)
    assert remote[0].verdict == "inconclusive"
    assert remote[0].summary.startswith("istiod in cluster1 does not read cluster2: no "
                                        "replica's clusterz lists it")
    assert "whether a secret exists, is keyed by another cluster id, or holds a kubeconfig " \
           "istiod refuses was not checked" in remote[0].summary


async def test_a_capture_without_secrets_keeps_the_refusal_and_diagnoses_alike(tmp_path):
    """`meshbot snapshot` by the install without Secret reads writes snapshot.yaml `withheld`
    with the API server's words; the snapshot then diagnoses as the live clusters did."""
    scenario = _by_name("remote-api-dns")
    servers = await EnforcingReplay(_rbac("no-secrets")).start(scenario.snapshot_dir)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=10)
    try:
        await capture(source, tmp_path / "snap")
    finally:
        await source.close()
        await servers.close()
    meta = yaml.safe_load((tmp_path / "snap" / "snapshot.yaml").read_text())
    assert set(meta["withheld"]) == {"cluster1", "cluster2"}
    assert meta["withheld"]["cluster1"] == {"secrets": forbidden_message(
        "list", "", "secrets", ISTIO_NS)}
    assert "secrets" not in meta["kinds"]["cluster1"]
    live, _ = await _run_enforced(scenario, "no-secrets", tmp_path)
    snap = await diagnose(scenario.request.plan(),
                          SnapshotSource(Snapshot.open(tmp_path / "snap")), timeout=10)
    assert [(s.check, s.status, s.evidence) for s in snap.steps
            if s.check in ("remote-secrets", "istiod-remote-view")] == \
        [(s.check, s.status, s.evidence) for s in live.steps
         if s.check in ("remote-secrets", "istiod-remote-view")]
    assert [f.id for f in snap.findings] == [f.id for f in live.findings]
