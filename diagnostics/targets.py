"""What `check <kind>/<name>` is about: the pods, workloads and Services behind a target.

kubectl spellings resolve to four kinds (pod, deploy, svc, ns). A Deployment is followed through
its ReplicaSets to its pods (owner references, as `kubectl` does), a Service through its selector,
a namespace to every workload in it. Shared by the engine (which pods' logs to read) and the
checks (what to examine), so both agree on the target; pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import NamedTuple

from diagnostics.selectors import label_selector_matches, selector_matches
from diagnostics.workloads import (PROXY_CONTAINER, containers_key, has_sidecar, labels_of, name_of,
                                   namespace_of)

# The Kubernetes objects a target is resolved from (the command's namespace).

KINDS = {
    "pod": ("pod", "pods", "po"),
    "deploy": ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps"),
    "svc": ("svc", "service", "services"),
    "ns": ("ns", "namespace", "namespaces"),
}
KIND_NAMES = {"pod": "Pod", "deploy": "Deployment", "svc": "Service", "ns": "Namespace"}

POD_TEMPLATE_HASH = "pod-template-hash"

#: Logs are read for at most this many pods per workload and per cluster.
LOG_PODS_PER_WORKLOAD = 2
LOG_PODS_PER_CLUSTER = 20


def normalize_kind(word: str) -> str | None:
    """kubectl's spellings of the four kinds `check` takes → pod | deploy | svc | ns."""
    low = word.lower()
    return next((k for k, words in KINDS.items() if low in words), None)


def owner_of(obj: dict) -> tuple[str, str] | None:
    """(kind, name) of the controlling owner, else of the first."""
    refs = (obj.get("metadata") or {}).get("ownerReferences")
    if not refs:
        return None
    ref = next((r for r in refs if r.get("controller")), refs[0])
    return str(ref.get("kind", "")), str(ref.get("name", ""))


class PodState(NamedTuple):
    """What a pod's spec and status say that the log choice and several checks ask of every
    pod of the target, read in one pass per pod: each question was a pass of its own over a
    namespace's 10,000 pods (the overview, the ranking of logs, the sidecar split), together
    most of a second of a `check`. A tuple: ten thousand are made at once."""

    ready: bool  # is_ready: Running, not being deleted, and the Ready condition
    ready_condition: bool  # the Ready condition alone
    restarts: int  # of every container and init container
    phase: str
    waiting: frozenset[str]  # why its containers wait (ContainerCreating, CrashLoopBackOff)
    failed_inits: frozenset[str]  # init containers that exited non-zero or crash-loop
    sidecar: bool  # has_sidecar
    containers_ready: bool  # every container status says ready (the probes' ranking)
    inits_done: tuple[str, ...]  # init containers whose status says they exited 0


def pod_state(pod: dict) -> PodState:
    """A pod's PodState (pure: the pod is not modified)."""
    return pod_states([pod])[0]


def pod_states(pods: list[dict]) -> list[PodState]:
    """Each pod's PodState, in order. Most pods wait for nothing and had no init container
    fail: what those would need (the spec's container names) is read only when one does.
    What the replicas of a workload share once decoded (their conditions, without times, and
    their container lists: parse/k8s_lists.py) is read once per shared object. Plain loops:
    on 10,000 pods generators and calls cost a fifth more."""
    ready_by: dict[int, bool] = {}  # by the conditions list
    sidecar_by: dict[tuple[int, int], bool] = {}  # by the container lists
    out = []
    for pod in pods:
        status = pod.get("status") or {}
        statuses = status.get("containerStatuses") or ()
        init_statuses = status.get("initContainerStatuses") or ()
        restarts, waits, failed, done, ready_all = 0, [], [], [], True
        for group in (statuses, init_statuses):
            for st in group:
                restarts += int(st.get("restartCount") or 0)
                state = st.get("state")
                if state and (state.get("waiting") or {}).get("reason"):
                    waits.append(st)
        for st in statuses:
            if not st.get("ready"):
                ready_all = False
                break
        for st in init_statuses:
            if _status_failed(st):
                failed.append(st)
            if ((st.get("state") or {}).get("terminated") or {}).get("exitCode") == 0:
                done.append(st.get("name"))
        conditions = status.get("conditions") or ()
        ready_condition = ready_by.get(id(conditions))
        if ready_condition is None:
            ready_condition = ready_by[id(conditions)] = _ready_condition(conditions)
        lists = containers_key(pod)
        sidecar = sidecar_by.get(lists)
        if sidecar is None:
            sidecar = sidecar_by[lists] = has_sidecar(pod)
        phase = status.get("phase")
        deleting = (pod.get("metadata") or {}).get("deletionTimestamp")
        out.append(PodState(ready_condition and phase == "Running" and not deleting,
                            ready_condition, restarts, phase if phase is not None else "?",
                            _waiting(pod, waits) if waits else _NONE,
                            _failed_inits(pod, failed) if failed else _NONE,
                            sidecar, ready_all, tuple(done)))
    return out


