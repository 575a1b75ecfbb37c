"""The engine's TargetPodLogs input: which pods' and containers' logs `check` reads, and how.

The engine resolves the command's target (diagnostics/targets.py) from the pods, ReplicaSets,
Deployments and Services it fetched anyway, then reads a bounded number of container logs:
a few pods per workload, only the containers a pitfall needs, only in examined clusters.
"""

from __future__ import annotations

from datetime import datetime, timezone

from diagnostics.checking import CheckSpec
from diagnostics.engine import Plan, diagnose
from diagnostics.facts import PodLogs
from diagnostics import targets
from diagnostics.inputs import TARGET_PODS, TargetPodLogs
from diagnostics.model import ClusterInfo
from diagnostics.sources.base import NotCaptured
from diagnostics.views.workload import TARGET_INPUTS, target_in

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
LOGS = TargetPodLogs()


def pod(name: str, owner: str, *, init_failed: bool = False, sidecar: bool = True,
        restarted: tuple[str, ...] = ()) -> dict:
    containers = [{"name": "app"}] + ([{"name": "istio-proxy"}] if sidecar else [])
    init_state = ({"waiting": {"reason": "CrashLoopBackOff"}} if init_failed
                  else {"terminated": {"exitCode": 0}})
    statuses = [{"name": c["name"], "restartCount": 1 if c["name"] in restarted else 0,
                 "lastState": {"terminated": {"exitCode": 1}} if c["name"] in restarted else {}}
                for c in containers]
    return {"metadata": {"name": name, "namespace": "shop", "labels": {"app": owner},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": f"{owner}-abc",
                                              "controller": True}]},
            "spec": {"containers": containers, "initContainers": [{"name": "istio-init"}]},
            "status": {"phase": "Running", "containerStatuses": statuses,
                       "initContainerStatuses": [{"name": "istio-init", "state": init_state}]}}


def rs(owner: str) -> dict:
    return {"metadata": {"name": f"{owner}-abc", "namespace": "shop",
                         "ownerReferences": [{"kind": "Deployment", "name": owner,
                                              "controller": True}]}}


class FakeSource:
    identity = "fake"

    def __init__(self, objects: dict[tuple[str, str], list[dict]], logs: dict[tuple, str]):
        self.objects, self.logs, self.reads = objects, logs, []

    def cluster_infos(self) -> list[ClusterInfo]:
        return [ClusterInfo("cluster1"), ClusterInfo("cluster2")]

    async def list(self, cluster, resource, namespace, label_selector=None):
        if (cluster, resource) not in self.objects:
            raise NotCaptured(f"{resource} not captured")
        return [o for o in self.objects[(cluster, resource)]
                if namespace is None or o["metadata"].get("namespace") == namespace]

    def istiod_targets(self, cluster, istiod_pods):
        return []

    async def istiod_get(self, cluster, target, path, compact=None):
        raise NotCaptured(path)

    async def pod_log(self, cluster, namespace, pod_name, container, tail_lines, previous=False):
        key = (cluster, pod_name, container + (".previous" if previous else ""))
        self.reads.append(key)
        if key not in self.logs:
            raise NotCaptured(f"log of {pod_name}/{container} not captured")
        return self.logs[key]

    async def close(self):
        return None


def shop_source() -> FakeSource:
    pods = [pod(f"payload-api-abc-{i}", "payload-api") for i in range(6)]
    pods.append(pod("payload-api-abc-x", "payload-api", init_failed=True))
    pods.append(pod("web-frontend-abc-1", "web-frontend"))
    objects = {
        ("cluster1", "pods"): pods,
        ("cluster1", "replicasets.apps"): [rs("payload-api"), rs("web-frontend")],
        ("cluster1", "deployments.apps"): [{"metadata": {"name": "payload-api",
                                                         "namespace": "shop"}}],
        ("cluster1", "services"): [],
        ("cluster2", "pods"): [pod("payload-api-abc-9", "payload-api")],
        ("cluster2", "replicasets.apps"): [rs("payload-api")],
    }
    logs = {("cluster1", "payload-api-abc-x", "istio-init"): "Permission denied\n",
            ("cluster1", "payload-api-abc-x", "app"): "starting\n"}
    return FakeSource(objects, logs)


