"""check's pitfalls on small inline namespaces: objects and logs in, finding ids out.

Every pitfall has a case that fires and cases that must stay quiet (false alarms are defects);
every finding renders its catalog entry strictly.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.facts import Fact, PodLogs, Unavailable
from diagnostics.inputs import (ISTIO_CONFIGMAPS, MUTATING_WEBHOOKS, NAMESPACES,
                                PEER_AUTHENTICATIONS, TARGET_DEPLOYMENTS, TARGET_EVENTS,
                                TARGET_LOGS, TARGET_PODS, TARGET_REPLICASETS, TARGET_SERVICES)
from diagnostics.model import Step
from diagnostics.selectors import label_selector_matches
from diagnostics.targets import log_containers, log_pods, normalize_kind, pod_state, resolve
from diagnostics.views.workload import declared_protocol, effective_mtls
from diagnostics.workloads import name_of
from tests.check_support import run_check

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
NS = "shop"


# ----------------------------------------------------------------------------------- builders

def meta(name: str, ns: str | None = NS, labels=None, annotations=None, owner=None,
         created: str = "2026-11-20T08:30:00Z") -> dict:
    m: dict[str, Any] = {"name": name, "labels": dict(labels or {}), "creationTimestamp": created}
    if ns:
        m["namespace"] = ns
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return m


def proxy(native: bool = False, **extra) -> dict:
    c = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.26.3",
         "args": ["proxy", "sidecar"], **extra}
    if native:
        c["restartPolicy"] = "Always"
    return c


def init(caps=("NET_ADMIN", "NET_RAW")) -> dict:
    return {"name": "istio-init", "securityContext": {"capabilities": {"add": list(caps)}}}


def app(name: str = "payload-api", port: int = 8080, **extra) -> dict:
    return {"name": name, "image": "example/app:1", "ports": [{"containerPort": port,
                                                               "protocol": "TCP"}], **extra}


def pod(name: str, *, deploy: str | None = "payload-api", labels=None, annotations=None,
        sidecar: bool = True, native: bool = False, containers=None, inits=None, statuses=None,
        init_statuses=None, ip: str = "10.10.1.50", ready: bool = True, phase: str = "Running",
        owner=None, spec_extra=None) -> dict:
    containers = list(containers or [app()])
    inits = list(inits if inits is not None else ([init()] if sidecar else []))
    if sidecar and native:
        inits.append(proxy(native=True))
    elif sidecar:
        containers.append(proxy())
    lbl = {"app": deploy or name, "pod-template-hash": "7d9f6c5b4", **(labels or {})}
    if owner is None and deploy:
        owner = ("ReplicaSet", f"{deploy}-7d9f6c5b4")
    spec = {"containers": containers, **(spec_extra or {})}
    if inits:
        spec["initContainers"] = inits
    status = {"phase": phase, "podIP": ip,
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
              "containerStatuses": statuses if statuses is not None else [
                  {"name": c["name"], "ready": ready, "restartCount": 0,
                   "state": {"running": {"startedAt": "2026-11-20T08:30:05Z"}}}
                  for c in containers],
              "initContainerStatuses": init_statuses if init_statuses is not None else [
                  {"name": "istio-init", "ready": True, "restartCount": 0,
                   "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
              if sidecar else []}
    return {"kind": "Pod", "metadata": meta(name, NS, lbl, annotations, owner), "spec": spec,
            "status": status}


def replicaset(deploy: str = "payload-api", conditions=None) -> dict:
    return {"kind": "ReplicaSet", "metadata": meta(f"{deploy}-7d9f6c5b4", NS,
                                                   {"app": deploy}, owner=("Deployment", deploy)),
            "status": {"conditions": conditions or []}}


def deployment(name: str = "payload-api") -> dict:
    return {"kind": "Deployment", "metadata": meta(name, NS, {"app": name})}


def service(name: str = "payload-api", ports=None, selector=None, headless: bool = False) -> dict:
    spec = {"type": "ClusterIP", "clusterIP": "None" if headless else "10.96.8.201",
            "selector": selector or {"app": name},
            "ports": ports or [{"name": "http", "port": 8080, "targetPort": 8080,
                                "protocol": "TCP"}]}
    return {"kind": "Service", "metadata": meta(name, NS, {"app": name}), "spec": spec}


def namespace(name: str = NS, labels=None) -> dict:
    return {"kind": "Namespace", "metadata": meta(name, None, labels if labels is not None
                                                  else {"istio-injection": "enabled"})}


def peer_auth(name: str, ns: str, mode: str | None = "STRICT", selector=None, ports=None,
              created: str = "2026-11-20T08:00:00Z") -> dict:
    spec: dict = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    return {"kind": "PeerAuthentication", "metadata": meta(name, ns, created=created),
            "spec": spec}


MESH_STRICT = peer_auth("default", "istio-system")


def injector_webhooks() -> dict:
    obj = {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn",
                                 "values": ["false"]}]}
    return {"kind": "MutatingWebhookConfiguration", "metadata": meta("istio-sidecar-injector", None),
            "webhooks": [
                {"name": "rev.namespace.sidecar-injector.istio.io", "objectSelector": obj,
                 "namespaceSelector": {"matchExpressions": [
                     {"key": "istio.io/rev", "operator": "In", "values": ["default"]},
                     {"key": "istio-injection", "operator": "DoesNotExist"}]}},
                {"name": "namespace.sidecar-injector.istio.io", "objectSelector": obj,
                 "namespaceSelector": {"matchExpressions": [
                     {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}}]}


def configmaps(mesh: dict | None = None, values: dict | None = None) -> list[dict]:
    import yaml
    return [{"kind": "ConfigMap", "metadata": meta("istio", "istio-system"),
             "data": {"mesh": yaml.safe_dump(mesh or {"rootNamespace": "istio-system"})}},
            {"kind": "ConfigMap", "metadata": meta("istio-sidecar-injector", "istio-system"),
             "data": {"values": json.dumps(values or {})}}]


def world(pods=(), services=(), replicasets=None, deployments=None, namespaces=None,
          policies=(), webhooks=None, cms=None, events=None, logs=None) -> dict:
    pods = list(pods)
    return {
        TARGET_PODS: pods, TARGET_SERVICES: list(services),
        TARGET_REPLICASETS: replicasets if replicasets is not None else [replicaset()],
        TARGET_DEPLOYMENTS: deployments if deployments is not None else [deployment()],
        NAMESPACES: namespaces if namespaces is not None else [namespace()],
        PEER_AUTHENTICATIONS: list(policies),
        MUTATING_WEBHOOKS: webhooks if webhooks is not None else [injector_webhooks()],
        ISTIO_CONFIGMAPS: cms if cms is not None else configmaps(),
        TARGET_EVENTS: events if events is not None else [],
        TARGET_LOGS: logs or {},
    }


def run(check: str, objs: dict, target: str = "deploy/payload-api") -> list[Step]:
    kind, name = target.split("/")
    args = {"kind": kind, "name": name, "namespace": name if kind == "ns" else NS}
    return run_check(check, {"cluster1": objs}, now=NOW, args=args)


def ids(steps: list[Step]) -> list[str]:
    return sorted(f.id for s in steps for f in s.findings)


def logs_of(p: dict, **containers: str) -> dict[str, PodLogs]:
    return {p["metadata"]["name"]: PodLogs(p, {c.replace("_", "-"): t
                                               for c, t in containers.items()})}


# ----------------------------------------------------------------------------------- targets


@pytest.mark.parametrize("word, kind", [("po", "pod"), ("Pods", "pod"), ("deploy", "deploy"),
                                        ("deployments", "deploy"), ("svc", "svc"),
                                        ("service", "svc"), ("ns", "ns"),
                                        ("namespaces", "ns"), ("sts", None), ("x", None)])
def test_kinds_as_kubectl_spells_them(word, kind):
    assert normalize_kind(word) == kind


def test_deployment_follows_its_replicasets_not_its_labels():
    mine = pod("payload-api-7d9f6c5b4-a")
    other = pod("payload-api-canary-1", deploy="payload-api-canary",
                labels={"app": "payload-api"})
    t = resolve("deploy", "payload-api", NS, pods=[mine, other], services=[service()],
                replicasets=[replicaset(), replicaset("payload-api-canary")],
                deployments=[deployment()])
    assert t.found and [p["metadata"]["name"] for p in t.pods] == ["payload-api-7d9f6c5b4-a"]
    assert [s["metadata"]["name"] for s in t.services] == ["payload-api"]


def test_service_selects_and_groups_by_workload():
    a, b = pod("payload-api-7d9f6c5b4-a"), pod("payload-api-7d9f6c5b4-b")
    t = resolve("svc", "payload-api", NS, pods=[a, b], services=[service()],
                replicasets=[replicaset()], deployments=None)
    assert [w.ref for w in t.workloads] == ["deployment/payload-api"] and len(t.pods) == 2


def test_a_pod_read_for_its_like_replicas_counts_as_them_in_every_line():
    """A big namespace's settled replicas are read two a class (diagnostics/namespace_pods.py):
    the oldest stands for the rest, and the summary, injection and istio-init lines count the
    pods, not the objects read."""
    from diagnostics.checks.workload_target import workload_line

    oldest, newest = pod("payload-api-7d9f6c5b4-a"), pod("payload-api-7d9f6c5b4-z")
    crashing = pod("payload-api-7d9f6c5b4-c", ready=False)
    t = resolve("ns", NS, NS, pods=[oldest, newest, crashing], services=[service()],
                replicasets=[replicaset()], deployments=[deployment()],
                stands_for={"payload-api-7d9f6c5b4-a": 8})
    [w] = t.workloads
    assert (w.count, t.count, t.sidecar_count, len(t.pods)) == (10, 10, 10, 3)
    assert workload_line(w) == "deployment/payload-api: 10 pods (Running), 9 ready, sidecar in 10"
    assert resolve("ns", NS, NS, pods=[oldest, newest], services=[], replicasets=[],
                   deployments=[]).count == 2  # read whole: each counts as itself


def test_namespace_includes_deployments_without_pods_and_not_found_elsewhere():
    t = resolve("ns", NS, NS, pods=[], services=[], replicasets=[replicaset()],
                deployments=[deployment()])
    assert t.found and [w.ref for w in t.workloads] == ["deployment/payload-api"]
    assert not resolve("svc", "nope", NS, pods=[], services=[service()], replicasets=[],
                       deployments=[]).found


def test_a_namespace_of_many_deployments_groups_pods_by_their_replicasets_owner():
    """Forty Deployments with five revisions each (older ones scaled to zero), a ReplicaSet of
    its own and a Deployment with no pod left: each pod under the Deployment that owns its
    ReplicaSet, each Deployment with all its ReplicaSets by name."""
    def revision(deploy: str, rev: int) -> dict:
        rs = replicaset(deploy)
        rs["metadata"]["name"] = f"{deploy}-{rev}0{rev}"
        return rs

    replicasets = [revision(f"api-{d:02d}", r) for r in (5, 1, 3, 2, 4) for d in range(40)]
    lone = replicaset("batch")
    lone["metadata"]["ownerReferences"] = []
    replicasets += [lone, revision("drained", 1)]
    pods = [pod(f"api-{d:02d}-505-{i}", deploy=f"api-{d:02d}",
                owner=("ReplicaSet", f"api-{d:02d}-505")) for d in range(40) for i in range(3)]
    pods.append(pod("batch-7d9f6c5b4-x", deploy="batch"))
    t = resolve("ns", NS, NS, pods=pods, services=[], replicasets=replicasets,
                deployments=[deployment(f"api-{d:02d}") for d in range(40)]
                + [deployment("drained")])
    by_ref = {w.ref: w for w in t.workloads}
    assert sorted(by_ref) == sorted([f"deployment/api-{d:02d}" for d in range(40)]
                                    + ["deployment/drained", "replicaset/batch-7d9f6c5b4"])
    for d in range(40):
        w = by_ref[f"deployment/api-{d:02d}"]
        assert [name_of(p) for p in w.pods] == [f"api-{d:02d}-505-{i}" for i in range(3)]
        assert [name_of(r) for r in w.replicasets] == [f"api-{d:02d}-{r}0{r}" for r in range(1, 6)]
        assert w.deployment is not None
    assert [name_of(r) for r in by_ref["deployment/drained"].replicasets] == ["drained-101"]
    assert by_ref["replicaset/batch-7d9f6c5b4"].replicasets == []


def test_replicas_read_from_a_list_are_grouped_by_asking_their_owner_once(monkeypatch):
    """A workload's replicas share their owner references and labels once a list is decoded
    (parse/k8s_lists.py ALIKE): the workload of each distinct pair is found once, and the
    grouping is what it is for pods that share nothing."""
    from diagnostics import targets
    from diagnostics.parse.k8s_lists import decode_list

    pods = [pod(f"payload-api-7d9f6c5b4-{i:02d}") for i in range(30)]
    pods += [pod("batch-x", deploy=None), pod("other-5f5f5f5f5f-a", deploy="other")]
    listed = decode_list(json.dumps({"kind": "PodList", "items": pods}).encode(), "Pod",
                         metadata_only=False)["items"]
    asked: list[str] = []
    real = targets.workload_of
    monkeypatch.setattr(targets, "workload_of",
                        lambda p, rs: asked.append(p["metadata"]["name"]) or real(p, rs))
    shared = resolve("ns", NS, NS, pods=listed, services=[], replicasets=[replicaset()],
                     deployments=[deployment()])
    assert sorted(asked) == ["batch-x", "other-5f5f5f5f5f-a", "payload-api-7d9f6c5b4-00"]
    alone = resolve("ns", NS, NS, pods=pods, services=[], replicasets=[replicaset()],
                    deployments=[deployment()])
    assert [(w.ref, [name_of(p) for p in w.pods]) for w in shared.workloads] == \
        [(w.ref, [name_of(p) for p in w.pods]) for w in alone.workloads]
    assert [w.ref for w in alone.workloads] == ["deployment/other", "deployment/payload-api",
                                               "pod/batch-x"]


def test_logs_read_for_few_pods_and_only_useful_containers():
    failed = pod("payload-api-7d9f6c5b4-z", init_statuses=[{"name": "istio-init", "state": {
        "waiting": {"reason": "CrashLoopBackOff"}}}])
    healthy = [pod(f"payload-api-7d9f6c5b4-{i}") for i in range(5)]
    t = resolve("deploy", "payload-api", NS, pods=healthy + [failed], services=[],
                replicasets=[replicaset()], deployments=[deployment()])
    chosen = log_pods(t)
    assert len(chosen) == 2 and chosen[0] is failed
    assert log_containers(failed) == ["payload-api", "istio-proxy", "istio-init"]
    assert log_containers(healthy[0]) == ["payload-api", "istio-proxy"]
    assert log_containers(pod("x", sidecar=False)) == []


def test_a_pods_state_is_what_its_status_says_each_container_by_its_first_status():
    """PodState, read once per pod for the overview, the log choice and the checks."""
    waiting = {"waiting": {"reason": "ImagePullBackOff"}}
    p = pod("payload-api-7d9f6c5b4-a", ready=False, statuses=[
        {"name": "payload-api", "restartCount": 2, "state": waiting},
        {"name": "payload-api", "restartCount": 1, "state": {"waiting": {"reason": "Later"}}},
        {"name": "istio-proxy", "restartCount": 0, "state": {"running": {}}},
        {"name": "gone", "restartCount": 4, "state": {"waiting": {"reason": "NotInSpec"}}}],
        init_statuses=[{"name": "istio-init", "restartCount": 3, "state": {"running": {}},
                        "lastState": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    state = pod_state(p)
    assert state.waiting == {"ImagePullBackOff"}  # the first status; none of a non-container
    assert state.restarts == 10 and state.failed_inits == {"istio-init"}
    assert not state.ready and not state.ready_condition and state.sidecar
    assert state.phase == "Running"
    assert not state.containers_ready and state.inits_done == ()  # istio-init crash-loops
    done = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    state = pod_state(pod("payload-api-7d9f6c5b4-c", statuses=[
        {"name": "payload-api", "ready": True, "state": {"running": {}}},
        {"name": "istio-proxy", "ready": True, "state": {"running": {}}}],
        init_statuses=[{"name": "istio-init", "state": done}]))
    assert state.containers_ready and state.inits_done == ("istio-init",)
    deleting = pod("payload-api-7d9f6c5b4-b")
    deleting["metadata"]["deletionTimestamp"] = "2026-11-20T08:59:00Z"
    state = pod_state(deleting)
    assert state.ready_condition and not state.ready and not state.waiting
    assert not state.failed_inits and state.restarts == 0
    assert pod_state(pod("x", sidecar=False, phase=None)).phase == "?"
    assert not pod_state(pod("x", sidecar=False)).sidecar


def test_a_target_that_exists_nowhere_is_a_finding_with_similar_names():
    steps = run("workload-target", world(pods=[pod("payload-api-7d9f6c5b4-a")],
                                         services=[service()]), "svc/payload-apj")
    (finding,) = [f for s in steps for f in s.findings]
    assert finding.id == "workload-not-found"
    assert finding.params["similar"] == "payload-api"
    assert "not found" in steps[0].evidence[0]


def test_pods_not_ready_are_a_symptom_naming_the_pod_and_its_crashed_runs_last_lines():
    """A crash-looping workload was answered 'healthy' when no mesh pitfall explained it: the
    target step names its unready pods (the one restarted most first), their state in
    kubectl's words, and the last lines of the crashed run where they were read."""
    crashing = {"name": "payload-api", "ready": False, "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    well = pod("payload-api-7d9f6c5b4-a")
    bad = pod("payload-api-7d9f6c5b4-b", ready=False, statuses=[
        crashing, {"name": "istio-proxy", "ready": True, "restartCount": 0,
                   "state": {"running": {}}}])
    logs = {name_of(bad): PodLogs(bad, {"payload-api": "starting\n"}, previous={
        "payload-api": "starting\nconfig loaded\npanic: DATABASE_URL unset\nexit 1\n"})}
    steps = run("workload-target", world(pods=[well, bad], services=[service()], logs=logs))
    (finding,) = steps[0].findings
    assert finding.id == "workload-pods-not-ready" and finding.params["pod"] == name_of(bad)
    assert finding.params["state"] == "CrashLoopBackOff; 7 restarts"
    assert finding.params["container"] == "payload-api"
    assert finding.params["unready"] == "1" and finding.params["pods"] == "2"
    assert finding.evidence[1:] == ["last lines of payload-api's previous run:",
                                    "  config loaded", "  panic: DATABASE_URL unset",
                                    "  exit 1"]
    assert run("workload-target", world(pods=[well], services=[service()]))[0].findings == []
    # a pod still being created (a rollout in progress) is a warning, not a problem
    creating = pod("payload-api-7d9f6c5b4-c", ready=False, statuses=[
        {"name": "payload-api", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ContainerCreating"}}}])
    (finding,) = run("workload-target", world(pods=[well, creating],
                                              services=[service()]))[0].findings
    assert finding.severity == "warning" and finding.params["state"] == "ContainerCreating"


def test_a_namespace_that_exists_and_runs_nothing_is_said_so_not_called_missing():
    """`check ns/default` where default holds nothing: no workload-not-found naming `default`
    itself among the similar names, a warning that there is nothing to check."""
    empty = world(pods=[], replicasets=[], deployments=[],
                  namespaces=[namespace("default"), namespace("defaults")])
    steps = run("workload-target", empty, "ns/default")
    assert ids(steps) == [] and steps[-1].status == "warn"
    assert "exists in cluster1 and runs nothing there" in steps[-1].evidence[0]
    # a namespace missing outright still is, and is not its own similar name
    steps = run("workload-target", empty, "ns/defaul")
    assert ids(steps) == ["workload-not-found"]
    assert steps[-1].findings[0].params["similar"] == "default, defaults"
    steps = run("workload-target", world(pods=[], replicasets=[], deployments=[],
                                         namespaces=[namespace("other")]), "ns/default")
    assert ids(steps) == ["workload-not-found"]


def test_a_target_whose_kind_could_not_be_listed_is_not_called_missing():
    objs = world(pods=[], replicasets=[])
    objs[TARGET_DEPLOYMENTS] = Fact(missing=Unavailable("cluster1", "deployments", "forbidden"))
    steps = run("workload-target", objs, "deploy/payload-api")
    assert ids(steps) == [] and steps[-1].incomplete
    assert steps[-1].evidence[-1] == "could not look in cluster1"
    # its ReplicaSet exists, so it does too; how many pods it wants is unknown: inconclusive
    objs = world(pods=[])
    objs[TARGET_DEPLOYMENTS] = Fact(missing=Unavailable("cluster1", "deployments", "forbidden"))
    steps = run("workload-target", objs, "deploy/payload-api")
    assert ids(steps) == [] and steps[0].incomplete


def _deployment_wanting(replicas: int | None) -> dict:
    dep = deployment()
    dep["spec"] = {"selector": {"matchLabels": {"app": "payload-api"}},
                   **({"replicas": replicas} if replicas is not None else {})}
    return dep


def test_a_deployment_is_followed_to_its_pods_without_replicasets():
    """A snapshot or RBAC without ReplicaSets: the pods' owner name and pod-template-hash name
    the Deployment; without owner references, the Deployment's own selector does."""
    pods = [pod("payload-api-7d9f6c5b4-a"), pod("other-5c6d7e8f9-b", deploy="other")]
    t = resolve("deploy", "payload-api", NS, pods=pods, services=[], replicasets=[],
                deployments=[_deployment_wanting(2)])
    assert [name_of(p) for p in t.pods] == ["payload-api-7d9f6c5b4-a"]
    assert t.workloads[0].found_by == "ReplicaSet name and pod-template-hash"
    orphan = pod("payload-api-7d9f6c5b4-c")
    orphan["metadata"].pop("ownerReferences")
    t = resolve("deploy", "payload-api", NS, pods=[orphan], services=[], replicasets=[],
                deployments=[_deployment_wanting(2)])
    assert [name_of(p) for p in t.pods] == ["payload-api-7d9f6c5b4-c"]
    assert t.workloads[0].found_by == "the Deployment's selector"


def test_a_deployment_that_wants_pods_and_has_none_is_never_healthy():
    refused = replicaset(conditions=[{"type": "ReplicaFailure", "status": "True",
                                      "reason": "FailedCreate", "message": "pods \"x\" is "
                                      "forbidden: exceeded quota: compute"}])
    steps = run("workload-target", world(pods=[], replicasets=[refused],
                                         deployments=[_deployment_wanting(3)]))
    (finding,) = [f for s in steps for f in s.findings]
    assert finding.id == "workload-no-pods" and finding.params["replicas"] == "3 replicas"
    assert "exceeded quota" in finding.params["reason"]
    # scaled to zero on purpose: nothing to say
    steps = run("workload-target", world(pods=[], deployments=[_deployment_wanting(0)]))
    assert ids(steps) == []
    # neither ReplicaSets nor events readable: inconclusive, with the reason
    objs = world(pods=[], deployments=[_deployment_wanting(1)])
    objs[TARGET_REPLICASETS] = Fact(missing=Unavailable("cluster1", "rs", "forbidden"))
    objs[TARGET_EVENTS] = Fact(missing=Unavailable("cluster1", "events", "forbidden"))
    steps = run("workload-target", objs)
    assert ids(steps) == [] and steps[0].incomplete
    assert "why cannot be told" in steps[0].evidence[-1]


# ----------------------------------------------------------------------------------- injection


def test_injected_workloads_are_quiet():
    objs = world(pods=[pod("payload-api-7d9f6c5b4-a"), pod("payload-api-7d9f6c5b4-b",
                                                          native=True)])
    assert ids(run("workload-injection", objs)) == []


@pytest.mark.parametrize("kwargs, ns_labels, fragment", [
    ({"labels": {"sidecar.istio.io/inject": "false"}}, None, "label sidecar.istio.io/inject=false"),
    ({"annotations": {"sidecar.istio.io/inject": "false"}}, None, "annotation"),
    ({"spec_extra": {"hostNetwork": True}}, None, "hostNetwork"),
    ({}, {"istio-injection": "disabled"}, "istio-injection=disabled"),
    ({}, {}, "neither istio-injection=enabled nor istio.io/rev"),
    ({}, {"istio.io/rev": "canary"}, "istio.io/rev=canary names a revision no injection webhook"),
    ({}, {"istio-injection": "enabled"}, "created (at 2026-11-20T08:30:00Z) before"),
])
def test_sidecar_not_injected_with_the_reason(kwargs, ns_labels, fragment):
    p = pod("payload-api-7d9f6c5b4-a", sidecar=False, **kwargs)
    objs = world(pods=[p], namespaces=[namespace(labels=ns_labels)] if ns_labels is not None
                 else None)
    steps = run("workload-injection", objs)
    assert ids(steps) == ["sidecar-not-injected"]
    assert fragment in steps[0].findings[0].params["reason"]
    assert steps[0].findings[0].params["workload"] == "deployment/payload-api"


def test_no_webhook_at_all_and_unreadable_webhooks():
    p = pod("payload-api-7d9f6c5b4-a", sidecar=False)
    steps = run("workload-injection", world(pods=[p], webhooks=[]))
    assert "no sidecar-injector webhook" in steps[0].findings[0].params["reason"]
    unreadable = world(pods=[p], webhooks=Fact(missing=Unavailable("cluster1", "w", "forbidden")))
    steps = run("workload-injection", unreadable)
    assert ids(steps) == ["sidecar-not-injected"]


@pytest.mark.parametrize("p, ns_labels", [
    (pod("x", sidecar=False, labels={"istio.io/dataplane-mode": "ambient"}), None),
    (pod("x", sidecar=False), {"istio.io/dataplane-mode": "ambient"}),
    (pod("x", sidecar=False, phase="Succeeded"), None),
])
def test_pods_not_meant_to_have_a_sidecar_are_left_alone(p, ns_labels):
    objs = world(pods=[p], namespaces=[namespace(labels=ns_labels)] if ns_labels else None)
    assert ids(run("workload-injection", objs, "pod/x")) == []


# ----------------------------------------------------------------------------------- istio-init


DENIED = ("2026-11-20T08:54:00.009Z\terror\tiptables-restore v1.8.10 (nf_tables): can't "
          "initialize iptables table `nat': Permission denied (you must be root)\n")
CRASH = [{"name": "istio-init", "restartCount": 9, "state": {"waiting": {
    "reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]


def test_istio_init_refused_by_iptables():
    p = pod("payload-api-7d9f6c5b4-a", phase="Pending", ready=False, init_statuses=CRASH,
            inits=[init(caps=())])
    objs = world(pods=[p], logs=logs_of(p, istio_init=DENIED),
                 namespaces=[namespace(labels={"istio-injection": "enabled",
                                               "pod-security.kubernetes.io/warn": "restricted"})])
    steps = run("workload-init", objs)
    assert ids(steps) == ["istio-init-blocked"]
    f = steps[0].findings[0]
    assert f.params["reason"].startswith("iptables is refused: iptables-restore v1.8.10")
    assert any("pod-security.kubernetes.io/warn=restricted" in e for e in f.evidence)
    assert any("does not add NET_ADMIN, NET_RAW" in e for e in f.evidence)


def test_istio_init_rejected_at_admission():
    msg = ('pods "payload-api-7d9f6c5b4-" is forbidden: violates PodSecurity "baseline:latest": '
           'non-default capabilities (container "istio-init" must not include "NET_ADMIN", '
           '"NET_RAW" in securityContext.capabilities.add)')
    rs = replicaset(conditions=[{"type": "ReplicaFailure", "status": "True",
                                 "reason": "FailedCreate", "message": msg}])
    steps = run("workload-init", world(pods=[], replicasets=[rs]))
    assert ids(steps) == ["istio-init-blocked"]
    assert "rejected at admission" in steps[0].findings[0].params["reason"]


def test_istio_init_failing_for_another_reason_is_not_this_pitfall():
    p = pod("payload-api-7d9f6c5b4-a", init_statuses=CRASH)
    objs = world(pods=[p], logs=logs_of(p, istio_init="error: no such file\n"))
    assert ids(run("workload-init", objs)) == []
    assert ids(run("workload-init", world(pods=[pod("payload-api-7d9f6c5b4-b")]))) == []


# ----------------------------------------------------------------------------------- probes


def probed(rewritten: bool = False, ready: bool = False, restarts: int = 0, **kwargs) -> dict:
    port, path = (15020, "/app-health/payload-api/readyz") if rewritten else (8080, "/healthz")
    c = app(readinessProbe={"httpGet": {"path": path, "port": port}})
    statuses = [{"name": "payload-api", "ready": ready, "restartCount": restarts,
                 "state": {"running": {}}}, {"name": "istio-proxy", "ready": True}]
    ann = None if rewritten else {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}
    kwargs.setdefault("annotations", ann)
    return pod("payload-api-7d9f6c5b4-a", containers=[c], statuses=statuses, ready=ready,
               **kwargs)


def test_probes_fail_under_strict_without_rewrite():
    events = [{"involvedObject": {"name": "payload-api-7d9f6c5b4-a"}, "reason": "Unhealthy",
               "count": 12, "message": "Readiness probe failed: connection reset by peer"}]
    steps = run("workload-probes", world(pods=[probed()], policies=[MESH_STRICT], events=events))
    assert ids(steps) == ["probes-fail-under-mtls"]
    f = steps[0].findings[0]
    assert (f.params["container"], f.params["port"]) == ("payload-api", 8080)
    assert any("Unhealthy (×12)" in e for e in f.evidence)


def test_probe_reason_from_the_injector_values():
    p = probed()
    del p["metadata"]["annotations"]
    cms = configmaps(values={"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": False}})
    steps = run("workload-probes", world(pods=[p], policies=[MESH_STRICT], cms=cms))
    assert "rewriteAppHTTPProbe=false" in steps[0].findings[0].evidence[0]


@pytest.mark.parametrize("p, policies", [
    (probed(rewritten=True), [MESH_STRICT]),                       # rewritten to 15020
    (probed(), []),                                                 # PERMISSIVE by default
    (probed(), [MESH_STRICT, peer_auth("shop", NS, "PERMISSIVE")]),  # namespace over mesh
    (probed(), [MESH_STRICT, peer_auth("w", NS, None, {"app": "payload-api"},
                                       {8080: "PERMISSIVE"})]),     # port-level over mesh
    (probed(annotations={"sidecar.istio.io/rewriteAppHTTPProbers": "false",
                         "traffic.sidecar.istio.io/excludeInboundPorts": "8080"}),
     [MESH_STRICT]),                                                # not captured
    (probed(ready=True), [MESH_STRICT]),                            # not failing
    (probed(sidecar=False), [MESH_STRICT]),                         # no sidecar, no mTLS
])
def test_probes_that_pass_are_quiet(p, policies):
    assert ids(run("workload-probes", world(pods=[p], policies=policies))) == []


def test_effective_mtls_precedence():
    p = pod("a")
    assert effective_mtls(p, 8080, [], "istio-system").mode == "PERMISSIVE"
    mesh_disable = peer_auth("default", "istio-system", "DISABLE")
    ns_unset = peer_auth("ns", NS, None)
    assert effective_mtls(p, 8080, [mesh_disable, ns_unset], "istio-system").mode == "DISABLE"
    wl = peer_auth("wl", NS, "STRICT", {"app": "payload-api"}, {9090: "DISABLE"})
    assert effective_mtls(p, 8080, [mesh_disable, wl], "istio-system").mode == "STRICT"
    assert effective_mtls(p, 9090, [mesh_disable, wl], "istio-system").mode == "DISABLE"
    older = peer_auth("a-old", NS, "STRICT", created="2026-01-01T00:00:00Z")
    newer = peer_auth("b-new", NS, "PERMISSIVE")
    assert effective_mtls(p, 8080, [newer, older], "istio-system").mode == "STRICT"
    other = peer_auth("other", NS, "DISABLE", {"app": "ledger-db"})
    assert effective_mtls(p, 8080, [MESH_STRICT, other], "istio-system").mode == "STRICT"


def test_label_selector_expressions():
    sel = {"matchLabels": {"a": "1"}, "matchExpressions": [
        {"key": "b", "operator": "In", "values": ["x"]},
        {"key": "c", "operator": "DoesNotExist"}]}
    assert label_selector_matches(sel, {"a": "1", "b": "x"})
    assert not label_selector_matches(sel, {"a": "1", "b": "x", "c": ""})
    assert label_selector_matches(None, {}) and label_selector_matches({}, {"x": "y"})


# ----------------------------------------------------------------------------------- ports


@pytest.mark.parametrize("port, protocol", [
    ({"name": "http"}, "HTTP"), ({"name": "http-web"}, "HTTP"), ({"name": "grpc-api"}, "GRPC"),
    ({"name": "tcp-postgres"}, "TCP"), ({"name": "api", "appProtocol": "http"}, "HTTP"),
    ({"name": "web", "appProtocol": "kubernetes.io/h2c"}, "HTTP2"), ({"name": "api"}, None),
    ({"name": "metrics"}, None), ({}, None), ({"name": "https"}, "HTTPS"),
])
def test_declared_protocol(port, protocol):
    assert declared_protocol(port)[0] == protocol


def test_port_without_protocol_is_ambiguous():
    svc = service(ports=[{"name": "api", "port": 8080, "targetPort": 8080}])
    steps = run("workload-ports", world(pods=[pod("payload-api-7d9f6c5b4-a")], services=[svc]),
                "svc/payload-api")
    assert ids(steps) == ["port-protocol-ambiguous"]
    assert "no protocol prefix" in steps[0].findings[0].params["reason"]


def test_one_target_port_with_two_protocols_is_ambiguous_once():
    a = service("payload-api", ports=[{"name": "http", "port": 8080, "targetPort": 8080}],
                selector={"app": "payload-api"})
    b = service("payload-api-grpc", ports=[{"name": "grpc", "port": 9000, "targetPort": "api"}],
                selector={"app": "payload-api"})
    p = pod("payload-api-7d9f6c5b4-a", containers=[app(ports=[{"name": "api",
                                                              "containerPort": 8080}])])
    steps = run("workload-ports", world(pods=[p], services=[a, b]))
    assert ids(steps) == ["port-protocol-ambiguous"]
    assert "several protocols" in steps[0].findings[0].params["reason"]


def test_udp_port_is_reported_not_ambiguous():
    svc = service("statsd", ports=[{"name": "statsd", "port": 8125, "protocol": "UDP"}])
    steps = run("workload-ports", world(pods=[pod("statsd-1", deploy="statsd")], services=[svc]),
                "svc/statsd")
    assert ids(steps) == ["udp-port-not-proxied"]


def test_named_ports_are_quiet():
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": 8080},
                         {"name": "grpc-admin", "port": 9000},
                         {"name": "web", "port": 8443, "appProtocol": "https"}])
    assert ids(run("workload-ports", world(pods=[pod("payload-api-7d9f6c5b4-a")],
                                            services=[svc]), "svc/payload-api")) == []


def test_headless_statefulset():
    members = [pod(f"ledger-db-{i}", deploy=None, owner=("StatefulSet", "ledger-db"),
                   labels={"app": "ledger-db"}, spec_extra={"subdomain": "ledger-db"})
               for i in range(2)]
    svc = service("ledger-db", ports=[{"name": "tcp-postgres", "port": 5432}], headless=True)
    steps = run("workload-headless", world(pods=members, services=[svc]), "svc/ledger-db")
    assert ids(steps) == ["headless-service-statefulset"]
    assert steps[0].findings[0].params["workload"] == "statefulset/ledger-db"
    # headless in front of a Deployment, or a ClusterIP in front of a StatefulSet: quiet
    plain = service("payload-api", headless=True)
    assert ids(run("workload-headless", world(pods=[pod("payload-api-7d9f6c5b4-a")],
                                              services=[plain]), "svc/payload-api")) == []
    assert run("workload-headless", world(pods=members, services=[service("ledger-db")]),
               "svc/ledger-db") == []


# ----------------------------------------------------------------------------------- app TLS


def tls_service(name: str = "https") -> dict:
    return service(ports=[{"name": name, "port": 8443, "targetPort": 8443}])


def test_app_tls_under_strict():
    p = pod("payload-api-7d9f6c5b4-a", containers=[app(port=8443)])
    steps = run("workload-tls", world(pods=[p], services=[tls_service()], policies=[MESH_STRICT]),
                "svc/payload-api")
    assert ids(steps) == ["app-tls-under-strict-mtls"]
    assert steps[0].findings[0].params["port"] == 8443


@pytest.mark.parametrize("svc, policies, sidecar", [
    (tls_service(), [], True),                                     # PERMISSIVE
    (tls_service("http"), [MESH_STRICT], True),                    # not the app's TLS
    (tls_service(), [MESH_STRICT, peer_auth("w", NS, None, {"app": "payload-api"},
                                            {8443: "PERMISSIVE"})], True),
    (tls_service(), [MESH_STRICT], False),                         # no sidecar: no mTLS
])
def test_app_tls_quiet_cases(svc, policies, sidecar):
    p = pod("payload-api-7d9f6c5b4-a", containers=[app(port=8443)], sidecar=sidecar)
    assert ids(run("workload-tls", world(pods=[p], services=[svc], policies=policies),
                   "svc/payload-api")) == []


def test_app_tls_looks_for_pods_only_behind_services_that_declare_tls(monkeypatch):
    """A namespace of many Services: only those declaring the app's TLS have their pods looked
    for (every pod matched against every Service made a million matches at 100 x 10,000)."""
    from diagnostics.checks import workload_tls

    matched = []
    real = workload_tls.selector_matches
    monkeypatch.setattr(workload_tls, "selector_matches",
                        lambda selector, labels: matched.append(selector) or real(selector, labels))
    plain = [service(f"plain-{i}", selector={"app": f"plain-{i}"}) for i in range(30)]
    tls = service("payload-api", ports=[{"name": "https", "port": 8443, "targetPort": 8443}])
    pods = [pod(f"payload-api-7d9f6c5b4-{i}", containers=[app(port=8443)]) for i in range(5)]
    steps = run("workload-tls", world(pods=pods, services=plain + [tls],
                                      policies=[MESH_STRICT]), f"ns/{NS}")
    assert ids(steps) == ["app-tls-under-strict-mtls"]
    assert matched == [{"app": "payload-api"}] * len(pods)


# ----------------------------------------------------------------------------------- start-up


RACE = ("2026-11-20T08:30:09.412Z INFO  starting payload-api\n"
        "2026-11-20T08:30:09.418Z ERROR dial tcp 10.0.12.7:5432: connect: connection refused\n"
        "2026-11-20T08:30:12.430Z INFO  connected\n")
CLEAN = "2026-11-20T08:30:09.412Z INFO  starting payload-api\n2026-11-20T08:30:09.9Z INFO ok\n"


def raced(**kwargs) -> dict:
    statuses = [{"name": "payload-api", "ready": True, "restartCount": 1,
                 "lastState": {"terminated": {"exitCode": 1}}}]
    return pod("payload-api-7d9f6c5b4-a", statuses=statuses, **kwargs)


def test_app_starts_before_proxy():
    p = raced()
    steps = run("workload-startup", world(pods=[p], logs=logs_of(p, payload_api=RACE)))
    assert ids(steps) == ["app-starts-before-proxy"]
    assert any("restarted 1 time, last exit code 1" in e for e in steps[0].findings[0].evidence)


@pytest.mark.parametrize("p, cms, log", [
    (raced(native=True), None, RACE),
    (raced(annotations={"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"}),
     None, RACE),
    (raced(), configmaps({"defaultConfig": {"holdApplicationUntilProxyStarts": True}}), RACE),
    (pod("payload-api-7d9f6c5b4-a", containers=[app()], sidecar=False), None, RACE),
    (raced(), None, CLEAN),
    (raced(), None, "\n".join(["INFO working"] * 30) + "\nERROR connection refused\n"),
])
def test_start_up_quiet_cases(p, cms, log):
    objs = world(pods=[p], cms=cms, logs=logs_of(p, payload_api=log))
    assert ids(run("workload-startup", objs)) == []


def test_post_start_hook_means_hold_is_on():
    p = raced()
    p["spec"]["containers"][-1]["lifecycle"] = {"postStart": {"exec": {"command": [
        "pilot-agent", "wait"]}}}
    assert ids(run("workload-startup", world(pods=[p], logs=logs_of(p, payload_api=RACE)))) == []


def test_start_up_without_logs_is_skipped_not_healthy():
    steps = run("workload-startup", world(pods=[raced()]))
    assert steps[0].status == "skip" and ids(steps) == []


# ----------------------------------------------------------------------------------- HTTP/1.0


OUT_426 = ('[2026-11-20T08:55:01.204Z] "GET /api/orders HTTP/1.0" 426 - http1.low_version - "-" '
           '0 0 0 - "-" "Mozilla/5.0" "a1" "payload-api:8080" "-" - - 10.96.8.201:8080 '
           '10.10.1.60:41234 - -\n')
IN_426 = ('[2026-11-20T08:55:01.204Z] "GET /api/v1/orders HTTP/1.0" 426 - low_version - "-" 0 0 '
          '0 - "10.10.1.60" "curl" "b2" "payload-api:8080" "-" - - 10.10.1.50:8080 '
          '10.10.1.60:37958 - -\n')
OK_200 = ('[2026-11-20T08:55:01.204Z] "GET /api/orders HTTP/1.1" 200 - via_upstream - "-" 0 412 '
          '4 3 "-" "Mozilla/5.0" "c3" "payload-api:8080" "10.10.1.50:8080" '
          'outbound|8080||payload-api.shop.svc.cluster.local 10.10.1.60:41235 10.96.8.201:8080 '
          '10.10.1.60:41234 - default\n')


def test_http10_client_is_the_target():
    web = pod("web-frontend-5c7d-a", deploy="web-frontend", ip="10.10.1.60")
    objs = world(pods=[web], services=[service("web-frontend")],
                 replicasets=[replicaset("web-frontend")], deployments=[deployment("web-frontend")],
                 logs=logs_of(web, istio_proxy=OUT_426 * 3))
    steps = run("workload-http10", objs, "deploy/web-frontend")
    assert ids(steps) == ["http10-upstream-426"]
    f = steps[0].findings[0]
    assert (f.params["service"], f.params["port"], f.params["workload"]) == (
        "payload-api", 8080, "deployment/web-frontend")


def test_http10_client_of_the_target_is_found_by_address():
    api = pod("payload-api-7d9f6c5b4-a", ip="10.10.1.50")
    web = pod("web-frontend-5c7d-a", deploy="web-frontend", ip="10.10.1.60", sidecar=False)
    objs = world(pods=[api, web], services=[service()], logs=logs_of(api, istio_proxy=IN_426))
    steps = run("workload-http10", objs, "svc/payload-api")
    f = steps[0].findings[0]
    assert (f.params["pod"], f.params["workload"], f.params["service"]) == (
        "web-frontend-5c7d-a", "deployment/web-frontend", "payload-api")


def test_http11_traffic_and_missing_logs_are_quiet():
    web = pod("web-frontend-5c7d-a", deploy="web-frontend", ip="10.10.1.60")
    base = {"services": [service("web-frontend")], "replicasets": [replicaset("web-frontend")],
            "deployments": [deployment("web-frontend")]}
    steps = run("workload-http10", world(pods=[web], logs=logs_of(web, istio_proxy=OK_200),
                                         **base), "deploy/web-frontend")
    assert ids(steps) == [] and steps[0].status == "pass"
    steps = run("workload-http10", world(pods=[web], **base), "deploy/web-frontend")
    assert ids(steps) == [] and steps[0].status == "skip"
    assert "meshConfig.accessLogFile is unset" in steps[0].evidence[0]


def test_a_namespace_wide_reason_is_one_finding_listing_the_workloads():
    pods = [pod("payload-api-7d9f6c5b4-a", sidecar=False),
            pod("web-frontend-5c7d-a", deploy="web-frontend", sidecar=False),
            pod("audit-1", deploy="audit", sidecar=False,
                labels={"sidecar.istio.io/inject": "false"})]
    objs = world(pods=pods, namespaces=[namespace(labels={})],
                 replicasets=[replicaset(), replicaset("web-frontend"), replicaset("audit")])
    steps = run("workload-injection", objs, f"ns/{NS}")
    assert ids(steps) == ["sidecar-not-injected", "sidecar-not-injected"]
    wide = next(f for f in steps[0].findings if f.params["reason"].startswith("namespace"))
    assert any(e.startswith("deployment/web-frontend") for e in wide.evidence)


# istioctl analyze's own test table is the oracle for port naming (IST0118)
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "istio"


def _grid_cases():
    grid = json.loads((FIXTURES / "analyzer-test-grid.json").read_text())
    cases = grid if isinstance(grid, list) else next(v for v in grid.values()
                                                     if isinstance(v, list) and v
                                                     and isinstance(v[0], dict))
    return [c for c in cases if c.get("analyzer") == "service.PortNameAnalyzer"
            and not any("external-name" in f for f in c["inputFiles"])]


@pytest.mark.parametrize("case", _grid_cases(), ids=lambda c: c["inputFiles"][0].split("/")[-1])
def test_port_naming_matches_istioctl_analyze(case):
    import yaml
    services = [d for f in case["inputFiles"]
                for d in yaml.safe_load_all((FIXTURES / f).read_text()) if d]
    produced = []
    for svc in services:
        m = svc["metadata"]
        objs = world(pods=[], services=[svc], namespaces=[namespace(m["namespace"])])
        objs[TARGET_SERVICES] = [svc]
        steps = run_check("workload-ports", {"cluster1": objs}, now=NOW,
                          args={"kind": "svc", "name": m["name"], "namespace": m["namespace"]})
        produced += [f"Service {m['namespace']}/{m['name']}" for s in steps
                     for f in s.findings if f.id == "port-protocol-ambiguous"]
    expected = [e["origin"] for e in case["expected"] if e["code"] == "IST0118"]
    assert sorted(produced) == sorted(expected)


def test_udp_of_a_workload_without_sidecar_is_not_reported():
    svc = service("kube-dns-like", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])
    objs = world(pods=[pod("dns-1", deploy="kube-dns-like", sidecar=False)], services=[svc])
    assert ids(run("workload-ports", objs, "svc/kube-dns-like")) == []


def test_log_evidence_never_carries_secrets():
    p = raced()
    log = ("2026-11-20T08:30:09.4Z ERROR dial postgres://payments:s3cr3t@10.0.12.7:5432/orders: "
           "connect: connection refused (password=hunter2, Authorization: Bearer abcdefghijklmnop)\n")
    steps = run("workload-startup", world(pods=[p], logs=logs_of(p, payload_api=log)))
    text = " ".join(e for s in steps for f in s.findings for e in f.evidence)
    assert "connection refused" in text
    assert not any(secret in text for secret in ("s3cr3t", "hunter2", "abcdefghijklmnop"))
