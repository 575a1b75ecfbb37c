"""Render the workload knobs (`workload_knobs`) into what a live cluster would show.

Hooks called by the renderers: `finish_objects` (namespaces beyond the defaults,
PeerAuthentications, StatefulSets, pod specs and statuses after the faults, events), `syncz`
(unacknowledged pushes) and `log_files` (app, istio-init and sidecar access logs). With default
knobs every hook returns its input unchanged, so existing scenarios render byte-identically.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

from tests.meshgen.debug_bodies import TYPE_URLS
from tests.meshgen.istiod_view import PUSH_TIME, ControlPlane, connected_to
from tests.meshgen.k8s_common import meta, owner_ref
from tests.meshgen.naming import at, hexid, number, ts, ts_micro, ts_milli, uid
from tests.meshgen.topology import ClusterWorld, Pod, World
from tests.meshgen.workload_knobs import PeerAuthSpec, WorkloadKnobs

LATER_PUSH = PUSH_TIME + timedelta(minutes=12)  # "XDS: Pushing ... Version:2026-11-20T08:43:00Z/31"
PROXY = "istio-proxy"
INIT = "istio-init"
STATUS_PORT = 15020
_DEFAULT = WorkloadKnobs()
SIDECAR_ANNOTATIONS = ("istio.io/rev", "kubectl.kubernetes.io/default-container",
                       "kubectl.kubernetes.io/default-logs-container", "prometheus.io/path",
                       "prometheus.io/port", "prometheus.io/scrape", "sidecar.istio.io/status")


def _knobbed(pod: Pod | None) -> bool:
    return pod is not None and pod.workload is not None and pod.workload.knobs != _DEFAULT


# ------------------------------------------------------------------------------ objects


def finish_objects(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    """Apply the knobs of one cluster to its rendered objects, in place."""
    _namespaces(cw, objs)
    _peer_authentications(cw, objs)
    events: list[dict] = []
    for obj in objs.get("pods", []):
        pod = cw.pod(obj["metadata"]["name"])
        if _knobbed(pod) and pod.namespace == obj["metadata"].get("namespace"):
            _pod(cw, pod, obj, events)
    _statefulsets(cw, objs)
    _refused_by_quota(cw, objs, events)
    if events:
        objs["events"] = events


def _namespaces(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    have = {n["metadata"]["name"] for n in objs.get("namespaces", [])}
    wanted = sorted({w.namespace for w in cw.spec.workloads} - have)
    template = next((c for c in objs.get("configmaps", [])
                     if c["metadata"]["name"] == "istio-ca-root-cert"), None)
    for ns in wanted:
        labels = {"kubernetes.io/metadata.name": ns}
        labels.update(cw.spec.apps.namespace_labels.get(ns, {"istio-injection": "enabled"}))
        created = at(22 * 60 + 20)
        objs["namespaces"].append({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": meta(cw.id, "Namespace", ns, None, created, labels),
                                   "spec": {"finalizers": ["kubernetes"]},
                                   "status": {"phase": "Active"}})
        if template is not None:
            cm = copy.deepcopy(template)
            cm["metadata"] = meta(cw.id, "ConfigMap", "istio-ca-root-cert", ns, created,
                                  {"istio.io/config": "true"})
            objs["configmaps"].append(cm)


def _peer_authentications(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    for pa in cw.spec.apps.peer_authentications:
        spec: dict = {"mtls": {"mode": pa.mode}}
        if pa.selector:
            spec["selector"] = {"matchLabels": dict(pa.selector)}
        if pa.port_levels:
            spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in pa.port_levels.items()}
        objs["peerauthentications.security.istio.io"].append({
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": meta(cw.id, "PeerAuthentication", pa.name, pa.namespace, at(22 * 60 + 25)),
            "spec": spec})


def strict_for(cw: ClusterWorld, pod: Pod) -> bool:
    """Whether a STRICT PeerAuthentication (mesh-wide, namespace or selecting the pod) applies."""
    def applies(pa: PeerAuthSpec) -> bool:
        if pa.selector:
            return pa.namespace == pod.namespace and all(pod.labels.get(k) == v
                                                         for k, v in pa.selector.items())
        return pa.namespace in ("istio-system", pod.namespace)
    modes = [pa.mode for pa in cw.spec.apps.peer_authentications if applies(pa)]
    return bool(modes) and modes[-1] == "STRICT"


def _container(spec: dict, name: str) -> dict | None:
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    return None


def _status(status: dict, name: str) -> dict | None:
    for st in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if st.get("name") == name:
            return st
    return None


def _pod(cw: ClusterWorld, pod: Pod, obj: dict, events: list[dict]) -> None:
    k = pod.workload.knobs
    m, spec, status = obj["metadata"], obj["spec"], obj["status"]
    app = pod.workload.app
    if k.pod_annotations:
        m.setdefault("annotations", {}).update(k.pod_annotations)
    if not k.injected:
        _strip_sidecar(obj)
    if k.udp:
        for c in spec["containers"]:
            if c["name"] == app:
                for p in c.get("ports") or []:
                    p["protocol"] = "UDP"
        proxy = _container(spec, PROXY)
        for env in (proxy or {}).get("env") or []:
            if env["name"] == "ISTIO_META_POD_PORTS":
                env["value"] = env["value"].replace('"TCP"', '"UDP"')
    if k.kind == "StatefulSet":
        labels = m["labels"]
        labels.pop("pod-template-hash", None)
        labels["controller-revision-hash"] = f"{pod.deployment}-{pod.template_hash[:10]}"
        labels["statefulset.kubernetes.io/pod-name"] = pod.name
        labels["apps.kubernetes.io/pod-index"] = pod.name.rsplit("-", 1)[1]
        m["ownerReferences"] = [owner_ref(cw.id, "StatefulSet", "apps/v1", pod.deployment,
                                          pod.namespace)]
        m.pop("generateName", None)
        spec["hostname"], spec["subdomain"] = pod.name, _headless_service(cw, pod)
    if k.probes:
        _probes(cw, pod, obj, events)
    if k.start_race:
        st = _status(status, app)
        started = datetime.fromisoformat(st["state"]["running"]["startedAt"].replace("Z", "+00:00"))
        st.update({"restartCount": 1, "lastState": {"terminated": {
            "exitCode": 1, "reason": "Error", "startedAt": ts(started),
            "finishedAt": ts(started + timedelta(seconds=1))}}})
        st["state"] = {"running": {"startedAt": ts(started + timedelta(seconds=2))}}
    if k.init_blocked:
        _init_blocked(cw, pod, obj, events)


def _strip_sidecar(obj: dict) -> None:
    spec, status, m = obj["spec"], obj["status"], obj["metadata"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != PROXY]
    inits = [c for c in spec.get("initContainers") or [] if c["name"] not in (PROXY, INIT)]
    status["containerStatuses"] = [s for s in status["containerStatuses"] if s["name"] != PROXY]
    if inits:
        spec["initContainers"] = inits
    else:
        spec.pop("initContainers", None)
        status.pop("initContainerStatuses", None)
    annotations = {k: v for k, v in (m.get("annotations") or {}).items()
                   if k not in SIDECAR_ANNOTATIONS}
    if annotations:
        m["annotations"] = annotations
    else:
        m.pop("annotations", None)


def _headless_service(cw: ClusterWorld, pod: Pod) -> str:
    for svc in cw.services:
        if svc.spec.headless and svc.spec.namespace == pod.namespace and all(
                pod.labels.get(k) == v for k, v in svc.spec.selector.items()):
            return svc.spec.name
    return pod.deployment


def _event(cw: ClusterWorld, pod: Pod, reason: str, message: str, count: int, first: datetime,
           last: datetime, container: str | None, kind: str = "Warning") -> dict:
    name = f"{pod.name}.{hexid(16, 'event', cw.id, pod.name, reason, container)}"
    involved = {"apiVersion": "v1", "kind": "Pod", "name": pod.name, "namespace": pod.namespace,
                "uid": meta(cw.id, "Pod", pod.name, pod.namespace, pod.created)["uid"]}
    if container:
        kind_path = "initContainers" if container == INIT else "containers"
        involved["fieldPath"] = f"spec.{kind_path}{{{container}}}"
    return {"apiVersion": "v1", "kind": "Event", "count": count, "firstTimestamp": ts(first),
            "lastTimestamp": ts(last), "involvedObject": involved, "message": message,
            "metadata": meta(cw.id, "Event", name, pod.namespace, first), "reason": reason,
            "reportingComponent": "kubelet", "reportingInstance": pod.node.name,
            "source": {"component": "kubelet", "host": pod.node.name}, "type": kind}


def _probes(cw: ClusterWorld, pod: Pod, obj: dict, events: list[dict]) -> None:
    k = pod.workload.knobs
    spec, status = obj["spec"], obj["status"]
    app = pod.workload.app
    port = pod.workload.container_port
    container = _container(spec, app)
    original = {
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": port,
                                                              "scheme": "HTTP"},
                           "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
        "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/livez", "port": port,
                                                             "scheme": "HTTP"},
                          "initialDelaySeconds": 15, "periodSeconds": 20, "successThreshold": 1,
                          "timeoutSeconds": 1},
    }
    injected = k.injected
    if injected and k.rewrite_probes:
        probers = {}
        for field, suffix in (("livenessProbe", "livez"), ("readinessProbe", "readyz")):
            path = f"/app-health/{app}/{suffix}"
            probers[path] = {"httpGet": dict(original[field]["httpGet"]), "timeoutSeconds": 1}
            rewritten = copy.deepcopy(original[field])
            rewritten["httpGet"] = {"path": path, "port": STATUS_PORT, "scheme": "HTTP"}
            container[field] = rewritten
        proxy = _container(spec, PROXY)
        proxy["env"].append({"name": "ISTIO_KUBE_APP_PROBERS",
                             "value": json.dumps(probers, sort_keys=True, separators=(",", ":"))})
        return
    container.update(copy.deepcopy(original))
    if injected:
        obj["metadata"].setdefault("annotations", {})[
            "sidecar.istio.io/rewriteAppHTTPProbers"] = "false"
    if not (injected and strict_for(cw, pod)):
        return
    # The kubelet's plain-text probes hit the sidecar's inbound listener, which demands mTLS.
    st = _status(status, app)
    started = pod.created + timedelta(seconds=4)
    restarted = PUSH_TIME + timedelta(minutes=27)
    st.clear()
    st.update({"image": pod.workload.image, "name": app, "ready": False, "restartCount": 6,
               "started": True,
               "lastState": {"terminated": {"exitCode": 143, "reason": "Error",
                                            "startedAt": ts(restarted - timedelta(seconds=75)),
                                            "finishedAt": ts(restarted)}},
               "state": {"running": {"startedAt": ts(restarted + timedelta(seconds=1))}}})
    gateway = f"{cw.spec.pod_prefix}.{pod.node.index}.1"  # the kubelet, via the node's bridge

    def conn(probe: str) -> str:
        return (f"read tcp {gateway}:{40000 + number('probe', pod.name, probe) % 20000}->"
                f"{pod.ip}:{port}: read: connection reset by peer")
    events += [
        _event(cw, pod, "Unhealthy", f'Readiness probe failed: Get "http://{pod.ip}:{port}'
               f'/healthz": {conn("readiness")}', 236, started + timedelta(seconds=10), restarted,
               app),
        _event(cw, pod, "Unhealthy", f'Liveness probe failed: Get "http://{pod.ip}:{port}'
               f'/livez": {conn("liveness")}', 18, started + timedelta(seconds=35), restarted, app),
        _event(cw, pod, "Killing", f"Container {app} failed liveness probe, will be restarted",
               6, started + timedelta(seconds=75), restarted, app, "Normal"),
    ]


def _init_blocked(cw: ClusterWorld, pod: Pod, obj: dict, events: list[dict]) -> None:
    """A policy engine dropped istio-init's capabilities: iptables is refused, CrashLoopBackOff."""
    spec, status = obj["spec"], obj["status"]
    init = _container(spec, INIT)
    init["securityContext"]["capabilities"] = {"drop": ["ALL"]}
    obj["metadata"].setdefault("annotations", {})["policies.kyverno.io/last-applied-patches"] = (
        "drop-all-capabilities.drop-capabilities.kyverno.io: added /spec/initContainers/0/"
        "securityContext/capabilities/drop\n")
    started = pod.created + timedelta(seconds=2)
    last = PUSH_TIME + timedelta(minutes=23)
    status["phase"] = "Pending"
    status["initContainerStatuses"] = [
        {"containerID": f"containerd://{hexid(64, 'init', pod.name)}",
         "image": init["image"], "name": INIT, "ready": False, "restartCount": 9,
         "started": False,
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                      "startedAt": ts(last), "finishedAt": ts(last)}},
         "state": {"waiting": {"message": f"back-off 5m0s restarting failed container={INIT} "
                                          f"pod={pod.name}_{pod.namespace}",
                               "reason": "CrashLoopBackOff"}}}]
    if _container(spec, PROXY) in (spec.get("initContainers") or []):
        status["initContainerStatuses"].append(
            {"image": _container(spec, PROXY)["image"], "name": PROXY, "ready": False,
             "restartCount": 0, "started": False, "state": {"waiting": {"reason": "PodInitializing"}}})
    status["containerStatuses"] = [
        {"image": c["image"], "name": c["name"], "ready": False, "restartCount": 0,
         "started": False, "state": {"waiting": {"reason": "PodInitializing"}}}
        for c in spec["containers"]]
    for cond in status["conditions"]:
        if cond["type"] == "Initialized":
            cond.update({"status": "False", "reason": "ContainersNotInitialized",
                         "message": f"containers with incomplete status: [{INIT}]"})
        elif cond["type"] in ("Ready", "ContainersReady"):
            names = ", ".join(c["name"] for c in spec["containers"])
            cond.update({"status": "False", "reason": "ContainersNotReady",
                         "message": f"containers with unready status: [{names}]"})
    events.append(_event(cw, pod, "BackOff", f"Back-off restarting failed container {INIT} in "
                         f"pod {pod.name}_{pod.namespace}({uid(cw.id, 'Pod', pod.namespace, pod.name)})",
                         41, started + timedelta(seconds=30), last, INIT))


