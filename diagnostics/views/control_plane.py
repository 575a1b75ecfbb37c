"""What a cluster's istiod pods and install objects say about its control plane.

Shared by the `control-plane` and `remote-clusters` checks (no check is registered here):

- an istiod's identity: its `CLUSTER_ID` (default `Kubernetes`), and whether it runs as an
  external control plane (`EXTERNAL_ISTIOD=true`) whose config cluster is another cluster, read
  through the config-type secret `istio-kubeconfig` (key `config`, docs/istio-surface.md §3.1)
  or a `KUBECONFIG` it was given;
- which cluster of the mesh carries an Istio cluster id (its own name, or the
  `global.multiCluster.clusterName` of its install values);
- the health of one istiod pod, in the words `kubectl describe` would use: Pending and why,
  CrashLoopBackOff with the last termination, OOMKilled with the memory limit, not Ready, and
  the pressure conditions of its node.

Input constants used by several checks are defined here rather than in diagnostics/inputs.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from diagnostics.model import Severity
from diagnostics.views.mesh import install_value
from diagnostics.views.secrets import is_config_secret, is_remote_secret
from diagnostics.workloads import image_tag, labels_of, name_of, namespace_of


DEFAULT_CLUSTER_ID = "Kubernetes"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
DISCOVERY = "discovery"
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


# ---------------------------------------------------------------------------------- identity


def istiod_container(pod: dict) -> dict:
    """The `discovery` container of an istiod pod (or its first container)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    return next((c for c in containers if c.get("name") == DISCOVERY),
                containers[0] if containers else {})


def container_env(container: dict) -> dict[str, str]:
    """Literal env values of a container (valueFrom entries are left out)."""
    return {str(e["name"]): str(e["value"]) for e in container.get("env") or []
            if e.get("name") and isinstance(e.get("value"), str)}


def istiod_env(pod: dict) -> dict[str, str]:
    return container_env(istiod_container(pod))


def cluster_id_of(pod: dict) -> str:
    """istiod's cluster id: env CLUSTER_ID, which defaults to `Kubernetes`."""
    return istiod_env(pod).get("CLUSTER_ID") or DEFAULT_CLUSTER_ID


def peer_secrets(secrets: list[dict]) -> list[dict]:
    """The `istio/multiCluster=true` secrets that describe remote clusters."""
    return [s for s in secrets if is_remote_secret(s) and not is_config_secret(s)]


@dataclass
class ControlPlane:
    """The istiod of one cluster, as its pods and secrets describe it."""

    cluster: str  # where the pods run
    pods: list[dict]
    cluster_id: str  # CLUSTER_ID: the id of its config cluster
    external: bool  # EXTERNAL_ISTIOD=true: leads remotes only when they name it
    config_secret: dict | None = None  # istio-kubeconfig, when present
    kubeconfig_env: str | None = None  # KUBECONFIG given to istiod
    signs: list[str] = field(default_factory=list)

    @property
    def config_elsewhere(self) -> bool:
        """Its config cluster is not the cluster it runs in (an external control plane)."""
        return self.external and (self.config_secret is not None or bool(self.kubeconfig_env))


def control_plane_of(cluster: str, pods: list[dict], secrets: list[dict]) -> ControlPlane | None:
    """What the istiod pods of a cluster are; None when the cluster runs no istiod."""
    if not pods:
        return None
    env = istiod_env(pods[0])
    external = env.get("EXTERNAL_ISTIOD", "").lower() == "true"
    config = next((s for s in secrets if is_config_secret(s)), None)
    cp = ControlPlane(cluster, pods, cluster_id_of(pods[0]), external,
                      config if external else None, env.get("KUBECONFIG") if external else None)
    ids = sorted({cluster_id_of(p) for p in pods})
    cp.signs.append(f"istiod CLUSTER_ID={', '.join(ids)}"
                    + ("" if "CLUSTER_ID" in env else " (env unset: the default)"))
    if external:
        flags = [f"{k}={env[k]}" for k in ("EXTERNAL_ISTIOD", "LOCAL_CLUSTER_SECRET_WATCHER",
                                           "KUBECONFIG") if env.get(k)]
        cp.signs.append("istiod runs with " + ", ".join(flags))
    return cp


def values_cluster_name(values: dict) -> str | None:
    name = install_value(values, "global", "multiCluster", "clusterName")
    return str(name) if name else None


def cluster_for_id(cluster_id: str, names: dict[str, str | None]) -> str | None:
    """The mesh cluster carrying an Istio cluster id: its install's clusterName, else its name.
    `names` maps each cluster to its install's clusterName (None when unknown)."""
    by_values = [c for c, n in names.items() if n == cluster_id]
    if len(by_values) == 1:
        return by_values[0]
    return cluster_id if cluster_id in names else None


