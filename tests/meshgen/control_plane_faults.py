"""Control plane knobs (`control_plane_knobs`) made visible in a cluster's objects.

`finish_objects` runs after the regular objects of a cluster are rendered and changes only
what a knob asks for, so a cluster with default knobs renders exactly as before:

- identity: istiod's CLUSTER_ID, the install values' clusterName, the injection path of a
  remote install (`--slash--` or not) and what the injector derives from it for every proxy;
- external control plane: istiod's env (EXTERNAL_ISTIOD, LOCAL_CLUSTER_SECRET_WATCHER,
  KUBECONFIG), the config-type secret `istio-kubeconfig`, no webhooks of its own;
- the controlPlaneClusters annotation of a remote (the serving istiod's CLUSTER_ID);
- webhooks absent, or left pointing at a removed revision's Service;
- one istiod pod Pending (anti-affinity), crash-looping or OOM-killed, with its events.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.meshgen.control_plane_knobs import (cluster_id, faulty_istiod, inject_env,
                                               injection_path, is_remote_install,
                                               proxy_cluster_id)
from tests.meshgen.k8s_common import b64, meta
from tests.meshgen.model import RemoteSecretSpec
from tests.meshgen.naming import at, hexid, ts
from tests.meshgen.topology import ISTIO_NS, NET_LABEL, ClusterWorld, World

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"
ANNOTATION = "topology.istio.io/controlPlaneClusters"
OLD_REVISION = "1-27-3"
FAULT_TIME = at(22 * 60 + 14)  # 2026-11-20T08:14Z: the fault began
LAST_SEEN = at(22 * 60 + 59)   # 2026-11-20T08:59Z: shortly before capture
ANTI_AFFINITY = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "istiod"}},
     "topologyKey": "kubernetes.io/hostname"}]}}
UNSCHEDULABLE = ("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
                 "preemption: 0/2 nodes are available: 2 No preemption victims found for "
                 "incoming pod.")


def finish_objects(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    _identity(world, cw, objs)
    if cw.spec.cp.external_for:
        _external(world, cw, objs)
    _annotation(world, cw, objs)
    _webhook_faults(cw, objs)
    _istiod_fault(cw, objs)


# ---------------------------------------------------------------------------------- helpers


def istiod_containers(objs: dict[str, list[dict]]):
    """Every `discovery` container spec: istiod pods, Deployment and ReplicaSet templates."""
    for key in ("pods", "deployments.apps", "replicasets.apps"):
        for obj in objs.get(key, []):
            if (obj["metadata"].get("labels") or {}).get("app") != "istiod":
                continue
            spec = obj["spec"] if key == "pods" else obj["spec"]["template"]["spec"]
            yield obj, spec, next(c for c in spec["containers"] if c["name"] == "discovery")


def set_env(container: dict, name: str, value: str | None, after: str | None = None) -> None:
    """Set (or, with None, remove) a literal env value, keeping the order of the list."""
    env = container.setdefault("env", [])
    for i, e in enumerate(env):
        if e.get("name") == name:
            if value is None:
                env.pop(i)
            else:
                e["value"] = value
            return
    if value is None:
        return
    at_ = next((i + 1 for i, e in enumerate(env) if e.get("name") == after), len(env))
    env.insert(at_, {"name": name, "value": value})


def _proxy_containers(pod: dict) -> list[dict]:
    spec = pod.get("spec") or {}
    return [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            if c.get("name") == "istio-proxy"]


def _injector_values(objs: dict[str, list[dict]], change) -> None:
    for cm in objs.get("configmaps", []):
        if cm["metadata"]["name"] == "istio-sidecar-injector":
            values = json.loads(cm["data"]["values"])
            if change(values):
                cm["data"]["values"] = json.dumps(values, indent=2, sort_keys=True)


# --------------------------------------------------------------------------------- identity


def _identity(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    spec = cw.spec
    cid = cluster_id(spec)
    if cid != spec.id:
        for _obj, _spec, container in istiod_containers(objs):
            set_env(container, "CLUSTER_ID", cid)
    remote = is_remote_install(spec)
    path = injection_path(spec) if remote else None
    config_of = any(c.cp.external_for == spec.id for c in world.mesh.clusters)

    def values(v: dict) -> bool:
        before = json.dumps(v, sort_keys=True)
        v["global"]["multiCluster"]["clusterName"] = cid
        if path:
            v["istiodRemote"]["injectionPath"] = path
        if spec.cp.external_for:
            v["global"]["externalIstiod"] = True
        if config_of:
            v["global"]["configCluster"] = True
        return json.dumps(v, sort_keys=True) != before
    _injector_values(objs, values)
    if not path:
        claimed = proxy_cluster_id(spec)
        if claimed != spec.id:  # the injector's values name the cluster
            for pod in objs.get("pods", []):
                for c in _proxy_containers(pod):
                    set_env(c, "ISTIO_META_CLUSTER_ID", claimed)
        return
    for cfg in objs.get(MUTATING, []):
        for hook in cfg.get("webhooks") or []:
            svc = (hook.get("clientConfig") or {}).get("service") or {}
            if str(svc.get("path", "")).startswith("/inject"):
                svc["path"] = path
    env = inject_env(path)
    for pod in objs.get("pods", []):
        for c in _proxy_containers(pod):
            set_env(c, "ISTIO_META_CLUSTER_ID", env.get("ISTIO_META_CLUSTER_ID", ""))
            for key, value in env.items():
                if key not in ("ISTIO_META_CLUSTER_ID", "ISTIO_META_NETWORK"):
                    set_env(c, key, value, after="ISTIO_META_CLUSTER_ID")
            app = "ISTIO_META_APP_CONTAINERS" in {e.get("name") for e in c.get("env") or []}
            if app and "ISTIO_META_NETWORK" not in env:  # the injector never set a network
                set_env(c, "ISTIO_META_NETWORK", None)
                (pod["metadata"].get("labels") or {}).pop(NET_LABEL, None)


# ------------------------------------------------------------------------ external istiod


def _external(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    from tests.meshgen.k8s_objects import SECRETS, kubeconfig  # rendering helpers, no cycle

    spec = cw.spec
    config = world.mesh.cluster(spec.cp.external_for)
    for _obj, _spec, container in istiod_containers(objs):
        for name, value in reversed((("EXTERNAL_ISTIOD", "true"),
                                     ("LOCAL_CLUSTER_SECRET_WATCHER", "true"),
                                     ("SHARED_MESH_CONFIG", "istio"),
                                     ("KUBECONFIG", "/var/run/secrets/remote/config"),
                                     ("INJECTION_WEBHOOK_CONFIG_NAME", ""),
                                     ("VALIDATION_WEBHOOK_CONFIG_NAME", ""))):
            set_env(container, name, value, after="CLUSTER_ID")
    text = kubeconfig(spec, config, RemoteSecretSpec(auth=spec.cp.config_secret_auth))
    objs["secrets"].append({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": meta(cw.id, "Secret", "istio-kubeconfig", ISTIO_NS, SECRETS,
                         {"istio/multiCluster": "true"},
                         {"networking.istio.io/cluster": cluster_id(config)}),
        "data": {"config": b64(text)}})
    objs[MUTATING], objs[VALIDATING] = [], []  # its webhooks live in the clusters it serves


def _annotation(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    spec = cw.spec
    if not (spec.role == "remote" and spec.primary):
        return
    primary = world.mesh.cluster(spec.primary)
    want = None if primary.cp.external_for == spec.id or not spec.cp.control_plane_annotation \
        else cluster_id(primary)
    for ns in objs.get("namespaces", []):
        if ns["metadata"]["name"] != ISTIO_NS:
            continue
        annotations = ns["metadata"].setdefault("annotations", {})
        if want is None:
            annotations.pop(ANNOTATION, None)
        else:
            annotations[ANNOTATION] = want
        if not annotations:
            del ns["metadata"]["annotations"]


# --------------------------------------------------------------------------------- webhooks


def _webhook_faults(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    knobs = cw.spec.cp
    for key, state, name, labels in (
            (MUTATING, knobs.injection_webhook, "istio-revision-tag-default",
             {"app": "sidecar-injector", "istio.io/rev": OLD_REVISION, "istio.io/tag": "default"}),
            (VALIDATING, knobs.validation_webhook, f"istio-validator-{OLD_REVISION}-{ISTIO_NS}",
             {"app": "istiod", "istio": "istiod", "istio.io/rev": OLD_REVISION})):
        if state == "absent":
            objs[key] = []
        elif state == "dangling":  # left behind by an uninstalled revision
            for cfg in objs[key]:
                cfg["metadata"] = meta(cw.id, cfg["kind"], name, None, at(-30 * 24 * 60), labels)
                for hook in cfg.get("webhooks") or []:
                    hook["clientConfig"]["service"]["name"] = f"istiod-{OLD_REVISION}"


# ------------------------------------------------------------------------------ istiod pods


def _istiod_fault(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    spec = cw.spec
    bad = faulty_istiod(spec, cw.pods)
    if bad is None:
        return
    fault = spec.cp.istiod_fault
    for obj, pspec, container in istiod_containers(objs):
        if fault == "pending":
            pspec["affinity"] = json.loads(json.dumps(ANTI_AFFINITY))
        if fault == "oomkilled":
            container["resources"] = {"limits": {"memory": "1Gi"},
                                      "requests": {"cpu": "500m", "memory": "1Gi"}}
    pod = next(p for p in objs["pods"] if p["metadata"]["name"] == bad.name)
    uid = pod["metadata"]["uid"]
    status = pod["status"]
    if fault == "pending":
        del pod["spec"]["nodeName"]
        pod["status"] = {"conditions": [{"lastProbeTime": None,
                                         "lastTransitionTime": ts(FAULT_TIME),
                                         "message": UNSCHEDULABLE, "reason": "Unschedulable",
                                         "status": "False", "type": "PodScheduled"}],
                         "phase": "Pending", "qosClass": status.get("qosClass", "Burstable")}
        event = ("FailedScheduling", UNSCHEDULABLE, 31, "default-scheduler")
    else:
        oom = fault == "oomkilled"
        restarts = 5 if oom else 9
        started = FAULT_TIME + timedelta(minutes=40)
        st = next(s for s in status["containerStatuses"] if s["name"] == "discovery")
        st.update({"ready": False, "started": False, "restartCount": restarts,
                   "lastState": {"terminated": {
                       "exitCode": 137 if oom else 1, "reason": "OOMKilled" if oom else "Error",
                       "startedAt": ts(started), "finishedAt": ts(started + timedelta(
                           minutes=3 if oom else 0, seconds=38 if oom else 2))}},
                   "state": {"waiting": {
                       "message": f"back-off 5m0s restarting failed container=discovery "
                                  f"pod={bad.name}_{ISTIO_NS}({uid})",
                       "reason": "CrashLoopBackOff"}}})
        event = ("BackOff", f"Back-off restarting failed container discovery in pod "
                            f"{bad.name}_{ISTIO_NS}({uid})", 38 if not oom else 17, "kubelet")
    reason, message, count, component = event
    objs.setdefault("events", []).append({
        "apiVersion": "v1", "kind": "Event", "count": count, "type": "Warning",
        "firstTimestamp": ts(FAULT_TIME), "lastTimestamp": ts(LAST_SEEN),
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": bad.name,
                           "namespace": ISTIO_NS, "uid": uid},
        "message": message, "reason": reason, "reportingComponent": component,
        "source": {"component": component, **({"host": bad.node.name} if component ==
                                              "kubelet" else {})},
        "metadata": meta(cw.id, "Event", f"{bad.name}.{hexid(16, 'event', bad.name)}", ISTIO_NS,
                         FAULT_TIME)})