def _refused_by_quota(cw: ClusterWorld, objs: dict[str, list[dict]], events: list[dict]) -> None:
    """A ResourceQuota refuses every pod of a Deployment: the ReplicaSet controller records
    the admission error as a ReplicaFailure condition (reason FailedCreate) and as FailedCreate
    events `Error creating: <err>`. The error is the quota admission plugin's (kubernetes
    plugin/pkg/admission/resourcequota/controller.go: "exceeded quota: %s, requested: %s,
    used: %s, limited: %s") wrapped as Forbidden for `pods "<generateName>"`."""
    for w in cw.spec.workloads:
        quota = w.knobs.refused_by_quota
        if not quota:
            continue
        rs = next(r for r in objs.get("replicasets.apps", [])
                  if r["metadata"]["name"].rsplit("-", 1)[0] == w.name
                  and r["metadata"]["namespace"] == w.namespace)
        err = (f'pods "{rs["metadata"]["name"]}-" is forbidden: exceeded quota: {quota}, '
               "requested: limits.memory=512Mi, used: limits.memory=2Gi, limited: "
               "limits.memory=2Gi")
        when = ts(PUSH_TIME - timedelta(minutes=30))
        rs["status"]["conditions"] = [{"lastTransitionTime": when, "message": err,
                                       "reason": "FailedCreate", "status": "True",
                                       "type": "ReplicaFailure"}]
        name = rs["metadata"]["name"]
        events.append({
            "apiVersion": "v1", "kind": "Event", "count": 17, "firstTimestamp": when,
            "lastTimestamp": ts(PUSH_TIME + timedelta(minutes=12)),
            "involvedObject": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name,
                               "namespace": w.namespace, "uid": rs["metadata"]["uid"]},
            "message": f"Error creating: {err}",
            "metadata": meta(cw.id, "Event", f"{name}.{hexid(16, 'event', cw.id, name)}",
                             w.namespace, PUSH_TIME - timedelta(minutes=30)),
            "reason": "FailedCreate", "reportingComponent": "replicaset-controller",
            "source": {"component": "replicaset-controller"}, "type": "Warning"})


