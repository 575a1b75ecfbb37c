"""How checks run: views derived from facts are built once per diagnosis and shared, yet every
check still declares (and is recorded as reading) what they are built from; a step that could
not see everything is never a pass; and checks run off the event loop, so the bot keeps
serving while a large mesh is checked."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from diagnostics.catalog import default_catalog
from diagnostics.checking import CheckContext, CheckSpec, UndeclaredInput
from diagnostics.engine import Plan, diagnose
from diagnostics.facts import Fact, Unavailable
from diagnostics.inputs import ISTIOD_PODS, SYNCZ
from diagnostics.model import ClusterInfo
from diagnostics.sources.snapshot import SnapshotSource

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-mesh"


def _ctx(spec: CheckSpec, shared: dict) -> CheckContext:
    return CheckContext(spec, {}, {}, [], datetime(2026, 11, 21, tzinfo=timezone.utc),
                        default_catalog(), shared=shared)


def test_a_derived_view_is_built_once_and_counts_as_read_by_every_check():
    builds = []
    first = CheckSpec("first", "First", (SYNCZ, ISTIOD_PODS), (), lambda ctx: [])
    second = CheckSpec("second", "Second", (SYNCZ,), (), lambda ctx: [])
    shared: dict = {}
    a, b = _ctx(first, shared), _ctx(second, shared)
    view_a = a.derived("view", (SYNCZ,), lambda: builds.append(1) or ["parsed"])
    view_b = b.derived("view", (SYNCZ,), lambda: builds.append(1) or ["again"])
    assert view_a is view_b and builds == [1]
    assert a.reads == {SYNCZ} and b.reads == {SYNCZ}


def test_a_derived_view_over_undeclared_inputs_is_refused():
    spec = CheckSpec("narrow", "Narrow", (SYNCZ,), (), lambda ctx: [])
    with pytest.raises(UndeclaredInput):
        _ctx(spec, {}).derived("view", (SYNCZ, ISTIOD_PODS), lambda: "built")


def test_separate_diagnoses_do_not_share_views():
    spec = CheckSpec("one", "One", (SYNCZ,), (), lambda ctx: [])
    assert _ctx(spec, {}).derived("v", (SYNCZ,), lambda: "first") == "first"
    assert _ctx(spec, {}).derived("v", (SYNCZ,), lambda: "second") == "second"


async def test_checks_run_while_the_event_loop_keeps_serving():
    """A large mesh's checks take CPU seconds; Slack acks must not wait for them. The check
    below blocks until the event loop has run a task after the check started, which it can
    only do if checks run off the loop."""
    started, loop_ran = threading.Event(), threading.Event()
    seen = {}

    def blocking_check(ctx):
        started.set()
        seen["loop_ran"] = loop_ran.wait(timeout=5)
        return []

    async def loop_task():
        while not started.is_set():
            await asyncio.sleep(0.005)
        loop_ran.set()

    probe = asyncio.create_task(loop_task())
    plan = Plan("probe", {}, [CheckSpec("blocking", "Blocking", (), (), blocking_check)])
    await diagnose(plan, SnapshotSource.open(DEMO))
    await probe
    assert seen["loop_ran"]


AMBIENT = Path(__file__).resolve().parent / "scenarios" / "ambient-healthy" / "snapshot"


@pytest.mark.parametrize("picker, predicate, inp, mesh", [
    ("uncaptured_ambient", "enrolled_in", "UNCAPTURED_AMBIENT_PODS", AMBIENT),
    ("proxy_pods", "syncz_census", "PROXY_PODS", DEMO),
    ("client_pool", "_not_ready_in_slices", "CLIENT_POOL", DEMO),
    ("ambient_namespace_pods", "ambient_in", "AMBIENT_NAMESPACE_PODS", DEMO)])
async def test_pod_pickers_walk_the_pods_while_the_event_loop_keeps_serving(
        monkeypatch, picker, predicate, inp, mesh):
    """A picker walks every pod (or every listed proxy) of a cluster, 20,000 on a big mesh, to
    name the few read whole; the bot's acks must not wait for that. Its per-pod work blocks
    below until the event loop has run a task, which it can only do off the loop."""
    from diagnostics import inputs, pods_fetch

    started, loop_ran = threading.Event(), threading.Event()
    seen = []
    real = getattr(pods_fetch, predicate)

    def blocking(*args, **kwargs):
        started.set()
        seen.append(loop_ran.wait(timeout=5))
        return real(*args, **kwargs)

    monkeypatch.setattr(pods_fetch, predicate, blocking)

    async def loop_task():
        while not started.is_set():
            await asyncio.sleep(0.005)
        loop_ran.set()

    probe = asyncio.create_task(loop_task())
    read = getattr(inputs, inp)
    spec = CheckSpec("probe", "Probe", (read,), (), lambda ctx: [])
    args = {"service": "helloworld", "namespace": "sample"}
    await diagnose(Plan("probe", args, [spec]), SnapshotSource.open(mesh))
    await probe
    assert seen and all(seen), picker


@pytest.mark.parametrize("captured, status", [(True, "error"), (False, "skip")])
def test_an_incomplete_step_without_findings_is_not_a_pass(captured, status):
    """cluster2 could not be read (or a snapshot lacks it): nothing was found, yet that is no
    evidence of health."""
    def compare(ctx):
        evidence = []
        for cluster in ("cluster1", "cluster2"):
            try:
                evidence.append(f"{cluster}: {ctx.get(SYNCZ, cluster)}")
            except Unavailable as exc:
                evidence.append(f"{cluster}: {exc.reason}")
        step = ctx.step("Compare", None, evidence, [])
        step.incomplete = len(evidence) > 1 and "down" in evidence[1]
        return [step]

    spec = CheckSpec("compare", "Compare", (SYNCZ,), (), compare)
    facts = {("cluster1", SYNCZ): Fact(value="ok"),
             ("cluster2", SYNCZ): Fact(missing=Unavailable("cluster2", "syncz", "down",
                                                           captured=captured))}
    ctx = CheckContext(spec, facts, {}, [ClusterInfo("cluster1"), ClusterInfo("cluster2")],
                       datetime(2026, 11, 21, tzinfo=timezone.utc), default_catalog())
    (step,) = ctx.settle(spec.func(ctx))
    assert step.status == status and step.incomplete