# ------------------------------------------------------------------------------------ health


@dataclass
class PodHealth:
    """One istiod pod as `kubectl get/describe` would summarise it."""

    pod: dict
    summary: str  # one evidence line
    problem: str | None = None  # why it is not serving, when it is not
    severity: Severity | None = None  # warning when it serves but was OOM-killed
    details: list[str] = field(default_factory=list)  # events, node conditions

    @property
    def name(self) -> str:
        return name_of(self.pod)


def resources_text(container: dict) -> str:
    res = container.get("resources") or {}

    def part(kind: str) -> str:
        values = res.get(kind) or {}
        return " ".join(f"{k} {values[k]}" for k in ("cpu", "memory") if k in values) or "none"
    return f"requests {part('requests')}, limits {part('limits')}"


def memory_limit(container: dict) -> str | None:
    return ((container.get("resources") or {}).get("limits") or {}).get("memory")


def _condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind), None)


def _status_of(pod: dict, container: str) -> dict:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == container), statuses[0] if statuses else {})


def pod_events(events: list[dict], pod: str) -> list[dict]:
    """Events about one pod (core/v1 `involvedObject` or events.k8s.io `regarding`), oldest first."""
    out = []
    for ev in events:
        ref = ev.get("involvedObject") or ev.get("regarding") or {}
        if ref.get("name") == pod and ref.get("kind", "Pod") == "Pod":
            out.append(ev)
    return sorted(out, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))


def event_line(ev: dict) -> str:
    count = ev.get("count") or (ev.get("series") or {}).get("count")
    times = f" (x{count})" if count and int(count) > 1 else ""
    when = ev.get("lastTimestamp") or ev.get("eventTime") or ""
    return (f"event {ev.get('type', 'Normal')} {ev.get('reason', '')}{times}"
            f"{' at ' + str(when) if when else ''}: {ev.get('message') or ev.get('note') or ''}")


def node_problems(node: dict | None) -> list[str]:
    """Pressure conditions that are True, and a node that is not Ready."""
    if node is None:
        return []
    out = [c["type"] for c in (node.get("status") or {}).get("conditions") or []
           if c.get("type") in PRESSURE_CONDITIONS and c.get("status") == "True"]
    ready = _condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        out.append(f"NotReady ({ready.get('reason') or 'kubelet not ready'})")
    return out


def _terminated_text(term: dict, limit: str | None) -> str:
    """`OOMKilled: out of memory (exit code 137, memory limit 1Gi) at T` or `Error (exit code 1) at T`."""
    reason, code = term.get("reason") or "terminated", term.get("exitCode")
    when = f" at {term['finishedAt']}" if term.get("finishedAt") else ""
    if reason == "OOMKilled":
        cap = f"memory limit {limit}" if limit else "no memory limit set: the node ran out"
        return f"OOMKilled: out of memory (exit code {code}, {cap}){when}"
    return f"{reason} (exit code {code}){when}"