def _statefulsets(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    stateful = [w for w in cw.spec.workloads if w.knobs.kind == "StatefulSet"]
    if not stateful:
        return
    names = {(w.namespace, w.name) for w in stateful}
    for key in ("deployments.apps", "replicasets.apps"):
        objs[key] = [o for o in objs[key] if (o["metadata"].get("namespace"),
                     o["metadata"]["name"].rsplit("-", 1)[0] if key == "replicasets.apps"
                     else o["metadata"]["name"]) not in names]
    out = objs.setdefault("statefulsets.apps", [])
    for w in stateful:
        pods = [p for p in cw.pods if p.workload is w]
        labels = {"app": w.app, **({"version": w.version} if w.version else {})}
        ready = sum(1 for p in pods if p.ready)
        revision = f"{w.name}-{pods[0].template_hash[:10]}" if pods else w.name
        out.append({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta(cw.id, "StatefulSet", w.name, w.namespace, at(22 * 60 + 30), labels),
            "spec": {"podManagementPolicy": "OrderedReady", "replicas": w.replicas,
                     "selector": {"matchLabels": dict(labels)},
                     "serviceName": pods and _headless_service(cw, pods[0]) or w.name,
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {
                         "containers": [{"image": w.image, "name": w.app, "ports": [
                             {"containerPort": w.container_port, "protocol": "TCP"}]}],
                         "serviceAccountName": w.service_account}},
                     "updateStrategy": {"rollingUpdate": {"partition": 0},
                                        "type": "RollingUpdate"}},
            "status": {"availableReplicas": ready, "collisionCount": 0,
                       "currentReplicas": len(pods), "currentRevision": revision,
                       "observedGeneration": 1, "readyReplicas": ready,
                       "replicas": len(pods), "updateRevision": revision,
                       "updatedReplicas": len(pods)}})