def _ready_condition(conditions: list[dict]) -> bool:
    for condition in conditions:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return True
    return False


_NONE: frozenset[str] = frozenset()


def _waiting(pod: dict, waits: list[dict]) -> frozenset[str]:
    """Why the pod's containers wait: each container's first status (as kubectl reads it)."""
    containers, inits = _container_names(pod)
    first: dict[str, dict] = {}
    status = pod.get("status") or {}
    for st in (*(status.get("containerStatuses") or ()),
               *(status.get("initContainerStatuses") or ())):
        first.setdefault(st.get("name"), st)
    return frozenset(st["state"]["waiting"]["reason"] for st in waits
                     if st.get("name") in containers + inits and first[st.get("name")] is st)


def _failed_inits(pod: dict, failed: list[dict]) -> frozenset[str]:
    inits = _container_names(pod)[1]
    return frozenset(st.get("name") for st in failed if st.get("name") in inits)


def _status_failed(st: dict) -> bool:
    """An init container's status: it exited non-zero, or crash-loops (now or before)."""
    for key in ("state", "lastState"):
        state = st.get(key)
        if state:
            done = state.get("terminated")
            if done and done.get("exitCode", 0) != 0:
                return True
            if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return True
    return False


def count_of(pods: list[dict], stands_for: dict[str, int]) -> int:
    """How many pods `pods` count as: each itself, and the pods it stands for (by name)."""
    return sum(stands_for.get(name_of(p), 1) for p in pods) if stands_for else len(pods)


@dataclass
class Workload:
    """One workload of the target: a Deployment (with its ReplicaSets), a StatefulSet, a pod."""

    ref: str  # kubectl kind/name: deployment/payload-api, statefulset/ledger-db, pod/x
    pods: list[dict] = field(default_factory=list)
    replicasets: list[dict] = field(default_factory=list)
    deployment: dict | None = None  # the Deployment object, when read
    found_by: str = "owner references"  # how its pods were found
    # How many pods a pod read whole stands for, by name, where more than itself: a big
    # namespace's settled replicas are read two a class (diagnostics/namespace_pods.py).
    stands_for: dict[str, int] = field(default_factory=dict)

    def weight(self, pod: dict) -> int:
        """How many of the workload's pods `pod` counts as (itself, and those it stands for)."""
        return self.stands_for.get(name_of(pod), 1) if self.stands_for else 1

    def counted(self, pods: list[dict]) -> int:
        """How many of the workload's pods `pods` (some of its `pods`) count as."""
        return count_of(pods, self.stands_for)

    @property
    def count(self) -> int:
        """How many pods the workload has."""
        return self.counted(self.pods)

    @property
    def wanted(self) -> int | None:
        """How many replicas its Deployment asks for: its spec, else what its ReplicaSets ask
        for (None: neither was read)."""
        if self.deployment is not None:
            replicas = (self.deployment.get("spec") or {}).get("replicas")
            return 1 if replicas is None else int(replicas)
        asked = [(rs.get("spec") or {}).get("replicas") for rs in self.replicasets]
        known = [int(r) for r in asked if r is not None]
        return sum(known) if known else None

    @property
    def kind(self) -> str:
        return self.ref.split("/", 1)[0]

    @cached_property
    def _states(self) -> dict[int, PodState]:
        """Its pods' PodStates by the pod's id, read once: a workload's pods are settled
        (and kept alive by it) when `resolve` returns it."""
        return dict(zip(map(id, self.pods), pod_states(self.pods)))

    def state(self, pod: dict) -> PodState:
        """The PodState of one of its pods."""
        return self._states[id(pod)]

    @cached_property
    def _by_sidecar(self) -> tuple[list[dict], list[dict]]:
        """Its pods with a sidecar and without, in order, told apart once: several checks
        ask, and a namespace of 10,000 pods made that 100,000 reads of their containers."""
        with_sidecar: list[dict] = []
        without: list[dict] = []
        for pod in self.pods:
            (with_sidecar if self.state(pod).sidecar else without).append(pod)
        return with_sidecar, without

    @property
    def sidecar_pods(self) -> list[dict]:
        return self._by_sidecar[0]

    @property
    def pods_without_sidecar(self) -> list[dict]:
        return self._by_sidecar[1]

    @property
    def name(self) -> str:
        return self.ref.split("/", 1)[1]


