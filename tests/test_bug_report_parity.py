"""The same mesh, read as istioctl bug-report archives or as a meshbot snapshot, gets the same
diagnosis: the same verdict and the same findings, for every command, in the oldest and the
newest bug-report layout (istioctl 1.22, one `k8s-resources` list with Endpoints and Events;
istioctl 1.30, split resources without them).

The archives carry `--full-secrets` Secrets (meshbot redacts them on read): without them no
remote-secret question can be answered, which tests/test_bug_report.py covers. Where an
archive cannot hold what a finding rests on, the difference is named below and asserted as
exactly that difference. `bench/bug_report_parity.py` runs every scenario in every layout.
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from diagnostics.engine import diagnose
from diagnostics.model import Report
from diagnostics.snapshot import Snapshot
from diagnostics.sources.snapshot import SnapshotSource
from handlers.commands import parse
from tests.meshgen.bug_report import write_archives
from tests.meshgen.scenarios import build
from tests.scenario_support import scenarios

VERSIONS = ("1.22.0", "1.30.0")
SCENARIOS = {sc.name: sc for sc in scenarios()}
# Removed when the test process exits: the archives are rebuilt per run, never kept.
_ARCHIVE_ROOT = tempfile.TemporaryDirectory(prefix="meshbot-bugreport-parity-")
# One or more scenarios per command, each with its finding (or its healthy answer).
PARITY = ("healthy", "locality-expected", "remote-endpoints-unreachable", "primary-remote-healthy",
          "two-faults-secret-and-root", "remote-clusters-tls-1-28",
          "remote-clusters-kubeconfig-exec-1-28", "istiod-unhealthy-pending",
          "control-plane-external-slash-escaped", "injection-webhook-missing", "proxy-stale",
          "check-probes-fail-under-mtls", "check-deploy-refused-by-quota", "trust-root-mismatch",
          "cluster-id-collision-default")
EVERY_COMMAND = ("why-local-only helloworld -n sample", "remote-clusters", "control-plane",
                 "proxy-status -n sample", "check deploy/sleep -n sample", "check ns/sample",
                 "trust", "digest")


@lru_cache(maxsize=None)
def _archives(name: str, version: str) -> tuple[Path, ...]:
    mesh, _ = build(name)
    out = Path(tempfile.mkdtemp(prefix=f"{name}-{version}-", dir=_ARCHIVE_ROOT.name))
    return tuple(write_archives(mesh, out, version, full_secrets=True))


def _source_names(report: Report) -> dict[str, str]:
    """A cluster whose id cannot name it (shared with another) keeps its source's name: the
    folder in a snapshot, the context (`ctx-<id>` here) in an archive."""
    return {c.name: c.name.removeprefix("ctx-") for c in report.clusters}


def _findings(report: Report) -> list[tuple]:
    text = json.dumps([[f.id, f.cluster, f.resource] for f in report.findings])
    for name, plain in _source_names(report).items():
        text = text.replace(name, plain)
    return sorted(tuple(f) for f in json.loads(text))


async def _both(name: str, version: str, command: str | None = None) -> tuple[Report, Report]:
    sc = SCENARIOS[name]
    plan = (parse(command, terminal=False) if command else sc.request).plan()
    snapshot = await diagnose(plan, SnapshotSource(Snapshot.open(sc.snapshot_dir)), now=sc.now)
    archive = await diagnose(plan, SnapshotSource(Snapshot.open_many(list(
        _archives(name, version)))), now=sc.now)
    return snapshot, archive


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", PARITY)
async def test_a_scenario_read_from_archives_gets_the_snapshots_diagnosis(name, version):
    snapshot, archive = await _both(name, version)
    assert archive.verdict == snapshot.verdict, archive.summary
    assert _findings(archive) == _findings(snapshot)
    assert _findings(snapshot) or snapshot.verdict in ("healthy", "expected")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("command", EVERY_COMMAND)
async def test_every_command_reads_archives_as_it_reads_the_snapshot(command, version):
    """The demo mesh (two clusters, one fault) through every command."""
    snapshot, archive = await _both("demo", version, command)
    assert archive.verdict == snapshot.verdict, (command, archive.summary)
    assert _findings(archive) == _findings(snapshot)
    assert [c.name for c in archive.clusters] == [c.name for c in snapshot.clusters]


@pytest.mark.parametrize("version", VERSIONS)
async def test_an_application_log_is_the_one_thing_a_check_misses(version):
    """istioctl keeps no application container's log, so the start-up errors in it are not
    seen: the finding is missing, and its step says why instead of passing."""
    snapshot, archive = await _both("check-app-starts-before-proxy-previous-run", version)
    assert {f.id for f in snapshot.findings} - {f.id for f in archive.findings} \
        == {"app-starts-before-proxy"}
    assert snapshot.verdict == archive.verdict == "healthy"  # the finding is a warning
    step = next(s for s in archive.steps if s.check == "workload-startup")
    assert step.status == "skip" and "app logs not available" in step.evidence[0]