# ------------------------------------------------------------------------------ syncz


def syncz(world: World, cp: ControlPlane, body: list[dict]) -> list[dict]:
    """A replica's syncz with the knobs' unacknowledged pushes: the 08:43 push was sent for
    the stale types and never acknowledged, so `acked` still holds the 08:31 nonce."""
    for entry in body:
        pod = world.find_pod(entry["cluster_id"], entry["proxy"])
        if pod is None or pod.workload is None or not pod.workload.knobs.stale_types:
            continue
        for kind in pod.workload.knobs.stale_types:
            nonce = f"{ts(LATER_PUSH)}/31" + uid("nonce", cp.id, pod.cluster, pod.proxy_id, kind, 31)
            entry[f"{kind}_sent"] = nonce
            res = (entry.get("resources") or {}).get(TYPE_URLS[kind])
            if res is not None:
                res["sent"] = nonce
                res["sentTime"] = ts_micro(LATER_PUSH + timedelta(milliseconds=211))
    return body


# ------------------------------------------------------------------------------ logs


def log_files(world: World, cps: dict[str, ControlPlane]) -> dict[str, str]:
    files: dict[str, str] = {}
    for cid, cw in world.clusters.items():
        for pod in cw.pods:
            if not _knobbed(pod):
                continue
            k, base = pod.workload.knobs, f"clusters/{cid}/logs/{pod.namespace}/{pod.name}"
            if (k.app_log or k.start_race) and not k.init_blocked:
                files[f"{base}/{pod.workload.app}.log"] = app_log(world, pod)
            if k.start_race and not k.init_blocked:
                files[f"{base}/{pod.workload.app}.previous.log"] = crashed_app_log(pod)
            if k.init_blocked:
                files[f"{base}/{INIT}.log"] = init_log(pod)
            link = connected_to(cps, pod)
            if k.calls and link is not None and link[0].spec.access_log:
                files[f"{base}/{PROXY}.log"] = access_log(world, pod)
        for path, text in _inbound_logs(world, cw, cps).items():
            files[f"clusters/{cid}/logs/{path}"] = text
    return files