@dataclass
class Target:
    kind: str  # pod | deploy | svc | ns
    name: str
    namespace: str
    found: bool = False
    workloads: list[Workload] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)  # Services of these pods (or the svc)
    service: dict | None = None  # the Service itself, for `svc/<name>`
    stands_for: dict[str, int] = field(default_factory=dict)  # as Workload.stands_for

    @cached_property
    def pods(self) -> list[dict]:
        """Every workload's pods, gathered once: checks ask per Service port (a hundred
        Services over 10,000 pods). Settled, like its workloads, when `resolve` returns."""
        return [p for w in self.workloads for p in w.pods]

    @cached_property
    def sidecar_pods(self) -> list[dict]:
        """`pods` that run a sidecar, in the same order."""
        return [p for w in self.workloads for p in w.sidecar_pods]

    def counted(self, pods: list[dict]) -> int:
        """How many of the target's pods `pods` (some of its `pods`) count as (Workload.count)."""
        return count_of(pods, self.stands_for)

    @property
    def count(self) -> int:
        """How many pods the target has."""
        return self.counted(self.pods)

    @property
    def sidecar_count(self) -> int:
        """How many of them run a sidecar."""
        return self.counted(self.sidecar_pods)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind != "ns" else f"namespace {self.name}"


def hashed_deployment(pod: dict) -> str | None:
    """The Deployment a pod belongs to by name alone: a Deployment's ReplicaSet is named
    `<deployment>-<pod-template-hash>` and stamps that hash on its pods, so the pod's owner
    name gives the Deployment without reading any ReplicaSet."""
    owner = owner_of(pod)
    pod_hash = labels_of(pod).get(POD_TEMPLATE_HASH)
    if owner and owner[0] == "ReplicaSet" and pod_hash and owner[1].endswith(f"-{pod_hash}"):
        return owner[1][:-len(pod_hash) - 1]
    return None


def workload_of(pod: dict, replicasets: dict[str, dict]) -> str:
    """The workload a pod belongs to as kubectl kind/name, via its ReplicaSet's owner
    (`replicasets` by name)."""
    owner = owner_of(pod)
    if not owner:
        return f"pod/{name_of(pod)}"
    kind, name = owner
    if kind == "ReplicaSet":
        rs = replicasets.get(name)
        rs_owner = owner_of(rs) if rs else None
        if rs_owner and rs_owner[0] == "Deployment":
            return f"deployment/{rs_owner[1]}"
        deployment = hashed_deployment(pod) if rs is None else None
        if deployment:
            return f"deployment/{deployment}"
    return f"{kind.lower()}/{name}"


def _services_of(pods: list[dict], services: list[dict]) -> list[dict]:
    sel = lambda s: (s.get("spec") or {}).get("selector")  # noqa: E731
    return [s for s in services if any(selector_matches(sel(s), labels_of(p)) for p in pods)]


class _ReplicaSets:
    """A namespace's ReplicaSets by name and by owning Deployment, indexed once: a namespace
    of 10,000 pods and a thousand ReplicaSets (ten revisions kept of a hundred Deployments)
    made looking each pod's up in the list ten million comparisons."""

    def __init__(self, replicasets: list[dict]):
        self.by_name: dict[str, dict] = {}
        self.by_deployment: dict[str, list[dict]] = {}
        for rs in replicasets:
            self.by_name.setdefault(name_of(rs), rs)  # names are unique in a namespace
            owner = owner_of(rs)
            if owner and owner[0] == "Deployment":
                self.by_deployment.setdefault(owner[1], []).append(rs)
        for owned in self.by_deployment.values():
            owned.sort(key=name_of)

    def of(self, deployment: str) -> list[dict]:
        """The Deployment's ReplicaSets, sorted by name (a list of its own)."""
        return list(self.by_deployment.get(deployment, ()))


