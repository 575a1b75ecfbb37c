"""Scenarios of targets and clients as users meet them: missing `check` targets, Deployments
whose pods were refused, captures without the ReplicaSets that link a Deployment to its pods,
and a `why-local-only` client whose view istiod cannot give.

`expected` states what a perfect diagnosis reports, decided from the meanings of the finding
ids in DESIGN.md C3: a target that exists nowhere is a finding with similar names, and a
Deployment that wants pods and has none is never healthy.
"""

from __future__ import annotations

from tests.meshgen.model import Mesh, default_mesh, sleep
from tests.meshgen.scenarios import Expected, scenario
from tests.meshgen.scenarios_workloads import _check, _proxy_status
from tests.meshgen.workload_knobs import WorkloadKnobs


@scenario("check-workload-not-found")
def check_not_found() -> tuple[Mesh, Expected]:
    return default_mesh(), _check(
        "deploy/helloworld-v3 exists in no cluster (v1 runs in cluster1, v2 in cluster2): a "
        "finding naming the similar Deployments, not an inconclusive answer.", "problem",
        ["workload-not-found"], ["deploy/helloworld-v3", "-n", "sample"], cluster=None)


@scenario("check-namespace-not-found")
def check_namespace_not_found() -> tuple[Mesh, Expected]:
    return default_mesh(), _check(
        "ns/sampel is a typo of sample: no cluster has that namespace; the finding names "
        "sample.", "problem", ["workload-not-found"], ["ns/sampel"], cluster=None)


@scenario("check-pod-not-found")
def check_pod_not_found() -> tuple[Mesh, Expected]:
    return default_mesh(), _check(
        "pod/helloworld-v1-85n7gs95l4-9wc9v mistypes the last letter of cluster1's "
        "helloworld-v1 pod: the pod, read by name, exists nowhere; the finding names the "
        "similar pod from the namespace's pod names.", "problem", ["workload-not-found"],
        ["pod/helloworld-v1-85n7gs95l4-9wc9v", "-n", "sample"], cluster=None)


@scenario("check-deploy-refused-by-quota")
def check_refused() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").workload("helloworld-v1").knobs = WorkloadKnobs(
        refused_by_quota="compute-quota")
    return mesh, _check(
        "helloworld-v1 asks for one replica but the ResourceQuota compute-quota refuses its pod "
        "(exceeded quota: limits.memory): its ReplicaSet records ReplicaFailure and FailedCreate, "
        "no pod exists. Never healthy: the finding gives the ReplicaSet's reason.", "problem",
        ["workload-no-pods"], ["deploy/helloworld-v1", "-n", "sample"])


@scenario("check-deploy-without-replicasets")
def check_without_replicasets() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").workload("helloworld-v1").knobs = WorkloadKnobs(injected=False)
    mesh.uncaptured = ("replicasets.apps",)
    return mesh, _check(
        "Captured without ReplicaSets (RBAC without them): helloworld-v1's pods are found "
        "through their ReplicaSet's name and pod-template-hash, so the missing sidecar is still "
        "seen.", "problem", ["sidecar-not-injected"], ["deploy/helloworld-v1", "-n", "sample"])


@scenario("client-fallback-first-unconfigured")
def client_fallback() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c1 = mesh.cluster("cluster1")
    curl = sleep()
    curl.name, curl.app, curl.service_account = "curl", "curl", "curl"
    curl.knobs = WorkloadKnobs(connected=False)
    c1.workloads.append(curl)
    return mesh, Expected(
        "A healthy mesh where cluster1's first client pod by name (curl) runs a sidecar that "
        "no istiod lists, so istiod has no config for it: meshbot reads the next client "
        "(sleep) instead, says so, and sees both clusters' endpoints: healthy, not "
        "inconclusive.", "healthy", [])


@scenario("proxy-status-namespace-not-found")
def proxy_status_namespace_not_found() -> tuple[Mesh, Expected]:
    return default_mesh(), _proxy_status(
        "proxy-status -n sampel: no cluster has that namespace, so there is no proxy to list; "
        "a finding naming sample, not an empty healthy answer.", "problem",
        ["namespace-not-found"], args=["-n", "sampel"])


@scenario("ping")
def ping() -> tuple[Mesh, Expected]:
    return default_mesh(), Expected(
        "Both clusters list their namespaces: meshbot can read every cluster.", "healthy", [],
        command="ping", args=[])