#: What the apps connect to at start: a managed database outside the cluster.
DEPENDENCY = ("orders-db.payments.example.internal", "10.0.12.7", 5432)
_DEP_NAME, _DEP_ADDR = f"{DEPENDENCY[0]}:{DEPENDENCY[2]}", f"{DEPENDENCY[1]}:{DEPENDENCY[2]}"


def app_log(world: World, pod: Pod) -> str:
    k = pod.workload.knobs
    t = pod.created + timedelta(seconds=6, milliseconds=412)
    if k.start_race:
        t += timedelta(seconds=2)   # the current run, after the first crash
    lines = _app_start(pod)
    raced = k.start_race and not k.race_recovered
    if raced:
        lines += [(6, "ERROR", f"dial tcp {_DEP_ADDR}: connect: connection refused"),
                  (7, "WARN", "retrying in 1s (attempt 2 of 5)"),
                  (1008, "ERROR", f"dial tcp {_DEP_ADDR}: connect: connection refused"),
                  (1009, "WARN", "retrying in 2s (attempt 3 of 5)")]
    offset = 3100 if raced else 41
    lines += [(offset, "INFO", f"connected to {_DEP_NAME}"),
              (offset + 80, "INFO", f"listening on :{pod.workload.container_port}")]
    return _log_text(t, lines)