def _group(pods: list[dict], replicasets: _ReplicaSets) -> list[Workload]:
    """Pods by workload. workload_of reads a pod's owner references and labels only, which a
    workload's replicas share as one object when read from a list (parse/k8s_lists.py ALIKE):
    it is asked once per distinct pair."""
    by_ref: dict[str, Workload] = {}
    refs: dict[tuple[int, int], str] = {}
    for pod in sorted(pods, key=name_of):
        meta = pod.get("metadata") or {}
        owners = meta.get("ownerReferences")
        key = (id(owners), id(meta.get("labels"))) if owners else None
        ref = refs.get(key) if key else None
        if ref is None:
            ref = workload_of(pod, replicasets.by_name)
            if key:
                refs[key] = ref
        workload = by_ref.get(ref)
        if workload is None:
            workload = by_ref[ref] = Workload(ref)
        workload.pods.append(pod)
    for w in by_ref.values():
        if w.kind == "deployment":
            w.replicasets = replicasets.of(w.name)
    return [by_ref[r] for r in sorted(by_ref)]


def deployment_workload(name: str, dep: dict | None, pods: list[dict],
                        replicasets: _ReplicaSets) -> Workload:
    """A Deployment's pods: through its ReplicaSets (owner references, as kubectl follows
    them), or, with no ReplicaSet read (a snapshot or RBAC without them), through the
    ReplicaSet name and `pod-template-hash` its pods carry, and last through the Deployment's
    own selector (pods that carry a `pod-template-hash`, as a Deployment's pods do)."""
    rss = replicasets.of(name)
    rs_names = {name_of(r) for r in rss}
    mine = [p for p in pods if (owner_of(p) or ("", ""))[0] == "ReplicaSet"
            and (owner_of(p)[1] in rs_names or hashed_deployment(p) == name)]
    found_by = "owner references" if rss else "ReplicaSet name and pod-template-hash"
    selector = ((dep or {}).get("spec") or {}).get("selector")
    if not mine and selector:
        mine = [p for p in pods if POD_TEMPLATE_HASH in labels_of(p)
                and label_selector_matches(selector, labels_of(p))]
        found_by = "the Deployment's selector"
    return Workload(f"deployment/{name}", sorted(mine, key=name_of), rss, dep, found_by)


def resolve(kind: str, name: str, namespace: str, *, pods: list[dict], services: list[dict],
            replicasets: list[dict], deployments: list[dict] | None,
            stands_for: dict[str, int] | None = None) -> Target:
    """The target in one cluster; `deployments=None` when they could not be read;
    `stands_for`: how many pods a pod read counts as, where more than itself."""
    pods = [p for p in pods if namespace_of(p) == namespace]
    services = [s for s in services if namespace_of(s) == namespace]
    replicasets = [r for r in replicasets if namespace_of(r) == namespace]
    indexed = _ReplicaSets(replicasets)
    target = Target(kind, name, namespace)
    if kind == "pod":
        mine = [p for p in pods if name_of(p) == name]
        target.found = bool(mine)
        target.workloads = _group(mine, indexed)
        target.services = _services_of(mine, services)
    elif kind == "deploy":
        dep = next((d for d in deployments or [] if name_of(d) == name
                    and namespace_of(d) == namespace), None)
        workload = deployment_workload(name, dep, pods, indexed)
        target.found = dep is not None or bool(workload.replicasets) or bool(workload.pods)
        if target.found:
            target.workloads = [workload]
        target.services = _services_of(workload.pods, services)
    elif kind == "svc":
        svc = next((s for s in services if name_of(s) == name), None)
        target.found = svc is not None
        if svc is not None:
            selector = (svc.get("spec") or {}).get("selector")
            mine = [p for p in pods if selector_matches(selector, labels_of(p))]
            target.service = svc
            target.workloads = _group(mine, indexed)
            others = [s for s in _services_of(mine, services) if name_of(s) != name]
            target.services = [svc] + others
    elif kind == "ns":
        target.found = bool(pods) or bool(services) or bool(replicasets)
        target.workloads = _group(pods, indexed)
        known = {w.ref: w for w in target.workloads}
        for d in sorted(deployments or [], key=name_of):  # e.g. every pod rejected at admission
            if namespace_of(d) != namespace:
                continue
            if f"deployment/{name_of(d)}" in known:
                known[f"deployment/{name_of(d)}"].deployment = d
            else:
                target.workloads.append(Workload(f"deployment/{name_of(d)}", [],
                                                 indexed.of(name_of(d)), d))
        target.workloads.sort(key=lambda w: w.ref)
        target.services = sorted(services, key=name_of)
    if stands_for:
        target.stands_for = stands_for
        for w in target.workloads:
            w.stands_for = stands_for
    return target


