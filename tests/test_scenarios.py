"""Every scenario snapshot gives its expected diagnosis, and the live path gives the same report.

The expected diagnosis (expected.yaml) is written by the scenario's author from the meaning of
each finding id, not from meshbot's output; scenarios that need checks which have not landed
yet are strict xfails (see PENDING_IDS), so they fail loudly the day they start passing.
"""

from __future__ import annotations

import pytest

from diagnostics.parse import k8s_lists
from diagnostics.snapshot import Snapshot
from tests.scenario_support import (Scenario, comparable, real_context_names, run_live,
                                    run_snapshot, scenarios)

ALL = scenarios()


def _params(items: list[Scenario]):
    for sc in items:
        marks = []
        if sc.pending:
            marks.append(pytest.mark.xfail(strict=True, reason="needs checks not landed yet: "
                                           + ", ".join(sorted(sc.pending))))
        yield pytest.param(sc, id=sc.name, marks=marks)


def test_there_are_scenarios():
    assert len(ALL) >= 10


@pytest.mark.parametrize("scenario", list(_params(ALL)))
async def test_scenario_diagnosis(scenario: Scenario):
    report = await run_snapshot(scenario)
    exp = scenario.expected
    produced = [f.id for f in report.findings]
    assert report.verdict == exp["verdict"], report.summary
    assert set(produced) == set(exp.get("findings") or []), produced
    if exp.get("first"):
        assert produced[0] == exp["first"], produced
    if exp.get("first_cluster"):
        assert report.findings[0].cluster == exp["first_cluster"]
    if exp["verdict"] == "healthy":
        assert not [f for f in report.findings if f.severity == "error"]
    failing = {s.check for s in report.steps if s.status in ("fail", "warn")}
    assert failing == set(exp["failing"]), [(s.check, s.status) for s in report.steps]


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name) for s in ALL])
async def test_live_source_through_replay_matches_snapshot_source(scenario: Scenario,
                                                                   monkeypatch):
    """The contract of the two sources: same facts, hence the very same report, although the
    kubeconfig names every context unlike the cluster ids (as real ones are named). Every list
    is decoded in batches as it arrives (k8s_lists.ListReader), however small."""
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 1)
    from_files = comparable(await run_snapshot(scenario))
    over_http = await run_live(scenario)
    assert over_http.api_calls > 0
    contexts = real_context_names(Snapshot.open(scenario.snapshot_dir))
    assert comparable(over_http, {c: f for f, c in contexts.items()}) == from_files