def crashed_app_log(pod: Pod) -> str:
    """The run before the restart (lastState.terminated: exit 1 one second after it started)."""
    t = pod.created + timedelta(seconds=4, milliseconds=212)
    lines = _app_start(pod) + [
        (6, "ERROR", f"dial tcp {_DEP_ADDR}: connect: connection refused"),
        (7, "WARN", "retrying in 200ms (attempt 2 of 3)"),
        (208, "ERROR", f"dial tcp {_DEP_ADDR}: connect: connection refused"),
        (209, "WARN", "retrying in 400ms (attempt 3 of 3)"),
        (610, "ERROR", f"dial tcp {_DEP_ADDR}: connect: connection refused"),
        (611, "FATAL", f"cannot reach {_DEP_NAME} after 3 attempts, exiting")]
    return _log_text(t, lines)


def _app_start(pod: Pod) -> list[tuple[int, str, str]]:
    return [(0, "INFO", f"starting {pod.workload.name} 2.3.1 (pid 1)"),
            (3, "INFO", f"connecting to {_DEP_NAME}")]


def _log_text(start, lines: list[tuple[int, str, str]]) -> str:
    return "".join(f"{ts_milli(start + timedelta(milliseconds=ms))} {level:<5} {msg}\n"
                   for ms, level, msg in lines)


def init_log(pod: Pod) -> str:
    t = PUSH_TIME + timedelta(minutes=23)
    lines = [
        (0, "info", "Istio iptables environment:"),
        (1, "info", "Istio iptables variables:"),
        (2, "info", "Writing following contents to rules file: /tmp/iptables-rules-1763628180.txt"),
        (3, "info", "Running iptables-restore with the following input:\n* nat\n"
                    "-N ISTIO_INBOUND\n-N ISTIO_REDIRECT\n-N ISTIO_IN_REDIRECT\n-N ISTIO_OUTPUT\n"
                    "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN\nCOMMIT"),
        (9, "error", "Command error output: xtables parameter problem: iptables-restore: unable "
                     "to initialize table 'nat'"),
        (9, "error", "iptables-restore v1.8.10 (nf_tables): can't initialize iptables table "
                     "`nat': Permission denied (you must be root)"),
        (10, "error", "Failed to execute: iptables-restore --noflush /tmp/iptables-rules-"
                      "1763628180.txt, exit status 4"),
    ]
    return "".join(f"{ts_micro(t + timedelta(milliseconds=ms))}\t{level}\t{msg}\n"
                   for ms, level, msg in lines)


def _requests(pod: Pod) -> list[tuple[datetime, str, str, int]]:
    """(start, request id, path, local port) of a client's calls, as its access log lists them."""
    out = []
    start = at(22 * 60 + 55)
    for i in range(6):
        rid = uid("request", pod.proxy_id, i)
        out.append((start + timedelta(seconds=7 * i, milliseconds=113 * i), rid,
                    ("/api/orders", "/api/orders/1842", "/api/catalog")[i % 3],
                    40000 + number("port", rid) % 20000))
    return out


def _agent_lines(pod: Pod) -> list[str]:
    t0 = pod.created + timedelta(seconds=5)
    return [f"{ts_micro(t0)}\tinfo\tFLAG: --concurrency=\"0\"\n",
            f"{ts_micro(t0 + timedelta(milliseconds=2))}\tinfo\tVersion {pod.istio_version}-"
            f"{hexid(40, 'build', pod.istio_version)}-Clean\n",
            f"{ts_micro(t0 + timedelta(milliseconds=40))}\tinfo\tProxy role\tips=[{pod.ip}] "
            f"type=sidecar id={pod.proxy_id} domain={pod.namespace}.svc.cluster.local\n",
            f"{ts_micro(t0 + timedelta(seconds=1, milliseconds=421))}\tinfo\tEnvoy proxy is ready\n"]


