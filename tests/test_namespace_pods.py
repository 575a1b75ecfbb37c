"""Which of a namespace's pods `check ns/<namespace>` reads whole (diagnostics/namespace_pods.py),
told from each pod's metadata and its `kubectl get pods` row, as text in, plan out.

Rows carry the cells kube-apiserver prints for pods (kubernetes pkg/printers/internalversion/
printers.go printPod: NAME, READY, STATUS, RESTARTS, AGE, IP, NODE, NOMINATED NODE, READINESS
GATES; RESTARTS is `5 (3m ago)` since Kubernetes 1.22).
"""

from __future__ import annotations

import datetime as dt

import pytest

from diagnostics import namespace_pods
from diagnostics.engine import diagnose
from diagnostics.namespace_pods import Plan, plan_reads
from diagnostics.replay.printers import POD
from diagnostics.snapshot import Snapshot
from diagnostics.sources.snapshot import SnapshotSource
from handlers.commands import parse
from tests.scenario_support import comparable, scenarios

OWNER = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d4b7c", "uid": "u1",
          "controller": True}]


def meta(name: str, created: str, **extra) -> dict:
    """A pod as a metadata-only list gives it (labels and owner alike for a workload's
    replicas)."""
    metadata = {"name": name, "namespace": "shop", "creationTimestamp": created,
                "labels": {"app": "web", "pod-template-hash": "6d4b7c"},
                "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
                "ownerReferences": OWNER, **extra}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata}


def row(name: str, ready: str = "2/2", status: str = "Running", restarts: object = "0",
        gates: str = "<none>") -> dict:
    cells = [name, ready, status, restarts, "3d", "10.0.0.1", "node-a", "<none>", gates]
    return dict(zip([c.name for c in POD.columns], cells))


def web(n: int) -> tuple[list[dict], list[dict]]:
    names = [f"web-6d4b7c-{i:04d}" for i in range(n)]
    return ([meta(p, f"2026-12-0{1 + i % 3}T10:00:00Z") for i, p in enumerate(names)],
            [row(p) for p in names])


def test_settled_replicas_are_one_class_read_by_their_oldest_and_newest():
    pods, rows = web(9)
    plan = plan_reads(pods, rows, set())
    # created on the 1st, 2nd and 3rd, by thirds: the first made first, the last made last
    assert plan == Plan([], [("web-6d4b7c-0000", "web-6d4b7c-0008", 9)])
    assert plan.names == ["web-6d4b7c-0000", "web-6d4b7c-0008"]


@pytest.mark.parametrize("unsettled", [
    {"ready": "1/2"}, {"status": "CrashLoopBackOff", "ready": "1/2"}, {"restarts": "1 (4m ago)"},
    {"restarts": 2}, {"status": "Init:0/1", "ready": "0/2"}, {"gates": "0/1"},
    {"status": "Terminating"}, {"ready": "0/0"},
])
def test_a_pod_whose_row_is_not_settled_is_read_itself(unsettled):
    pods, rows = web(5)
    rows[3] = row(rows[3]["Name"], **unsettled)
    plan = plan_reads(pods, rows, set())
    assert plan is not None and plan.single == ["web-6d4b7c-0003"]
    assert [(first, last, n) for first, last, n in plan.classes] == \
        [("web-6d4b7c-0000", "web-6d4b7c-0002", 4)]


def test_passed_readiness_gates_and_a_pod_without_a_row_yet():
    pods, rows = web(3)
    rows = [row(r["Name"], gates="1/1") for r in rows[:2]]  # the third was just created
    plan = plan_reads(pods, rows, set())
    assert plan == Plan(["web-6d4b7c-0002"], [("web-6d4b7c-0000", "web-6d4b7c-0001", 2)])


def test_pods_told_apart_by_metadata_are_classes_of_their_own():
    """A pod being deleted is not settled; another template's pods (their hash), or a pod the
    injector annotated otherwise, are another class."""
    pods, rows = web(4)
    pods[0]["metadata"]["deletionTimestamp"] = "2026-12-05T10:00:00Z"
    pods[1]["metadata"]["labels"] = {"app": "web", "pod-template-hash": "77f9c8"}
    pods[2]["metadata"]["annotations"] = {"sidecar.istio.io/status": "{}"}
    plan = plan_reads(pods, rows, set())
    assert plan is not None and plan.single == ["web-6d4b7c-0000"]
    assert sorted(n for _, _, n in plan.classes) == [1, 1, 1]


