"""Least privilege, enforced: every command's diagnosis through the kubernetes client against
`meshbot replay` that authorizes each request with the RBAC a deploy/ shape renders, as an API
server would (tests/rbac_support.py).

- The full install (deploy/, remote-reader): nothing meshbot asks for is refused.
- The install without Secret reads (overlays/no-secrets, remote-reader-no-secrets): the only
  refusals are Secrets lists in the Istio namespace; the trust answers are the same as with
  Secrets (the roots come from public certificates); the remote-secret steps are skips that say
  "not checked: this install reads no Secrets" and point at istiod's own view, which still runs;
  no read error is reported and no check fails because of it.
"""

from __future__ import annotations

import pytest
import yaml

from diagnostics.config import Config
from diagnostics.engine import diagnose
from diagnostics.sources.factory import live_source
from tests.rbac_support import EnforcingReplay
from tests.scenario_support import comparable, run_snapshot, scenarios
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


@pytest.mark.parametrize("name", ["remote-clusters-healthy", "demo"])
async def test_remote_secret_steps_say_what_they_could_not_check(name, tmp_path):
    """Without Secrets the steps built on remote secrets are skips that say why and where
    istiod's own list is; the answer is never "healthy" (a step could not look), and never a
    read error."""
    scenario = _by_name(name)
    report, servers = await _run_enforced(scenario, "no-secrets", tmp_path)
    assert ("list", "", "secrets", ISTIO_NS) in servers.denied
    secret_steps = [s for s in report.steps if s.check in ("remote-secrets", "istiod-remote-view")]
    assert secret_steps and all(s.status == "skip" for s in secret_steps)
    for step in secret_steps:
        (line,) = step.evidence
        assert line.startswith("not checked: this install reads no Secrets in istio-system")
        assert 'cannot list resource \"secrets\"' in line  # the API server's own words
        assert line.endswith("(its /debug/clusterz): `istioctl remote-clusters`")
    assert not report.errors
    if name == "demo":  # the cause (no remote secret) is out of sight; the symptom is not
        assert report.verdict == "problem"
        assert [f.id for f in report.findings] == ["only-local-endpoints"]
    else:
        assert report.verdict == "inconclusive"
