"""Nodes, Pods, ReplicaSets and Deployments as `kubectl get -o yaml` prints them.

Injected pods look like the injector leaves them (istio-proxy env, network label, native
sidecar from 1.27 on), so `check` and `why-local-only` can read the same signals as on a live
cluster: ISTIO_META_NETWORK, ISTIO_META_CLUSTER_ID, the network label, container readiness.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.meshgen.control_plane_knobs import istiod_host, revision
from tests.meshgen.k8s_admission import admitted, injected, running
from tests.meshgen.k8s_common import meta, owner_ref
from tests.meshgen.model import ClusterSpec
from tests.meshgen.naming import at, ts
from tests.meshgen.topology import ClusterWorld, Pod, World, native_sidecars


def node_objects(cw: ClusterWorld) -> list[dict]:
    out = []
    for n in cw.nodes:
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n.name,
                  "kubernetes.io/os": "linux", "topology.kubernetes.io/region": n.region,
                  "topology.kubernetes.io/zone": n.zone}
        out.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": meta(cw.id, "Node", n.name, None, at(2), labels),
            "spec": {"podCIDR": f"{cw.spec.pod_prefix}.{n.index}.0/24",
                     "podCIDRs": [f"{cw.spec.pod_prefix}.{n.index}.0/24"],
                     "providerID": f"kind://docker/{cw.id}/{n.name}"},
            "status": {
                "addresses": [{"address": n.ip, "type": "InternalIP"},
                              {"address": n.name, "type": "Hostname"}],
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "conditions": [{"lastHeartbeatTime": "2026-11-20T08:58:30Z",
                                "lastTransitionTime": ts(at(3)), "message": "kubelet is posting ready status",
                                "reason": "KubeletReady", "status": "True", "type": "Ready"}],
                "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://2.1.3",
                             "kernelVersion": "6.8.0-45-generic", "kubeProxyVersion": "v1.34.0",
                             "kubeletVersion": "v1.34.0", "operatingSystem": "linux",
                             "osImage": "Debian GNU/Linux 12 (bookworm)"},
            },
        })
    return out


def _field_env(name: str, path: str) -> dict:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _proxy_env(spec: ClusterSpec, mesh_id: str, pod: Pod, owner: str) -> list[dict]:
    env = [
        {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
        {"name": "CA_ADDR", "value": f"{istiod_host(spec)}:15012"},
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        _field_env("INSTANCE_IP", "status.podIP"),
        _field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        {"name": "PROXY_CONFIG", "value": json.dumps({"meshId": mesh_id}) + "\n"},
    ]
    if pod.role == "app":
        env += [
            {"name": "ISTIO_META_POD_PORTS",
             "value": json.dumps([{"containerPort": pod.container_port, "protocol": "TCP"}])},
            {"name": "ISTIO_META_APP_CONTAINERS", "value": pod.container_name},
        ]
    else:
        env += [{"name": "ISTIO_META_ROUTER_MODE", "value": "sni-dnat"},
                {"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": spec.network}]
    env += [
        {"name": "ISTIO_META_CLUSTER_ID", "value": spec.id},
        _field_env("ISTIO_META_NODE_NAME", "spec.nodeName"),
        {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
        {"name": "ISTIO_META_WORKLOAD_NAME", "value": pod.deployment},
        {"name": "ISTIO_META_OWNER",
         "value": f"kubernetes://apis/apps/v1/namespaces/{pod.namespace}/deployments/{owner}"},
        {"name": "ISTIO_META_MESH_ID", "value": mesh_id},
        {"name": "TRUST_DOMAIN", "value": spec.trust_domain},
    ]
    if pod.network_meta:
        env.append({"name": "ISTIO_META_NETWORK", "value": pod.network_meta})
    return env


def _proxy_container(spec: ClusterSpec, mesh_id: str, pod: Pod) -> dict:
    router = pod.role == "gateway"
    c = {
        "args": ["proxy", "router" if router else "sidecar", "--domain",
                 "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning",
                 "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
        "env": _proxy_env(spec, mesh_id, pod, pod.deployment),
        "image": f"docker.io/istio/proxyv2:{pod.istio_version or spec.istio_version}",
        "imagePullPolicy": "IfNotPresent",
        "name": "istio-proxy",
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"failureThreshold": 4, "httpGet": {"path": "/healthz/ready",
                                                              "port": 15021},
                           "periodSeconds": 15, "timeoutSeconds": 3},
        "securityContext": {"runAsGroup": 1337, "runAsNonRoot": True, "runAsUser": 1337},
    }
    if router:
        c["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in (15021, 15443, 15012, 15017)] + c["ports"]
    return c


def _init_container(spec: ClusterSpec) -> dict:
    return {
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT",
                 "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"],
        "image": f"docker.io/istio/proxyv2:{spec.istio_version}",
        "imagePullPolicy": "IfNotPresent", "name": "istio-init",
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": False,
                            "runAsGroup": 0, "runAsNonRoot": False, "runAsUser": 0},
    }


def _app_container(pod: Pod) -> dict:
    w = pod.workload
    c = {"image": w.image, "imagePullPolicy": "IfNotPresent", "name": w.app,
         "ports": [{"containerPort": w.container_port, "protocol": "TCP"}],
         "resources": {"requests": {"cpu": "100m"}}}
    if w.command:
        c["command"] = list(w.command)
    return c


def _istiod_container(spec: ClusterSpec) -> dict:
    env = [{"name": "REVISION", "value": revision(spec)},
           {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
           _field_env("POD_NAME", "metadata.name"), _field_env("POD_NAMESPACE", "metadata.namespace"),
           _field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
           {"name": "CLUSTER_ID", "value": spec.id}]
    return {
        "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info",
                 "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
        "env": env, "image": f"docker.io/istio/pilot:{spec.istio_version}",
        "imagePullPolicy": "IfNotPresent", "name": "discovery",
        "ports": [{"containerPort": 8080, "name": "http-debug", "protocol": "TCP"},
                  {"containerPort": 15010, "name": "grpc-xds", "protocol": "TCP"},
                  {"containerPort": 15012, "name": "tls-xds", "protocol": "TCP"},
                  {"containerPort": 15017, "name": "https-webhooks", "protocol": "TCP"},
                  {"containerPort": 15014, "name": "http-monitoring", "protocol": "TCP"}],
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/ready", "port": 8080,
                                                              "scheme": "HTTP"},
                           "initialDelaySeconds": 1, "periodSeconds": 3, "timeoutSeconds": 5},
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
        "volumeMounts": [{"mountPath": "/etc/cacerts", "name": "cacerts", "readOnly": True},
                         {"mountPath": "/var/run/secrets/remote", "name": "istio-kubeconfig",
                          "readOnly": True}],
    }


def _status_running(name: str, image: str, started, ready: bool, crash: bool = False) -> dict:
    st = {"image": image, "name": name, "ready": ready, "restartCount": 0, "started": True,
          "state": {"running": {"startedAt": ts(started)}}}
    if crash:
        st.update({"restartCount": 7, "started": False,
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                "startedAt": "2026-11-20T08:52:10Z",
                                                "finishedAt": "2026-11-20T08:52:11Z"}},
                   "state": {"waiting": {"message": "back-off 5m0s restarting failed container",
                                         "reason": "CrashLoopBackOff"}}})
    return st


def _pod_spec_and_status(spec: ClusterSpec, mesh_id: str, pod: Pod) -> tuple[dict, dict, dict]:
    """spec, status and annotations of a pod after admission (injection) and scheduling."""
    started = pod.created + timedelta(seconds=4)
    annotations: dict[str, str] = {}
    init: list[dict] = []
    containers: list[dict] = []
    init_status: list[dict] = []
    statuses: list[dict] = []
    if pod.role == "app":
        native = native_sidecars(spec.istio_version)
        proxy = _proxy_container(spec, mesh_id, pod)
        init = [_init_container(spec)]
        app = _app_container(pod)
        containers = [app]
        term = {"image": init[0]["image"], "name": "istio-init", "ready": True,
                "restartCount": 0, "started": False,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                         "startedAt": ts(started), "finishedAt": ts(started)}}}
        init_status = [term]
        proxy_status = _status_running("istio-proxy", proxy["image"], started, True)
        if native:
            proxy["restartPolicy"] = "Always"
            proxy["startupProbe"] = {"failureThreshold": 600, "httpGet": {
                "path": "/healthz/ready", "port": 15021},
                "periodSeconds": 1, "timeoutSeconds": 3}
            init.append(proxy)
            init_status.append(proxy_status)
            statuses = [_status_running(app["name"], app["image"], started, pod.app_ready,
                                        crash=not pod.app_ready)]
        else:
            containers.append(proxy)
            statuses = [_status_running(app["name"], app["image"], started, pod.app_ready,
                                        crash=not pod.app_ready), proxy_status]
        inits = [c["name"] for c in init]
        status_ann = {"initContainers": inits, "containers": None if native else ["istio-proxy"],
                      "volumes": ["workload-socket", "credential-socket", "workload-certs",
                                  "istio-envoy", "istio-data", "istio-podinfo", "istio-token",
                                  "istiod-ca-cert", "istio-ca-crl"],
                      "imagePullSecrets": None, "revision": revision(spec)}
        annotations = {"istio.io/rev": revision(spec),
                       "kubectl.kubernetes.io/default-container": app["name"],
                       "kubectl.kubernetes.io/default-logs-container": app["name"],
                       "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020",
                       "prometheus.io/scrape": "true",
                       "sidecar.istio.io/status": json.dumps(status_ann, separators=(",", ":"))}
    elif pod.role == "gateway":
        proxy = _proxy_container(spec, mesh_id, pod)
        containers = [proxy]
        statuses = [_status_running("istio-proxy", proxy["image"], started, True)]
        annotations = {"istio.io/rev": revision(spec)}
    else:
        c = _istiod_container(spec)
        containers = [c]
        statuses = [_status_running("discovery", c["image"], started, True)]
        annotations = {"sidecar.istio.io/inject": "false"}
    ready = "True" if pod.ready else "False"
    pspec = {"containers": containers, "dnsPolicy": "ClusterFirst", "nodeName": pod.node.name,
             "restartPolicy": "Always", "serviceAccountName": pod.service_account}
    if init:
        pspec["initContainers"] = init
    conds = [{"lastTransitionTime": ts(started), "status": "True", "type": "Initialized"},
             {"lastTransitionTime": ts(started + timedelta(seconds=3)), "status": ready,
              "type": "Ready"},
             {"lastTransitionTime": ts(started + timedelta(seconds=3)), "status": ready,
              "type": "ContainersReady"},
             {"lastTransitionTime": ts(pod.created), "status": "True", "type": "PodScheduled"}]
    if not pod.ready:
        for c in conds[1:3]:
            c["reason"] = "ContainersNotReady"
            c["message"] = f"containers with unready status: [{pod.container_name}]"
    status = {"conditions": conds, "containerStatuses": statuses, "hostIP": pod.node.ip,
              "hostIPs": [{"ip": pod.node.ip}], "phase": "Running", "podIP": pod.ip,
              "podIPs": [{"ip": pod.ip}], "qosClass": "Burstable", "startTime": ts(pod.created)}
    if init_status:
        status["initContainerStatuses"] = init_status
    if pod.role == "app":
        injected(pspec)
    admitted(pspec, pod.name)
    running(status, pod.name)
    return pspec, status, annotations


def pod_objects(world: World, cw: ClusterWorld) -> list[dict]:
    out = []
    for pod in cw.pods:
        pspec, status, annotations = _pod_spec_and_status(cw.spec, world.mesh.mesh_id, pod)
        owner = owner_ref(cw.id, "ReplicaSet", "apps/v1", pod.replicaset, pod.namespace)
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": meta(cw.id, "Pod", pod.name, pod.namespace, pod.created,
                                     pod.labels, annotations, owner, f"{pod.replicaset}-"),
                    "spec": pspec, "status": status})
    return out


def _template_spec(cw: ClusterWorld, dep: dict) -> dict:
    if dep["role"] == "app":
        w = dep["workload"]
        c = {"image": w.image, "imagePullPolicy": "IfNotPresent", "name": w.app,
             "ports": [{"containerPort": w.container_port, "protocol": "TCP"}],
             "resources": {"requests": {"cpu": "100m"}}}
        if w.command:
            c["command"] = list(w.command)
        return {"containers": [c], "serviceAccountName": w.service_account}
    if dep["role"] == "gateway":
        return {"containers": [{"image": "auto", "name": "istio-proxy"}],
                "serviceAccountName": dep["service_account"]}
    c = _istiod_container(cw.spec)
    return {"containers": [{k: c[k] for k in ("args", "env", "image", "name")}],
            "serviceAccountName": "istiod"}


def _replica_status(cw: ClusterWorld, dep: dict) -> dict:
    pods = [p for p in cw.pods if p.deployment == dep["name"] and p.namespace == dep["namespace"]]
    ready = sum(1 for p in pods if p.ready)
    st: dict = {"observedGeneration": 1}
    if pods:
        st["replicas"] = len(pods)
    if ready:
        st["readyReplicas"] = ready
        st["availableReplicas"] = ready
    return st


def deployment_objects(cw: ClusterWorld) -> list[dict]:
    out = []
    for dep in cw.deployments:
        st = _replica_status(cw, dep)
        pods = st.get("replicas", 0)
        available = st.get("availableReplicas", 0) >= dep["replicas"]
        st.update({"conditions": [
            {"lastTransitionTime": ts(dep["created"]), "lastUpdateTime": ts(dep["created"]),
             "message": "Deployment has minimum availability." if available
             else "Deployment does not have minimum availability.",
             "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
             "status": "True" if available else "False", "type": "Available"},
            {"lastTransitionTime": ts(dep["created"]), "lastUpdateTime": ts(dep["created"]),
             "message": f'ReplicaSet "{dep["name"]}-{dep["hash"]}" has successfully progressed.',
             "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"}]})
        if pods:
            st["updatedReplicas"] = pods
        if pods - st.get("availableReplicas", 0) > 0:
            st["unavailableReplicas"] = pods - st.get("availableReplicas", 0)
        out.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(cw.id, "Deployment", dep["name"], dep["namespace"], dep["created"],
                             dep["labels"], {"deployment.kubernetes.io/revision": "1"}),
            "spec": {"progressDeadlineSeconds": 600, "replicas": dep["replicas"],
                     "revisionHistoryLimit": 10, "selector": {"matchLabels": dict(dep["labels"])},
                     "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                                  "type": "RollingUpdate"},
                     "template": {"metadata": {"labels": dict(dep["labels"])},
                                  "spec": _template_spec(cw, dep)}},
            "status": st,
        })
    return out


def replicaset_objects(cw: ClusterWorld) -> list[dict]:
    out = []
    for dep in cw.deployments:
        name = f"{dep['name']}-{dep['hash']}"
        labels = dict(dep["labels"], **{"pod-template-hash": dep["hash"]})
        owner = owner_ref(cw.id, "Deployment", "apps/v1", dep["name"], dep["namespace"])
        st = _replica_status(cw, dep)
        st["replicas"] = st.get("replicas", 0)
        if st["replicas"]:
            st["fullyLabeledReplicas"] = st["replicas"]
        out.append({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": meta(cw.id, "ReplicaSet", name, dep["namespace"], dep["created"], labels,
                             {"deployment.kubernetes.io/desired-replicas": str(dep["replicas"]),
                              "deployment.kubernetes.io/max-replicas": str(dep["replicas"] + 1),
                              "deployment.kubernetes.io/revision": "1"}, owner),
            "spec": {"replicas": dep["replicas"], "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": _template_spec(cw, dep)}},
            "status": st,
        })
    return out