async def fetch(source: FakeSource, args: dict, focus: list[str] | None = None) -> dict:
    seen: dict[str, dict] = {}

    def probe(ctx):
        for cluster in ctx.cluster_names:
            seen[cluster] = ctx.get(LOGS, cluster)
        return []

    spec = CheckSpec("probe-logs", "probe", (LOGS, TARGET_PODS), (), probe)
    plan = Plan("check", args, [spec], None, focus)
    await diagnose(plan, source, now=NOW)
    return seen


ARGS = {"kind": "deploy", "name": "payload-api", "namespace": "shop"}


async def test_target_logs_read_few_pods_and_only_needed_containers():
    source = shop_source()
    seen = await fetch(source, ARGS)
    cluster1 = seen["cluster1"]
    # the pod whose istio-init failed first, then one more; never web-frontend
    assert sorted(cluster1) == ["payload-api-abc-0", "payload-api-abc-x"]
    failed = cluster1["payload-api-abc-x"]
    assert isinstance(failed, PodLogs)
    assert failed.logs == {"istio-init": "Permission denied\n", "app": "starting\n"}
    assert set(failed.missing) == {"istio-proxy"}
    reads = [r for r in source.reads if r[0] == "cluster1"]
    assert len(reads) == 5  # app + istio-proxy + istio-init, then app + istio-proxy
    assert ("cluster1", "payload-api-abc-0", "istio-init") not in reads  # it completed
    # the workload exists in cluster2 too: looked up there as well
    assert sorted(seen["cluster2"]) == ["payload-api-abc-9"]


async def test_restarted_app_containers_have_their_previous_run_read():
    """After a crash at start-up the evidence is in the run before the restart."""
    source = shop_source()
    source.objects[("cluster2", "pods")] = [
        pod("payload-api-abc-9", "payload-api", restarted=("app", "istio-proxy"))]
    source.logs[("cluster2", "payload-api-abc-9", "app")] = "connected\n"
    source.logs[("cluster2", "payload-api-abc-9", "app.previous")] = "connection refused\n"
    logs = (await fetch(source, ARGS))["cluster2"]["payload-api-abc-9"]
    assert logs.logs == {"app": "connected\n"}
    assert logs.previous == {"app": "connection refused\n"}  # the sidecar's run is not read
    previous = [r for r in source.reads if r[2].endswith(".previous")]
    assert previous == [("cluster2", "payload-api-abc-9", "app.previous")]  # no restart, no read


async def test_target_logs_only_in_examined_clusters():
    source = shop_source()
    seen = await fetch(source, ARGS, focus=["cluster1"])
    assert seen["cluster2"] == {}
    assert not [r for r in source.reads if r[0] == "cluster2"]


async def test_target_logs_without_a_target_read_nothing():
    source = shop_source()
    seen = await fetch(source, {"service": "helloworld", "namespace": "shop"})
    assert seen == {"cluster1": {}, "cluster2": {}} and source.reads == []
    seen = await fetch(source, {"kind": "svc", "name": "nope", "namespace": "shop"})
    assert seen["cluster1"] == {} and source.reads == []


async def test_the_target_is_resolved_once_a_cluster_for_the_logs_and_every_check(monkeypatch):
    """The log choice and the checks share one resolution (input TARGET): resolving a
    namespace of 10,000 pods twice cost a quarter of a second. A cluster no check asks
    about is not resolved."""
    calls: list[tuple] = []
    real = targets.resolve
    monkeypatch.setattr(targets, "resolve", lambda *a, **k: calls.append(a) or real(*a, **k))
    seen: list = []

    def probe(ctx):
        seen.extend(target_in(ctx, c) for c in ctx.focus)
        return []

    specs = [CheckSpec("probe-a", "a", (LOGS, *TARGET_INPUTS), (), probe),
             CheckSpec("probe-b", "b", TARGET_INPUTS, (), probe)]
    await diagnose(Plan("check", ARGS, specs, None, None), shop_source(), now=NOW)
    assert len(calls) == 2  # one a cluster
    assert seen[0] is seen[2] and seen[1] is seen[3]
    assert [w.ref for w in seen[0].workloads] == ["deployment/payload-api"]
    calls.clear()
    await diagnose(Plan("check", ARGS, specs[1:], None, ["cluster1"]), shop_source(), now=NOW)
    assert calls == [("deploy", "payload-api", "shop")]
