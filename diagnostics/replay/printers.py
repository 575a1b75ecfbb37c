"""Server-side printing columns: what `kubectl get` shows for each kind.

The API server, not kubectl, decides the columns of `kubectl get` (kubectl asks for a
`meta.k8s.io` Table). These printers follow the API server's own (pkg/printers/internalversion)
for the kinds people look at while debugging a mesh; every other kind gets NAME and AGE, as the
API server prints custom resources without printer columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Cells = Callable[[dict, dt.datetime], list[Any]]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    format: str = ""
    priority: int = 0
    description: str = ""

    def definition(self) -> dict:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    cells: Cells


NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time "
                                "when this object was created.")


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def parse_time(value: Any) -> dt.datetime | None:
    """RFC 3339 strings as written by Kubernetes, or datetimes as YAML loads unquoted ones."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def human_duration(delta: dt.timedelta) -> str:
    """apimachinery's duration.HumanDuration, which kubectl's AGE column uses."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours = seconds // 60, seconds // 3600
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, (hours // 24) % 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{years}y"


def age(obj: dict, now: dt.datetime) -> str:
    created = parse_time(_meta(obj).get("creationTimestamp"))
    return human_duration(now - created) if created else "<unknown>"


def _name_age(obj: dict, now: dt.datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), age(obj, now)]


DEFAULT = Printer((NAME, AGE), _name_age)


# --- pods -----------------------------------------------------------------------------------

def _pod_cells(pod: dict, now: dt.datetime) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready, total, restarts, reason = _pod_state(spec, status)
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return [_meta(pod).get("name", ""), f"{ready}/{total}", reason,
            _restarts(restarts, status, now), age(pod, now), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            _readiness_gates(spec, status)]


def _restarts(restarts: int, status: dict, now: dt.datetime) -> str:
    """RESTARTS as printPod writes it since Kubernetes 1.22: the count, and how long ago the
    last container's last run ended (`3 (5m ago)`)."""
    ended = [parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
             for key in ("containerStatuses", "initContainerStatuses")
             for cs in status.get(key) or ()]
    last = max((t for t in ended if t is not None), default=None)
    return f"{restarts} ({human_duration(now - last)} ago)" if restarts and last else str(restarts)


def _readiness_gates(spec: dict, status: dict) -> str:
    """READINESS GATES: how many of the pod's gates its conditions pass, `<none>` without."""
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions: dict[Any, Any] = {}
    for condition in status.get("conditions") or ():
        conditions.setdefault(condition.get("type"), condition.get("status"))
    passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{passed}/{len(gates)}"


def _pod_state(spec: dict, status: dict) -> tuple[int, int, int, str]:
    """READY counts, RESTARTS and STATUS as kubectl's printPod derives them."""
    sidecars = [c.get("name") for c in spec.get("initContainers") or []
                if c.get("restartPolicy") == "Always"]
    total = len(spec.get("containers") or []) + len(sidecars)
    reason = status.get("reason") or status.get("phase") or ""
    init_reason, restarts = _init_state(spec, status)
    if init_reason:
        return _ready_sidecars(status, sidecars), total, restarts, init_reason
    ready, restarts2, reason = _container_state(status, reason)
    return ready + _ready_sidecars(status, sidecars), total, restarts + restarts2, reason


def _init_state(spec: dict, status: dict) -> tuple[str | None, int]:
    inits = spec.get("initContainers") or []
    restarts = 0
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if (term and term.get("exitCode") == 0) or (_is_sidecar(inits, cs) and cs.get("started")):
            continue
        if term:
            return "Init:" + (term.get("reason") or _exit_reason(term)), restarts
        if wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            return "Init:" + wait["reason"], restarts
        return f"Init:{i}/{len(inits)}", restarts
    return None, restarts


def _is_sidecar(inits: list[dict], status: dict) -> bool:
    return any(c.get("name") == status.get("name") and c.get("restartPolicy") == "Always"
               for c in inits)


def _ready_sidecars(status: dict, sidecars: list[str]) -> int:
    return sum(1 for cs in status.get("initContainerStatuses") or []
               if cs.get("name") in sidecars and cs.get("ready"))