@dataclass(eq=False)
class TargetQuery:
    """The command's target in one cluster, asked of the objects it is resolved from, and
    resolved on the first ask: the log choice (diagnostics/target_fetch.py) and every `check`
    check share one resolution (with its PodStates) per cluster and diagnosis. Resolving
    twice cost a quarter of a second of a namespace of 10,000 pods; a cluster nobody asks
    about (one `--cluster` leaves out) is never resolved. `deployments=None` when they could
    not be read."""

    kind: str
    name: str
    namespace: str
    pods: list[dict]
    services: list[dict]
    replicasets: list[dict]
    deployments: list[dict] | None
    stands_for: dict[str, int] = field(default_factory=dict)

    @cached_property
    def target(self) -> Target:
        return resolve(self.kind, self.name, self.namespace, pods=self.pods,
                       services=self.services, replicasets=self.replicasets,
                       deployments=self.deployments, stands_for=self.stands_for)


# ------------------------------------------------------------------------------ which logs


def _container_names(pod: dict) -> tuple[list[str], list[str]]:
    spec = pod.get("spec") or {}
    return ([c.get("name", "") for c in spec.get("containers") or []],
            [c.get("name", "") for c in spec.get("initContainers") or []])


def _init_failed(pod: dict, container: str) -> bool:
    return any(_status_failed(st) for st in (pod.get("status") or {}).get(
        "initContainerStatuses") or [] if st.get("name") == container)


def _trouble(state: PodState) -> int:
    """How much a pod's status suggests trouble: restarts, not ready (logs worth reading)."""
    return (state.restarts + (0 if state.ready_condition else 1)
            + (10 if state.failed_inits else 0))


def log_containers(pod: dict) -> list[str]:
    """The containers of a pod whose logs `check` reads: the sidecar (access log), the app
    containers of a pod with a sidecar (start-up errors), istio-init when it failed."""
    containers, inits = _container_names(pod)
    out = []
    if has_sidecar(pod):
        out += [c for c in containers if c != PROXY_CONTAINER]
        out.append(PROXY_CONTAINER)
    out += [c for c in inits if c == "istio-init" and _init_failed(pod, c)]
    return out


def previous_log_containers(pod: dict) -> list[str]:
    """The app containers whose previous run is read too: those that restarted after a
    termination (`kubectl logs --previous` has something to show)."""
    wanted = set(log_containers(pod)) - {PROXY_CONTAINER}
    return [st.get("name", "") for st in (pod.get("status") or {}).get("containerStatuses") or []
            if st.get("name") in wanted and int(st.get("restartCount") or 0) > 0
            and ((st.get("lastState") or {}).get("terminated"))]


def log_reads(pods: list[dict]) -> list[tuple[dict, str, bool]]:
    """(pod, container, previous run?) for every log `check` reads of these pods."""
    current = [(pod, c, False) for pod in pods for c in log_containers(pod)]
    return current + [(pod, c, True) for pod in pods for c in previous_log_containers(pod)]


def log_pods(target: Target) -> list[dict]:
    """The pods whose logs are read: per workload the most troubled first, capped."""
    chosen = []
    for w in target.workloads:
        ranked = sorted(w.pods, key=lambda p: (-_trouble(w.state(p)), name_of(p)))
        chosen += islice((p for p in ranked if log_containers(p)), LOG_PODS_PER_WORKLOAD)
    return chosen[:LOG_PODS_PER_CLUSTER]