def _inbound_logs(world: World, cw: ClusterWorld, cps: dict[str, ControlPlane]) -> dict[str, str]:
    """Server sidecars' access logs: the inbound side of the HTTP/1.1 calls clients make (an
    HTTP/1.0 call is refused by the client's own sidecar and never arrives)."""
    lines: dict[str, list[tuple[datetime, str]]] = {}
    servers: dict[str, Pod] = {}
    for client in cw.pods:
        k = client.workload.knobs if client.workload else None
        link = connected_to(cps, client)
        if not k or not k.calls or k.http10 or link is None or not link[0].spec.access_log:
            continue
        name, port = k.calls
        svc = cw.service(client.namespace, name)
        backends = [ep.pod for ep in (svc.endpoints if svc else []) if ep.ready and ep.pod
                    and ep.pod.proxy_type == "sidecar" and connected_to(cps, ep.pod)]
        if not backends:
            continue
        target = svc.spec.ports[0].target_port
        for i, (t, rid, path, local) in enumerate(_requests(client)):
            server = backends[i % len(backends)]
            inner = 50000 + number("inbound", rid) % 10000
            servers[server.name] = server
            lines.setdefault(server.name, []).append((t + timedelta(milliseconds=1), (
                f'[{ts_milli(t + timedelta(milliseconds=1))}] "GET {path} HTTP/1.1" 200 - '
                f'via_upstream - "-" 0 {400 + i * 17} {2 + i} {1 + i} "-" "Mozilla/5.0" "{rid}" '
                f'"{name}:{port}" "{server.ip}:{target}" inbound|{target}|| 127.0.0.6:{inner} '
                f'{server.ip}:{target} {client.ip}:{local + 1} '
                f'outbound_.{port}_._.{name}.{client.namespace}.svc.cluster.local default\n')))
    return {f"{servers[n].namespace}/{n}/{PROXY}.log": "".join(_agent_lines(servers[n])) +
            "".join(text for _t, text in sorted(entries)) for n, entries in sorted(lines.items())}


def access_log(world: World, pod: Pod) -> str:
    """The client's istio-proxy log: agent start-up, then its calls to one Service."""
    k = pod.workload.knobs
    cw = world.clusters[pod.cluster]
    name, port = k.calls
    svc = cw.service(pod.namespace, name)
    vip = f"{svc.cluster_ip}:{port}" if svc and svc.cluster_ip else "-"
    backends = [ep for ep in (svc.endpoints if svc else []) if ep.ready]
    target = svc.spec.ports[0].target_port if svc else port
    out = _agent_lines(pod)
    for i, (t, rid, path, local) in enumerate(_requests(pod)):
        if k.http10:  # refused by this sidecar's own HTTP codec: no upstream at all
            out.append(f'[{ts_milli(t)}] "GET {path} HTTP/1.0" 426 - http1.low_version - "-" 0 0 '
                       f'0 - "-" "Mozilla/5.0" "{rid}" "{name}:{port}" "-" - - {vip} '
                       f'{pod.ip}:{local} - -\n')
            continue
        if not backends:  # nothing ready behind the Service
            out.append(f'[{ts_milli(t)}] "GET {path} HTTP/1.1" 503 UH no_healthy_upstream - "-" '
                       f'0 19 0 - "-" "Mozilla/5.0" "{rid}" "{name}:{port}" "-" '
                       f'outbound|{port}||{name}.{pod.namespace}.svc.cluster.local - {vip} '
                       f'{pod.ip}:{local} - default\n')
            continue
        host = f"{backends[i % len(backends)].address}:{target}"
        out.append(f'[{ts_milli(t)}] "GET {path} HTTP/1.1" 200 - via_upstream - "-" 0 '
                   f'{400 + i * 17} {4 + i} {3 + i} "-" "Mozilla/5.0" "{rid}" "{name}:{port}" '
                   f'"{host}" outbound|{port}||{name}.{pod.namespace}.svc.cluster.local '
                   f'{pod.ip}:{local + 1} {vip} {pod.ip}:{local} - default\n')
    return "".join(out)