def pod_health(pod: dict, events: list[dict] | None, nodes: dict[str, dict]) -> PodHealth:
    """The state of one istiod pod and, when it is not serving, the precise reason."""
    name = name_of(pod)
    status = pod.get("status") or {}
    container = istiod_container(pod)
    st = _status_of(pod, container.get("name", DISCOVERY))
    phase = status.get("phase") or "Unknown"
    ready_cond = _condition(pod, "Ready")
    # a status that lists no condition at all (a pared-down capture) is judged by the
    # container's own `ready`, as kubectl's READY column is
    ready = ready_cond.get("status") == "True" if ready_cond else \
        not status.get("conditions") and bool(st.get("ready"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    restarts = int(st.get("restartCount") or 0)
    summary = (f"{name}: {phase}, {'Ready' if ready else 'not Ready'}, version "
               f"{image_tag(container.get('image', ''))}, node {node_name or 'none'}, "
               f"{restarts} restart{'s' if restarts != 1 else ''}, {resources_text(container)}")
    health = PodHealth(pod, summary)
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        health.details.append(f"{name} is terminating")
        return health
    mine = pod_events(events or [], name)
    pressure = node_problems(nodes.get(node_name or ""))
    if pressure:
        health.details.append(f"node {node_name}: {', '.join(pressure)}")
    limit = memory_limit(container)
    waiting = (st.get("state") or {}).get("waiting") or {}
    last = (st.get("lastState") or {}).get("terminated") or {}
    problem = None
    if phase == "Pending" and not st.get("state", {}).get("running"):
        problem = _pending_reason(pod, waiting, mine)
    elif waiting.get("reason") == "CrashLoopBackOff":
        if last.get("reason") == "OOMKilled":
            problem = f"{_terminated_text(last, limit)}; {restarts} restarts, now CrashLoopBackOff"
        else:
            ended = _terminated_text(last, limit) if last else "no termination recorded"
            problem = f"CrashLoopBackOff: last exit {ended}; {restarts} restarts"
    elif waiting.get("reason"):
        problem = f"{waiting['reason']}: {waiting.get('message') or 'container not started'}"
    elif phase in ("Failed", "Unknown"):
        problem = f"{phase}: {status.get('reason') or ''} {status.get('message') or ''}".strip()
    elif not ready:
        problem = _not_ready_reason(ready_cond, mine)
    elif last.get("reason") == "OOMKilled":
        problem = f"Ready again, but last exit was {_terminated_text(last, limit)}; {restarts} restarts"
        health.severity = "warning"
    if problem and pressure:
        problem += f"; node {node_name} reports {', '.join(pressure)}"
    health.problem = problem
    if problem:
        health.details += [event_line(e) for e in mine[-3:]]
    return health


def _pending_reason(pod: dict, waiting: dict, events: list[dict]) -> str:
    sched = _condition(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        return (f"Pending ({sched.get('reason') or 'not scheduled'}): "
                f"{sched.get('message') or 'the scheduler found no node'}")
    failed = [e for e in events if e.get("reason") == "FailedScheduling"]
    if failed:
        return f"Pending (FailedScheduling): {failed[-1].get('message') or failed[-1].get('note')}"
    if waiting.get("reason"):
        return f"Pending ({waiting['reason']}): {waiting.get('message') or 'container not started'}"
    return "Pending: scheduled but its containers have not started"


def _not_ready_reason(ready_cond: dict | None, events: list[dict]) -> str:
    probes = [e for e in events if e.get("reason") == "Unhealthy"]
    if probes:
        ev = probes[-1]
        count = ev.get("count") or (ev.get("series") or {}).get("count")
        times = f" ({count} times)" if count and int(count) > 1 else ""
        return f"not Ready: {ev.get('message') or ev.get('note')}{times}"
    why = (ready_cond or {}).get("message") or (ready_cond or {}).get("reason")
    return f"not Ready: {why or 'readiness probe failing'}"


def istiod_deployments(deployments: list[dict]) -> list[dict]:
    """The istiod Deployments of the Istio namespace (`istiod`, `istiod-<revision>`)."""
    return [d for d in deployments if labels_of(d).get("app") == "istiod"
            or name_of(d) == "istiod" or name_of(d).startswith("istiod-")]


def deployment_line(dep: dict) -> str:
    spec, st = dep.get("spec") or {}, dep.get("status") or {}
    want = spec.get("replicas", 1)
    line = (f"Deployment {namespace_of(dep)}/{name_of(dep)}: {st.get('readyReplicas', 0)}/{want} "
            f"ready, {st.get('availableReplicas', 0)} available")
    failing = [c for c in st.get("conditions") or []
               if c.get("type") == "ReplicaFailure" and c.get("status") == "True"]
    if failing:
        line += f"; ReplicaFailure: {failing[0].get('message') or failing[0].get('reason')}"
    return line


INJECTOR_SUFFIX = "sidecar-injector.istio.io"
VALIDATOR_SUFFIX = "validation.istio.io"


def injector_hooks(configs: list[dict]) -> list[tuple[dict, dict]]:
    """(configuration, webhook) pairs that inject sidecars."""
    return [(cfg, hook) for cfg in configs for hook in cfg.get("webhooks") or []
            if str(hook.get("name", "")).endswith(INJECTOR_SUFFIX)
            or "/inject" in hook_path(hook)]


def validator_hooks(configs: list[dict]) -> list[tuple[dict, dict]]:
    """(configuration, webhook) pairs that validate Istio resources."""
    return [(cfg, hook) for cfg in configs for hook in cfg.get("webhooks") or []
            if str(hook.get("name", "")).endswith(VALIDATOR_SUFFIX)
            or hook_path(hook).startswith("/validate")]


def hook_path(hook: dict) -> str:
    client = hook.get("clientConfig") or {}
    if client.get("url"):
        return urlsplit(str(client["url"])).path
    return str((client.get("service") or {}).get("path") or "")


def hook_target(hook: dict) -> str:
    client = hook.get("clientConfig") or {}
    if client.get("url"):
        return str(client["url"])
    svc = client.get("service") or {}
    port = svc.get("port", 443)
    return f"Service {svc.get('namespace')}/{svc.get('name')}:{port}{svc.get('path') or ''}"