def _container_state(status: dict, reason: str) -> tuple[int, int, str]:
    ready = restarts = 0
    running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        wait, term = state.get("waiting") or {}, state.get("terminated")
        if wait.get("reason"):
            reason = wait["reason"]
        elif term:
            reason = term.get("reason") or _exit_reason(term)
        elif state.get("running") is not None and cs.get("ready"):
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running"
    return ready, restarts, reason


def _exit_reason(term: dict) -> str:
    signal = term.get("signal")
    return f"Signal:{signal}" if signal else f"ExitCode:{term.get('exitCode', 0)}"


POD = Printer((
    NAME,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column("Restarts", description="The number of times the containers in this pod have been "
                                   "restarted and when the last container in this pod has "
                                   "restarted."),
    AGE,
    Column("IP", priority=1, description="IP address allocated to the pod."),
    Column("Node", priority=1, description="Name of the node the pod is assigned to."),
    Column("Nominated Node", priority=1, description="The node the scheduler nominated for the "
                                                     "pod, when preempting others."),
    Column("Readiness Gates", priority=1, description="How many of the pod's readiness gates "
                                                      "its conditions pass."),
), _pod_cells)


# --- services -------------------------------------------------------------------------------

def _service_cells(svc: dict, now: dt.datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [_meta(svc).get("name", ""), kind, spec.get("clusterIP") or "<none>",
            _external_ip(svc, kind), _ports(spec), age(svc, now), selector or "<none>"]


def _external_ip(svc: dict, kind: str) -> str:
    spec = svc.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    if kind == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = [i.get("ip") or i.get("hostname") for i in ingress] + external
        return ",".join(a for a in addresses if a) or "<pending>"
    return ",".join(external) or "<none>"


def _ports(spec: dict) -> str:
    parts = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        node_port = f":{p['nodePort']}" if p.get("nodePort") else ""
        parts.append(f"{p.get('port')}{node_port}/{proto}")
    return ",".join(parts) or "<none>"


SERVICE = Printer((
    NAME,
    Column("Type", description="The type of the service."),
    Column("Cluster-IP", description="The IP address of the service."),
    Column("External-IP", description="The external IP addresses of the service."),
    Column("Port(s)", description="The ports exposed by the service."),
    AGE,
    Column("Selector", priority=1, description="Route traffic to pods with matching labels."),
), _service_cells)


# --- secrets, nodes, namespaces -------------------------------------------------------------

def _secret_cells(secret: dict, now: dt.datetime) -> list[Any]:
    return [_meta(secret).get("name", ""), secret.get("type") or "Opaque",
            len(secret.get("data") or {}), age(secret, now)]


SECRET = Printer((NAME, Column("Type", description="The type of the secret."),
                  Column("Data", type="integer", description="The number of keys in the secret."),
                  AGE), _secret_cells)


def _node_cells(node: dict, now: dt.datetime) -> list[Any]:
    status, labels = node.get("status") or {}, _meta(node).get("labels") or {}
    ready = next((c.get("status") for c in status.get("conditions") or []
                  if c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    roles.discard("")
    version = (status.get("nodeInfo") or {}).get("kubeletVersion", "")
    return [_meta(node).get("name", ""), state, ",".join(sorted(roles)) or "<none>", age(node, now),
            version]


NODE = Printer((NAME, Column("Status", description="The status of the node"),
                Column("Roles", description="The roles of the node"), AGE,
                Column("Version", description="Kubelet Version reported by the node.")),
               _node_cells)


def _namespace_cells(ns: dict, now: dt.datetime) -> list[Any]:
    return [_meta(ns).get("name", ""), (ns.get("status") or {}).get("phase", ""), age(ns, now)]


NAMESPACE = Printer((NAME, Column("Status", description="The status of the namespace"), AGE),
                    _namespace_cells)

PRINTERS: dict[str, Printer] = {"pods": POD, "services": SERVICE, "secrets": SECRET,
                                "nodes": NODE, "namespaces": NAMESPACE}


def printer_for(key: str) -> Printer:
    """The printer for a resource key (`pods`, `deployments.apps`, ...)."""
    return PRINTERS.get(key, DEFAULT)
