"""`control-plane` and `remote-clusters` checks on small inline objects: objects in, ids out,
for the branches the generated scenarios do not take (node pressure, probes, URLs, `*`, ...)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.checks.external_control_plane import unescaped_slash
from diagnostics.facts import Fact, PerReplica, Unavailable
from diagnostics.inputs import (ISTIOD_LOGS, ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_DEPLOYMENTS,
                                ISTIO_ENDPOINTS, ISTIO_ENDPOINTSLICES, ISTIO_EVENTS, ISTIO_PODS,
                                ISTIO_SECRETS, ISTIO_SERVICES, IstiodLogs, MUTATING_WEBHOOKS,
                                NAMESPACES, Resources, VALIDATING_WEBHOOKS)
from diagnostics.model import Step
from diagnostics.views.control_plane import pod_health
from diagnostics.workloads import image_tag
from tests.check_support import ids, run_check

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
ANNOTATION = "topology.istio.io/controlPlaneClusters"


# ----------------------------------------------------------------------------------- builders


def meta(name: str, namespace: str | None = "istio-system", labels=None, annotations=None):
    m: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if namespace:
        m["namespace"] = namespace
    if annotations:
        m["annotations"] = dict(annotations)
    return m


def istiod(name: str = "istiod-abc12-x1y2z", *, phase: str = "Running", ready: bool = True,
           env: dict[str, str] | None = None, node: str | None = "node-1",
           state: dict | None = None, last: dict | None = None, restarts: int = 0,
           limits: dict | None = None, conditions: list[dict] | None = None) -> dict:
    container = {"name": "discovery", "image": "docker.io/istio/pilot:1.28.1",
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                 "resources": {"requests": {"cpu": "500m", "memory": "2Gi"},
                               **({"limits": limits} if limits else {})}}
    status: dict[str, Any] = {"phase": phase, "conditions": conditions if conditions is not None
                              else [{"type": "Ready", "status": "True" if ready else "False"}]}
    if phase != "Pending" or state:
        status["containerStatuses"] = [{"name": "discovery", "ready": ready,
                                        "restartCount": restarts,
                                        "state": state or {"running": {}},
                                        "lastState": {"terminated": last} if last else {}}]
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    return {"kind": "Pod", "metadata": meta(name, labels={"app": "istiod", "istio": "pilot"}),
            "spec": spec, "status": status}


def node(name: str = "node-1", **conditions: str) -> dict:
    conds = [{"type": "Ready", "status": "True"}]
    conds += [{"type": t, "status": s} for t, s in conditions.items()]
    return {"kind": "Node", "metadata": meta(name, None), "status": {"conditions": conds}}


def event(pod: str, reason: str, message: str, count: int = 3) -> dict:
    return {"kind": "Event", "involvedObject": {"kind": "Pod", "name": pod},
            "reason": reason, "message": message, "type": "Warning", "count": count,
            "lastTimestamp": "2026-11-20T08:59:00Z"}


def istiod_service(selector: dict | None = None, name: str = "istiod") -> dict:
    spec: dict[str, Any] = {"type": "ClusterIP", "ports": [{"name": "https-webhook", "port": 443}]}
    if selector is not None:
        spec["selector"] = selector
    return {"kind": "Service", "metadata": meta(name), "spec": spec}


def lb_service(ip: str, ports=(15012, 15017), name: str = "istio-eastwestgateway") -> dict:
    return {"kind": "Service", "metadata": meta(name),
            "spec": {"type": "LoadBalancer", "ports": [{"port": p} for p in ports]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


def hook(name: str, *, service: str = "istiod", path: str = "/inject", url: str | None = None):
    client = {"url": url} if url else {"service": {"name": service, "namespace": "istio-system",
                                                   "path": path, "port": 443}}
    return {"name": name, "clientConfig": client}


def mutating(*hooks: dict, name: str = "istio-sidecar-injector") -> dict:
    return {"kind": "MutatingWebhookConfiguration", "metadata": meta(name, None),
            "webhooks": list(hooks)}


def validating(*hooks: dict, name: str = "istio-validator-istio-system") -> dict:
    return {"kind": "ValidatingWebhookConfiguration", "metadata": meta(name, None),
            "webhooks": list(hooks)}


def injector(values: dict) -> dict:
    return {"kind": "ConfigMap", "metadata": meta("istio-sidecar-injector"),
            "data": {"values": json.dumps(values)}}


def kubeconfig(server: str = "https://172.18.0.3:6443") -> str:
    return base64.b64encode(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c"}}],
        "users": [{"name": "c", "user": {"token": "REDACTED"}}]}).encode()).decode()


def secret(name: str, key: str, annotation: str | None = None, server: str | None = None):
    return {"kind": "Secret", "metadata": meta(
        name, labels={"istio/multiCluster": "true"},
        annotations={"networking.istio.io/cluster": annotation} if annotation else None),
        "data": {key: kubeconfig(server) if server else kubeconfig()}}


def namespace(annotations: dict | None = None) -> dict:
    return {"kind": "Namespace", "metadata": meta("istio-system", None, annotations=annotations)}


def empty(inp) -> Any:
    if isinstance(inp, Resources):
        return []
    if isinstance(inp, IstiodLogs):
        return PerReplica()
    raise TypeError(inp)


def run(check: str, mesh: dict[str, dict], focus: list[str] | None = None,
        missing: tuple = ()) -> list[Step]:
    """Run one check; `missing` inputs are not captured anywhere."""
    mesh = {c: {**objs, **{inp: Fact(missing=Unavailable(c, inp.describe(), "not captured",
                                                          False)) for inp in missing}}
            for c, objs in mesh.items()}
    return run_check(check, mesh, now=NOW, empty=empty, focus=focus)


def evidence(steps: list[Step]) -> str:
    return "\n".join(e for s in steps for e in s.evidence)


# ------------------------------------------------------------------------------- pod health


@pytest.mark.parametrize("pod, events, starts", [
    (istiod(phase="Pending", ready=False, node=None, conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 Insufficient memory."}]), [],
     "Pending (Unschedulable): 0/3 nodes are available: 3 Insufficient memory."),
    (istiod(phase="Pending", ready=False, node=None, conditions=[]),
     [event("istiod-abc12-x1y2z", "FailedScheduling", "0/2 nodes are available: 2 node(s) had "
            "untolerated taint {dedicated: infra}.")],
     "Pending (FailedScheduling): 0/2 nodes are available: 2 node(s) had untolerated taint"),
    (istiod(phase="Pending", ready=False, state={"waiting": {
        "reason": "ImagePullBackOff", "message": "Back-off pulling image"}}, conditions=[]), [],
     "Pending (ImagePullBackOff): Back-off pulling image"),
    (istiod(ready=False, restarts=7, state={"waiting": {"reason": "CrashLoopBackOff"}},
            last={"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-20T08:52:11Z"}), [],
     "CrashLoopBackOff: last exit Error (exit code 1) at 2026-11-20T08:52:11Z; 7 restarts"),
    (istiod(ready=False, restarts=4, limits={"memory": "1Gi"},
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            last={"reason": "OOMKilled", "exitCode": 137}), [],
     "OOMKilled: out of memory (exit code 137, memory limit 1Gi); 4 restarts"),
    (istiod(ready=False, restarts=1, state={"waiting": {"reason": "CrashLoopBackOff"}},
            last={"reason": "OOMKilled", "exitCode": 137}), [],
     "OOMKilled: out of memory (exit code 137, no memory limit set: the node ran out)"),
    (istiod(ready=False), [event("istiod-abc12-x1y2z", "Unhealthy", "Readiness probe failed: "
                                 "HTTP probe failed with statuscode: 503", 40)],
     "not Ready: Readiness probe failed: HTTP probe failed with statuscode: 503 (40 times)"),
    (istiod(ready=False, conditions=[{"type": "Ready", "status": "False",
                                      "reason": "ContainersNotReady"}]), [],
     "not Ready: ContainersNotReady"),
])
def test_why_an_istiod_pod_does_not_serve(pod, events, starts):
    health = pod_health(pod, events, {})
    assert health.problem is not None and health.problem.startswith(starts), health.problem
    assert health.severity is None


def test_a_healthy_pod_has_no_problem_and_names_version_and_resources():
    health = pod_health(istiod(limits={"memory": "4Gi"}), [], {"node-1": node()})
    assert health.problem is None
    assert "version 1.28.1" in health.summary
    assert "requests cpu 500m memory 2Gi, limits memory 4Gi" in health.summary


def test_a_pod_that_recovered_from_an_oom_kill_is_a_warning():
    health = pod_health(istiod(restarts=2, last={"reason": "OOMKilled", "exitCode": 137}),
                        [], {})
    assert health.severity == "warning" and "OOMKilled" in (health.problem or "")


def test_node_pressure_is_named_with_the_reason_and_alone_as_evidence():
    nodes = {"node-1": node(MemoryPressure="True", DiskPressure="False")}
    bad = pod_health(istiod(ready=False), [], nodes)
    assert bad.problem and bad.problem.endswith("node node-1 reports MemoryPressure")
    fine = pod_health(istiod(), [], nodes)
    assert fine.problem is None and fine.details == ["node node-1: MemoryPressure"]


def test_terminating_pods_are_not_judged():
    pod = istiod(ready=False)
    pod["metadata"]["deletionTimestamp"] = "2026-11-20T08:59:00Z"
    assert pod_health(pod, [], {}).problem is None


@pytest.mark.parametrize("image, version", [
    ("docker.io/istio/pilot:1.28.1", "1.28.1"),
    ("gcr.io/istio-release/pilot:1.22.8-distroless", "1.22.8-distroless"),
    ("localhost:5000/pilot", "latest"),
    ("docker.io/istio/pilot@sha256:0123456789abcdef0123", "sha256:0123456789ab"),
])
def test_image_tag(image, version):
    assert image_tag(image) == version


# ---------------------------------------------------------------------------- istiod-health


def test_a_deployment_without_pods_is_unhealthy():
    dep = {"kind": "Deployment", "metadata": meta("istiod", labels={"app": "istiod"}),
           "spec": {"replicas": 1}, "status": {"conditions": [
               {"type": "ReplicaFailure", "status": "True",
                "message": 'pods "istiod-abc" is forbidden: exceeded quota: compute'}]}}
    steps = run("istiod-health", {"c1": {ISTIO_DEPLOYMENTS: [dep]}})
    assert ids(steps) == [("istiod-unhealthy", "c1")]
    assert "exceeded quota" in steps[0].findings[0].params["reason"]


def test_a_cluster_without_istiod_is_skipped_and_missing_events_do_not_stop_the_step():
    steps = run("istiod-health", {"remote": {}, "c1": {ISTIOD_PODS: [istiod(ready=False)]}},
                missing=(ISTIO_EVENTS,))
    assert [s.status for s in steps] == ["skip", "fail"]
    assert "events in istio-system: not read" in evidence(steps)


def test_mixed_versions_are_evidence():
    old = istiod("istiod-old")
    old["spec"]["containers"][0]["image"] = "docker.io/istio/pilot:1.27.3"
    steps = run("istiod-health", {"c1": {ISTIOD_PODS: [istiod(), old]}})
    assert ids(steps) == [] and "different versions: 1.27.3, 1.28.1" in evidence(steps)


def test_istiod_serving_names_a_cluster_whose_istiod_does_not_serve_from_its_pods_alone():
    """istiod-serving (why-local-only, proxy-status): the same finding as istiod-health where
    no replica of a cluster serves; where another serves, a warning that control-plane says
    why, no finding; the Deployment, events and nodes are not read."""
    looping = istiod("istiod-abc12-loop1", ready=False, restarts=9,
                     state={"waiting": {"reason": "CrashLoopBackOff"}},
                     last={"exitCode": 1, "reason": "Error"})
    steps = run("istiod-serving", {"c1": {ISTIOD_PODS: [looping]}})
    assert ids(steps) == [("istiod-unhealthy", "c1")]
    assert "no istiod replica in c1 is serving" in evidence(steps)
    steps = run("istiod-serving", {"c1": {ISTIOD_PODS: [looping, istiod()]}})
    assert ids(steps) == [] and steps[0].status == "warn"
    assert "1 of 2 istiod replicas in c1 serve its proxies" in evidence(steps)
    steps = run("istiod-serving", {"c1": {ISTIOD_PODS: [istiod()]}, "remote": {}})
    assert steps == []  # every istiod serves: no step of it in these answers
    pared = istiod(conditions=[])  # a capture without conditions: the container's `ready`
    assert run("istiod-serving", {"c1": {ISTIOD_PODS: [pared]}}) == []
    pared["status"]["containerStatuses"][0]["ready"] = False
    assert ids(run("istiod-serving", {"c1": {ISTIOD_PODS: [pared]}})) == [
        ("istiod-unhealthy", "c1")]


def test_only_istiod_pods_whose_discovery_runs_are_asked_for_debug_endpoints():
    """A crash-looping istiod keeps the phase Running with nothing listening: it is not asked
    (its answers would only be 'not read'); a pod whose status names no discovery container
    is asked as before."""
    from diagnostics.sources.base import running_istiod_pods

    looping = istiod("istiod-abc12-loop1", state={"waiting": {"reason": "CrashLoopBackOff"}})
    unknown = istiod("istiod-abc12-other")
    unknown["status"].pop("containerStatuses")
    pending = istiod("istiod-abc12-pend1", phase="Pending")
    assert running_istiod_pods([looping, istiod(), unknown, pending]) == [
        "istiod-abc12-other", "istiod-abc12-x1y2z"]


# --------------------------------------------------------------------------------- webhooks


def primary(over: dict | None = None) -> dict:
    objs = {ISTIOD_PODS: [istiod()], ISTIO_SERVICES: [istiod_service({"app": "istiod"})],
            MUTATING_WEBHOOKS: [mutating(hook("namespace.sidecar-injector.istio.io"))],
            VALIDATING_WEBHOOKS: [validating(hook("rev.validation.istio.io", path="/validate"))]}
    objs.update(over or {})
    return objs


def test_webhooks_that_select_istiod_are_live():
    assert ids(run("webhooks", {"c1": primary()})) == []


@pytest.mark.parametrize("over, expected", [
    ({MUTATING_WEBHOOKS: []}, [("injection-webhook-missing", "c1")]),
    ({VALIDATING_WEBHOOKS: []}, [("validation-webhook-missing", "c1")]),
    ({MUTATING_WEBHOOKS: [mutating(hook("namespace.sidecar-injector.istio.io",
                                        service="istiod-1-27"))]},
     [("injection-webhook-missing", "c1")]),
    ({ISTIO_SERVICES: [istiod_service({"app": "istiod", "istio.io/rev": "canary"})]},
     [("injection-webhook-missing", "c1"), ("validation-webhook-missing", "c1")]),
])
def test_missing_or_dangling_webhooks(over, expected):
    assert ids(run("webhooks", {"c1": primary(over)})) == expected


def test_a_webhook_of_another_tool_does_not_count():
    other = mutating({"name": "mutate.kyverno.svc", "clientConfig": {"service": {
        "name": "kyverno-svc", "namespace": "kyverno", "path": "/mutate"}}}, name="kyverno")
    assert ids(run("webhooks", {"c1": primary({MUTATING_WEBHOOKS: [other]})})) == \
        [("injection-webhook-missing", "c1")]


def test_remote_webhooks_reach_the_primary_through_endpoints_or_a_url():
    slice_ = {"kind": "EndpointSlice", "metadata": meta(
        "istiod", labels={"kubernetes.io/service-name": "istiod"}),
        "endpoints": [{"addresses": ["34.120.10.20"]}]}
    remote = {ISTIO_SERVICES: [istiod_service()], ISTIO_ENDPOINTSLICES: [slice_],
              MUTATING_WEBHOOKS: [mutating(hook("namespace.sidecar-injector.istio.io",
                                                path="/inject/cluster/c2/net/n2"))],
              VALIDATING_WEBHOOKS: [validating(hook(
                  "rev.validation.istio.io", url="https://34.120.10.20:15017/validate"))]}
    c1 = primary({ISTIO_SERVICES: [istiod_service({"app": "istiod"}),
                                   lb_service("34.120.10.20")]})
    steps = run("webhooks", {"c1": c1, "c2": remote}, focus=["c2"])
    assert ids(steps) == []
    assert "endpoints 34.120.10.20 (c1's Service istio-system/istio-eastwestgateway)" in \
        evidence(steps)
    assert "URL to 34.120.10.20 (c1's Service" in evidence(steps)


def test_a_selectorless_service_without_endpoints_is_dead_and_legacy_endpoints_count():
    remote = {ISTIO_SERVICES: [istiod_service()],
              MUTATING_WEBHOOKS: [mutating(hook("namespace.sidecar-injector.istio.io"))],
              VALIDATING_WEBHOOKS: [validating(hook("validation.istio.io", path="/validate"))]}
    assert ids(run("webhooks", {"c2": remote})) == [
        ("injection-webhook-missing", "c2"), ("validation-webhook-missing", "c2")]
    legacy = {"kind": "Endpoints", "metadata": meta("istiod"),
              "subsets": [{"addresses": [{"ip": "34.120.10.20"}]}]}
    assert ids(run("webhooks", {"c2": {**remote, ISTIO_ENDPOINTS: [legacy]}})) == []


def test_a_cluster_hosting_only_an_external_istiod_needs_no_webhooks():
    ext = {ISTIOD_PODS: [istiod(env={"EXTERNAL_ISTIOD": "true", "CLUSTER_ID": "remote1"})],
           ISTIO_SECRETS: [secret("istio-kubeconfig", "config", "remote1")]}
    steps = run("webhooks", {"external": ext})
    assert ids(steps) == [] and steps[0].status == "skip"


# ------------------------------------------------------------------ external control plane


@pytest.mark.parametrize("path, names, bad", [
    ("/inject/cluster/team/a/net/n1", ["team/a", "n1"], "'team/a' is written with a raw '/'"),
    ("/inject/cluster/team--slash--a/net/n1", ["team/a", "n1"], None),
    ("/inject/cluster/c1/net/corp/n1", [], "do not form key/value pairs"),
    ("/inject/cluster/c1/net/n1", ["c1", "n1"], None),
    ("/inject", ["team/a"], None),
    ("/inject/:ENV:cluster=team/a:ENV:net=n1", ["team/a"], None),
])
def test_unescaped_slash_in_injection_paths(path, names, bad):
    found = unescaped_slash(path, names)
    assert (found is None) == (bad is None) and (bad is None or bad in found), found


def external_mesh(annotation: str | None = "remote1", env: dict | None = None,
                  server: str = "https://172.18.0.2:6443") -> dict[str, dict]:
    ext_env = {"EXTERNAL_ISTIOD": "true", "CLUSTER_ID": "remote1", **(env or {})}
    return {
        "external": {ISTIOD_PODS: [istiod(env=ext_env)],
                     ISTIO_SECRETS: [secret("istio-kubeconfig", "config", "remote1", server),
                                     secret("istio-remote-secret-remote2", "remote2")],
                     ISTIO_SERVICES: [lb_service("34.98.40.50")]},
        "remote1": {NAMESPACES: [namespace()],
                    ISTIO_CONFIGMAPS: [injector({"global": {"multiCluster": {
                        "clusterName": "remote1"}}})]},
        "remote2": {NAMESPACES: [namespace({ANNOTATION: annotation} if annotation else None)],
                    ISTIO_CONFIGMAPS: [injector({"global": {"multiCluster": {
                        "clusterName": "remote2"}}})]},
    }


@pytest.mark.parametrize("annotation, expected", [
    ("remote1", []), ("*", []), ("other,remote1", []),
    (None, [("control-plane-clusters-annotation-missing", "remote2")]),
    ("cluster9", [("control-plane-clusters-annotation-missing", "remote2")]),
])
def test_remotes_of_an_external_istiod_must_name_it(annotation, expected):
    steps = run("external-control-plane", external_mesh(annotation))
    assert ids(steps) == expected
    for f in (f for s in steps for f in s.findings):
        assert f.params["peer_cluster"] == "remote1" and f.params["peer_context"] == "external"


def test_a_primary_without_external_istiod_is_not_led_by_annotation():
    mesh = external_mesh(None)
    mesh["external"][ISTIOD_PODS] = [istiod(env={"CLUSTER_ID": "external"})]
    steps = run("external-control-plane", mesh)
    assert ids(steps) == []
    assert "runs without EXTERNAL_ISTIOD: the annotation is not consulted" in evidence(steps)


def test_a_loopback_config_kubeconfig_and_a_missing_gateway():
    mesh = external_mesh(server="https://127.0.0.1:6443")
    mesh["external"][ISTIO_SERVICES] = [lb_service("34.98.40.50", ports=(15443,))]
    steps = run("external-control-plane", mesh, focus=["external"])
    assert ids(steps) == [("remote-kubeconfig-invalid", "external")]
    assert "no load balancer in istio-system exposes 15012 and 15017" in evidence(steps)
    mesh = external_mesh()
    mesh["external"][ISTIO_SERVICES] = []
    steps = run("external-control-plane", mesh, focus=["external"])
    assert ids(steps) == [] and steps[0].status == "warn"


def test_an_unescaped_injection_url_is_found_on_the_remote():
    mesh = external_mesh()
    mesh["remote1"][ISTIO_CONFIGMAPS] = [injector({"global": {
        "multiCluster": {"clusterName": "prod/remote1"}, "network": "network1"}})]
    url = "https://istiod.example.com:15017/inject/cluster/prod/remote1/net/network1"
    mesh["remote1"][MUTATING_WEBHOOKS] = [mutating(hook("namespace.sidecar-injector.istio.io",
                                                        url=url))]
    steps = run("external-control-plane", mesh, focus=["remote1"])
    assert ids(steps) == [("injection-url-unescaped-slash", "remote1")]
    assert steps[0].findings[0].params["url"] == url


# ----------------------------------------------------------------------------- cluster ids


def primary_ids(cid: str | None, *secrets: dict, values: str | None = None) -> dict:
    env = {"CLUSTER_ID": cid} if cid else {}
    objs: dict = {ISTIOD_PODS: [istiod(env=env)], ISTIO_SECRETS: list(secrets)}
    if values:
        objs[ISTIO_CONFIGMAPS] = [injector({"global": {"multiCluster": {"clusterName": values}}})]
    return objs


def test_distinct_ids_are_healthy():
    mesh = {"c1": primary_ids("c1", secret("istio-remote-secret-c2", "c2")),
            "c2": primary_ids("c2", secret("istio-remote-secret-c1", "c1"))}
    assert ids(run("cluster-ids", mesh)) == []


def test_two_istiods_on_the_default_id_collide():
    mesh = {"c1": primary_ids(None), "c2": primary_ids(None)}
    steps = run("cluster-ids", mesh)
    assert ids(steps) == [("cluster-id-collision", "c2")]
    assert steps[0].findings[0].params["cluster_id"] == "Kubernetes"


def test_a_secret_keyed_by_istiods_own_id_is_ignored_and_the_log_line_is_evidence():
    log = ("2026-11-19T10:30:01.000000Z\tinfo\tignoring cluster as it would overwrite the config "
           "cluster\tcluster=c1 secret=istio-system/istio-remote-secret-c1\n")
    mesh = {"c1": primary_ids("c1"),
            "c2": {**primary_ids("c1", secret("istio-remote-secret-c1", "c1", "c1")),
                   ISTIOD_LOGS: PerReplica({"istiod-2": log})}}
    steps = run("cluster-ids", mesh)
    assert ids(steps) == [("cluster-id-collision", "c2")]
    finding = steps[0].findings[0]
    assert finding.params["peer_cluster"] == "c1" and finding.params["secret"] == \
        "istio-remote-secret-c1"
    assert any("ignoring cluster as it would overwrite" in e for e in finding.evidence)


def test_one_id_in_two_secrets_is_registered_once():
    mesh = {"c1": primary_ids("c1", secret("istio-remote-secret-c2", "c2", "c2"),
                              secret("istio-remote-secret-c3", "c2", "c3")),
            "c2": primary_ids("c2"), "c3": primary_ids("c3")}
    steps = run("cluster-ids", mesh, focus=["c1"])
    assert ids(steps) == [("cluster-id-collision", "c1")]
    assert steps[0].findings[0].params["peer_cluster"] == "c3"


def test_an_external_istiod_carries_its_config_clusters_id():
    ext = primary_ids("remote1", secret("istio-kubeconfig", "config", "remote1"))
    ext[ISTIOD_PODS] = [istiod(env={"CLUSTER_ID": "remote1", "EXTERNAL_ISTIOD": "true"})]
    mesh = {"external": ext, "remote1": {ISTIO_CONFIGMAPS: [injector({"global": {
        "multiCluster": {"clusterName": "remote1"}}})]}}
    steps = run("cluster-ids", mesh)
    assert ids(steps) == [] and "runs an external istiod with CLUSTER_ID remote1" in \
        evidence(steps)


def test_gateway_proxies_give_the_id_of_a_cluster_without_istiod_or_values():
    gw = {"kind": "Pod", "metadata": meta("gw-1", labels={"istio": "eastwestgateway"}),
          "spec": {"containers": [{"name": "istio-proxy", "env": [
              {"name": "ISTIO_META_CLUSTER_ID", "value": "c1"}]}]}, "status": {}}
    mesh = {"c1": primary_ids("c1"), "c2": {ISTIO_PODS: [gw]}}
    assert ids(run("cluster-ids", mesh)) == [("cluster-id-collision", "c2")]


def test_a_namespaces_sidecars_are_read_once_per_distinct_proxy(monkeypatch):
    """The replicas of a workload share their decoded containers (parse/k8s_lists.py): the
    cluster id their sidecars state is read once per distinct set of containers and
    proxy-config annotation (whichever pod comes first), and every claim names the first pod
    by name, as before."""
    from diagnostics import identity
    from diagnostics.inputs import TARGET_PODS
    from diagnostics.parse.k8s_lists import decode_list

    def replica(name: str, cluster: str, config: str | None = None) -> dict:
        annotations = {"proxy.istio.io/config": config} if config else {}
        return {"kind": "Pod", "metadata": meta(name, labels={"app": "api"},
                                                annotations=annotations),
                "spec": {"containers": [{"name": "api"}, {"name": "istio-proxy", "env": [
                    {"name": "ISTIO_META_CLUSTER_ID", "value": cluster}]}]}, "status": {}}

    listed = [replica(f"api-{i:02d}", "c1") for i in range(30)]
    listed += [replica("api-x", "c9"), replica("api-y", "c1", "proxyMetadata: {}")]
    body = json.dumps({"kind": "PodList", "items": listed[::-1]}).encode()
    pods = decode_list(body, "Pod", metadata_only=False)["items"]
    read: list[str] = []
    real = identity.proxy_env
    monkeypatch.setattr(identity, "proxy_env",
                        lambda pod, name: read.append(pod["metadata"]["name"]) or real(pod, name))
    found = identity.discover({TARGET_PODS: Fact(pods)})
    assert len(read) == 3 and {"api-x", "api-y"} < set(read)  # once per distinct proxy
    assert [(c.value, c.where) for c in found.claims] == [
        ("c1", "pod istio-system/api-00"), ("c9", "pod istio-system/api-x")]