@pytest.mark.parametrize("case", ["ambient-label", "captured", "ambient-namespace"])
def test_ambient_or_unknown_columns_or_too_many_read_the_namespace_whole(case):
    pods, rows = web(3)
    if case == "ambient-label":
        pods[1]["metadata"]["labels"] = {"istio.io/dataplane-mode": "ambient"}
    elif case == "captured":
        pods[1]["metadata"]["annotations"] = {"ambient.istio.io/redirection": "enabled"}
    pods[0]["metadata"]["namespace"] = "shop"
    assert plan_reads(pods, rows, {"shop"} if case == "ambient-namespace" else set()) is None


def test_rows_without_printpods_columns_or_too_many_pods_to_read_read_it_whole():
    pods, rows = web(3)
    assert plan_reads(pods, [{"Name": r["Name"], "Age": "3d"} for r in rows], set()) is None
    pods, rows = web(namespace_pods.WHOLE_READS + 1)
    rows = [row(r["Name"], status="Pending", ready="0/2") for r in rows]
    assert plan_reads(pods, rows, set()) is None


def test_the_printers_cells_are_printpods():
    """RESTARTS with the end of the last run, READINESS GATES counted from the conditions."""
    now = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
    pod = {"metadata": {"name": "web-1", "creationTimestamp": "2026-12-04T10:00:00Z"},
           "spec": {"containers": [{"name": "app"}],
                    "readinessGates": [{"conditionType": "example.com/lb"},
                                       {"conditionType": "example.com/dns"}]},
           "status": {"phase": "Running", "podIP": "10.0.0.9",
                      "conditions": [{"type": "example.com/lb", "status": "True"},
                                     {"type": "example.com/dns", "status": "False"}],
                      "containerStatuses": [{
                          "name": "app", "ready": True, "restartCount": 3,
                          "state": {"running": {"startedAt": "2026-12-07T09:55:00Z"}},
                          "lastState": {"terminated": {"exitCode": 1,
                                                       "finishedAt": "2026-12-07T09:55:00Z"}}}]}}
    cells = dict(zip([c.name for c in POD.columns], POD.cells(pod, now)))
    assert cells["Restarts"] == "3 (5m ago)" and cells["Readiness Gates"] == "1/2"
    assert cells["Ready"] == "1/1" and cells["Status"] == "Running" and cells["Age"] == "3d"


def _check_scenarios() -> list:
    return [s for s in scenarios() if s.expected["command"] == "check"]


@pytest.mark.parametrize("scenario", _check_scenarios(), ids=lambda s: s.name)
async def test_every_check_scenarios_namespace_reads_the_same_as_read_whole(scenario,
                                                                           monkeypatch):
    """`check ns/<namespace>` of every `check` scenario's mesh (crash-looping pods, pods
    refused, without sidecars, ambient...) says exactly what reading the namespace whole says
    (WHOLE_READS = 0 reads every namespace whole)."""
    args = [str(a) for a in scenario.expected.get("args", [])]
    target = args[0]
    namespace = target[3:] if target.startswith("ns/") else \
        (args[args.index("-n") + 1] if "-n" in args else "default")

    async def report() -> dict:
        source = SnapshotSource(Snapshot.open(scenario.snapshot_dir))
        plan = parse(["check", f"ns/{namespace}"], terminal=False).plan()
        return comparable(await diagnose(plan, source, now=scenario.now))

    classes = await report()
    monkeypatch.setattr(namespace_pods, "WHOLE_READS", 0)
    assert classes == await report()


def test_a_row_cut_short_is_not_settled():
    """Cells fewer than the columns (a server printing without the wide ones): read whole."""
    pods, rows = web(3)
    rows[1] = {k: v for k, v in rows[1].items() if k != "Readiness Gates"}
    plan = plan_reads(pods, rows, set())
    assert plan is not None and plan.single == ["web-6d4b7c-0001"]
