"""The Kubernetes objects of an ambient install, applied to a cluster's rendered objects.

Namespaces enrolled with `istio.io/dataplane-mode=ambient` (and no injection label), app pods
annotated `ambient.istio.io/redirection: enabled` by istio-cni, istiod's ambient env and
`meshConfig.serviceScopeConfigs` (manifests/helm-profiles/ambient.yaml), Services labelled
`istio.io/global` and `istio.io/use-waypoint`, the ztunnel and istio-cni DaemonSets and their
pods, the waypoint and the ambient east-west gateway (Gateway, Deployment, pod, Service).
"""

from __future__ import annotations

import yaml

from tests.meshgen.ambient_knobs import HOSTNAME, IP, ambient_namespace
from tests.meshgen.ambient_world import (CNI, EASTWEST_CLASS, HBONE_PORT, WAYPOINT_CLASS, ZTUNNEL,
                                         InfraPod, captured, class_served, cluster_ip,
                                         eastwest_address, eastwest_hostname, eastwest_lb,
                                         eastwest_network,
                                         eastwest_pods, global_in, node_agents, waypoint_pods)
from tests.meshgen.control_plane_faults import istiod_containers, set_env
from tests.meshgen.k8s_common import meta, owner_ref
from tests.meshgen.model import version_tuple
from tests.meshgen.naming import at, ts
from tests.meshgen.topology import ISTIO_NS, NET_LABEL, ClusterWorld, World

REDIRECTION = "ambient.istio.io/redirection"
INSTALLED = at(21)  # ztunnel and istio-cni installed right after istiod
GATEWAY_API = "gateway.networking.k8s.io/v1"
SCOPE_CONFIGS = [{"servicesSelector": {"matchExpressions": [
    {"key": "istio.io/global", "operator": "In", "values": ["true"]}]}, "scope": "GLOBAL"}]


def finish_objects(world: World, cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    """Turn a rendered cluster into an ambient one, in place (nothing when not enabled)."""
    if not cw.spec.ambient.enabled:
        return
    _namespaces(cw, objs)
    _app_pods(cw, objs)
    _istiod(cw, objs)
    _mesh_config(cw, objs)
    _services(cw, objs)
    objs.setdefault("daemonsets.apps", [])
    for kind in (ZTUNNEL, CNI):
        agents = node_agents(cw, kind)
        objs["daemonsets.apps"].append(_daemonset(cw, kind, agents))
        objs["pods"] += [_agent_pod(cw, kind, a) for a in agents]
    _waypoint(cw, objs)
    _eastwest(cw, objs)


def _namespaces(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    for ns in objs["namespaces"]:
        name = ns["metadata"]["name"]
        if ambient_namespace(cw.spec, name):
            labels = ns["metadata"]["labels"]
            labels.pop("istio-injection", None)
            labels.pop("istio.io/rev", None)
            labels["istio.io/dataplane-mode"] = "ambient"


def _app_pods(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    for obj in objs["pods"]:
        pod = cw.pod(obj["metadata"]["name"])
        if pod is not None and captured(cw, pod):
            obj["metadata"].setdefault("annotations", {})[REDIRECTION] = "enabled"


def _istiod(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    """PILOT_ENABLE_AMBIENT from the ambient profile; AMBIENT_ENABLE_MULTI_NETWORK as the
    multicluster install guide sets it."""
    for _obj, _spec, container in istiod_containers(objs):
        set_env(container, "PILOT_ENABLE_AMBIENT", "true", after="CLUSTER_ID")
        set_env(container, "AMBIENT_ENABLE_MULTI_NETWORK",
                "true" if cw.spec.ambient.multi_network else None, after="PILOT_ENABLE_AMBIENT")


def mesh_config_changes(mesh: dict, version: str) -> dict:
    """The ambient profile's meshConfig on top of a rendered one (serviceScopeConfigs exists
    since 1.27, with ambient multicluster)."""
    meta_ = mesh.setdefault("defaultConfig", {}).setdefault("proxyMetadata", {})
    meta_["ISTIO_META_ENABLE_HBONE"] = "true"
    if version_tuple(version) >= (1, 27):
        mesh["serviceScopeConfigs"] = SCOPE_CONFIGS
    return mesh


def _mesh_config(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    for cm in objs["configmaps"]:
        if cm["metadata"]["name"].startswith("istio") and "mesh" in (cm.get("data") or {}):
            mesh = yaml.safe_load(cm["data"]["mesh"]) or {}
            cm["data"]["mesh"] = yaml.safe_dump(mesh_config_changes(mesh, cw.spec.istio_version),
                                                sort_keys=True)


def _services(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    k = cw.spec.ambient
    for svc in objs["services"]:
        m = svc["metadata"]
        if not ambient_namespace(cw.spec, m.get("namespace", "")):
            continue
        if global_in(cw.spec, m["name"]):
            m.setdefault("labels", {})["istio.io/global"] = "true"
        if k.waypoint is not None and m["name"] in k.waypoint_for:
            m.setdefault("labels", {})["istio.io/use-waypoint"] = k.waypoint.name


# ------------------------------------------------------------------------------ node agents


def _env(name: str, value: str | None = None, path: str | None = None) -> dict:
    if path:
        return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}
    return {"name": name, "value": value}


def _ztunnel_container(cw: ClusterWorld) -> dict:
    """The ztunnel chart's container (manifests/charts/ztunnel/templates/daemonset.yaml)."""
    spec = cw.spec
    env = [_env("CA_ADDRESS", "istiod.istio-system.svc:15012"),
           _env("XDS_ADDRESS", "istiod.istio-system.svc:15012")]
    if spec.ambient.ztunnel_network:
        env.append(_env("NETWORK", spec.network))
    env += [_env("RUST_LOG", "info"), _env("RUST_BACKTRACE", "1"),
            _env("ISTIO_META_CLUSTER_ID", spec.id), _env("INPOD_ENABLED", "true"),
            _env("TERMINATION_GRACE_PERIOD_SECONDS", "30"),
            _env("POD_NAME", path="metadata.name"), _env("POD_NAMESPACE", path="metadata.namespace"),
            _env("NODE_NAME", path="spec.nodeName"), _env("INSTANCE_IP", path="status.podIP"),
            _env("SERVICE_ACCOUNT", path="spec.serviceAccountName"),
            _env("ISTIO_META_ENABLE_HBONE", "true")]
    return {"args": ["proxy", "ztunnel"], "env": env, "name": "istio-proxy",
            "image": f"docker.io/istio/ztunnel:{spec.istio_version}-distroless",
            "ports": [{"containerPort": 15020, "name": "ztunnel-stats", "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}}}


def _cni_container(cw: ClusterWorld) -> dict:
    return {"name": "install-cni", "command": ["install-cni"], "args": ["--log_output_level=info"],
            "image": f"docker.io/istio/install-cni:{cw.spec.istio_version}-distroless",
            "env": [_env("REPAIR_ENABLED", "true"), _env("AMBIENT_ENABLED", "true"),
                    _env("NODE_NAME", path="spec.nodeName")],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
            "securityContext": {"privileged": True}}


def _agent_labels(kind: str) -> dict[str, str]:
    if kind == ZTUNNEL:
        return {"app": "ztunnel", "app.kubernetes.io/name": "ztunnel",
                "istio.io/dataplane-mode": "none", "sidecar.istio.io/inject": "false"}
    return {"k8s-app": CNI, "app.kubernetes.io/name": "istio-cni",
            "istio.io/dataplane-mode": "none", "sidecar.istio.io/inject": "false"}


def _agent_pod(cw: ClusterWorld, kind: str, agent: InfraPod) -> dict:
    container = _ztunnel_container(cw) if kind == ZTUNNEL else _cni_container(cw)
    return _pod_object(cw, agent, _agent_labels(kind), [container], "DaemonSet",
                       host_network=kind == CNI,
                       account="ztunnel" if kind == ZTUNNEL else "istio-cni")


def _daemonset(cw: ClusterWorld, kind: str, agents: list[InfraPod]) -> dict:
    name = ZTUNNEL if kind == ZTUNNEL else CNI
    labels = _agent_labels(kind)
    ready = sum(1 for a in agents if a.ready)
    selector = {"app": "ztunnel"} if kind == ZTUNNEL else {"k8s-app": CNI}
    container = _ztunnel_container(cw) if kind == ZTUNNEL else _cni_container(cw)
    status = {"currentNumberScheduled": len(agents), "desiredNumberScheduled": len(agents),
              "numberAvailable": ready, "numberMisscheduled": 0, "numberReady": ready,
              "observedGeneration": 1, "updatedNumberScheduled": len(agents)}
    if ready < len(agents):
        status["numberUnavailable"] = len(agents) - ready
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": meta(cw.id, "DaemonSet", name, ISTIO_NS, INSTALLED,
                             {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]}),
            "spec": {"selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container]}}},
            "status": status}


def _pod_object(cw: ClusterWorld, p: InfraPod, labels: dict[str, str], containers: list[dict],
                owner_kind: str, *, host_network: bool = False, account: str = "") -> dict:
    started = INSTALLED
    name = containers[0]["name"]
    if p.ready:
        state = {"running": {"startedAt": ts(started)}}
        st = {"image": containers[0]["image"], "name": name, "ready": True, "restartCount": 0,
              "started": True, "state": state}
    else:
        st = {"image": containers[0]["image"], "name": name, "ready": False, "restartCount": 9,
              "started": False,
              "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                           "startedAt": "2026-11-20T08:51:40Z",
                                           "finishedAt": "2026-11-20T08:51:55Z"}},
              "state": {"waiting": {"message": "back-off 5m0s restarting failed container",
                                    "reason": "CrashLoopBackOff"}}}
    ready = "True" if p.ready else "False"
    conds = [{"lastTransitionTime": ts(started), "status": "True", "type": "Initialized"},
             {"lastTransitionTime": ts(started), "status": ready, "type": "Ready"},
             {"lastTransitionTime": ts(started), "status": ready, "type": "ContainersReady"},
             {"lastTransitionTime": ts(started), "status": "True", "type": "PodScheduled"}]
    spec = {"containers": containers, "nodeName": p.node.name, "restartPolicy": "Always",
            "serviceAccountName": account or p.owner}
    if host_network:
        spec["hostNetwork"] = True
    api = "apps/v1"
    owner = owner_ref(cw.id, owner_kind, api, p.owner if owner_kind == "DaemonSet"
                      else p.name.rsplit("-", 1)[0], p.namespace)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(cw.id, "Pod", p.name, p.namespace, started, labels,
                             {"sidecar.istio.io/inject": "false"}, owner),
            "spec": spec,
            "status": {"conditions": conds, "containerStatuses": [st], "hostIP": p.node.ip,
                       "phase": "Running", "podIP": p.ip, "podIPs": [{"ip": p.ip}],
                       "qosClass": "Burstable", "startTime": ts(started)}}


# ------------------------------------------------------------------------------ gateways


def _proxy_container(cw: ClusterWorld, name: str) -> dict:
    """The `proxy waypoint` container both the waypoint and the E/W gateway run."""
    return {"args": ["proxy", "waypoint", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                     "--serviceCluster", f"{name}.$(POD_NAMESPACE)"],
            "env": [{"name": "ISTIO_META_CLUSTER_ID", "value": cw.spec.id},
                    {"name": "ISTIO_META_NETWORK", "value": cw.spec.network}],
            "image": f"docker.io/istio/proxyv2:{cw.spec.istio_version}",
            "name": "istio-proxy",
            "ports": [{"containerPort": 15021, "name": "status-port", "protocol": "TCP"}]}


def _gateway_labels(controller: str, klass: str, name: str, network: str | None) -> dict:
    labels = {"gateway.istio.io/managed": controller,
              "gateway.networking.k8s.io/gateway-class-name": klass,
              "gateway.networking.k8s.io/gateway-name": name}
    if network:
        labels[NET_LABEL] = network
    return labels


def _gateway_service(cw: ClusterWorld, name: str, namespace: str, labels: dict, kind: str,
                     ingress: dict | None) -> dict:
    ip = cluster_ip(cw.spec, namespace, name)
    ports = [{"appProtocol": "tcp", "name": "status-port", "port": 15021, "protocol": "TCP",
              "targetPort": 15021},
             {"appProtocol": "all", "name": "mesh", "port": HBONE_PORT, "protocol": "TCP",
              "targetPort": HBONE_PORT}]
    status: dict = {"loadBalancer": {"ingress": [ingress]} if ingress else {}}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta(cw.id, "Service", name, namespace, at(22 * 60 + 25), labels,
                             {"networking.istio.io/traffic-distribution": "PreferClose"},
                             owner_ref(cw.id, "Gateway", GATEWAY_API, name, namespace)),
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "PreferDualStack", "ports": ports,
                     "selector": {"gateway.networking.k8s.io/gateway-name": name},
                     "sessionAffinity": "None", "type": kind},
            "status": status}


def _deployment(cw: ClusterWorld, name: str, namespace: str, labels: dict,
                pods: list[InfraPod]) -> dict:
    ready = sum(1 for p in pods if p.ready)
    st: dict = {"observedGeneration": 1, "replicas": len(pods)}
    if ready:
        st.update({"readyReplicas": ready, "availableReplicas": ready})
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(cw.id, "Deployment", name, namespace, at(22 * 60 + 25), labels,
                             owner=owner_ref(cw.id, "Gateway", GATEWAY_API, name, namespace)),
            "spec": {"replicas": 1, "selector": {"matchLabels": {
                "gateway.networking.k8s.io/gateway-name": name}},
                "template": {"metadata": {"labels": dict(labels, **{
                    "istio.io/dataplane-mode": "none", "sidecar.istio.io/inject": "false"})},
                    "spec": {"containers": [_proxy_container(cw, name)]}}},
            "status": st}


def _gateway_object(cw: ClusterWorld, name: str, namespace: str, klass: str, labels: dict,
                    listener: dict, address: tuple[str, str] | None, programmed: bool,
                    reason: str) -> dict:
    conds = [{"lastTransitionTime": ts(at(22 * 60 + 25)), "observedGeneration": 1,
              "type": "Accepted", "status": "True", "reason": "Accepted",
              "message": "Resource accepted"},
             {"lastTransitionTime": ts(at(22 * 60 + 25)), "observedGeneration": 1,
              "type": "Programmed", "status": "True" if programmed else "False",
              "reason": "Programmed" if programmed else reason,
              "message": "Resource programmed, assigned to service(s) "
                         f"{name}.{namespace}.svc.cluster.local:{HBONE_PORT}"
              if programmed else f"Assigned to service(s) {name}.{namespace}.svc.cluster.local:"
                                 f"{HBONE_PORT}, but failed to assign to all requested addresses"}]
    status: dict = {"conditions": conds}
    if address:
        status["addresses"] = [{"type": address[0], "value": address[1]}]
    return {"apiVersion": GATEWAY_API, "kind": "Gateway",
            "metadata": meta(cw.id, "Gateway", name, namespace, at(22 * 60 + 25), labels),
            "spec": {"gatewayClassName": klass, "listeners": [listener]}, "status": status}


def _add(objs: dict[str, list[dict]], key: str, obj: dict) -> None:
    objs.setdefault(key, []).append(obj)


def _waypoint(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    """`istioctl waypoint apply --name waypoint --for service` (the failover guide's waypoint)."""
    wp = cw.spec.ambient.waypoint
    if wp is None or not wp.present:
        return
    labels = _gateway_labels("istio.io-mesh-controller", WAYPOINT_CLASS, wp.name, cw.spec.network)
    pods = waypoint_pods(cw)
    for p in pods:
        objs["pods"].append(_pod_object(cw, p, dict(labels, **{
            "istio.io/dataplane-mode": "none", "service.istio.io/canonical-name": wp.name,
            "service.istio.io/canonical-revision": "latest"}), [_proxy_container(cw, wp.name)],
            "ReplicaSet", account=wp.name))
    svc_labels = dict(labels, **({"istio.io/global": "true"} if wp.global_label else {}))
    objs["services"].append(_gateway_service(cw, wp.name, wp.namespace, svc_labels, "ClusterIP",
                                             None))
    _add(objs, "deployments.apps", _deployment(cw, wp.name, wp.namespace, labels, pods))
    address = ("IPAddress", cluster_ip(cw.spec, wp.namespace, wp.name)) if wp.programmed else None
    gw = _gateway_object(cw, wp.name, wp.namespace, WAYPOINT_CLASS,
                         {"istio.io/waypoint-for": "service"},
                         {"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE",
                          "allowedRoutes": {"namespaces": {"from": "Same"}}},
                         address, wp.programmed, "Invalid")
    _add(objs, "gateways.gateway.networking.k8s.io", gw)


def _eastwest(cw: ClusterWorld, objs: dict[str, list[dict]]) -> None:
    """`samples/multicluster/gen-eastwest-gateway.sh --network <net> --ambient` (fixture
    eastwest-gateway-ambient-generated-network1.yaml) and what the controller deploys for it."""
    ew = cw.spec.ambient.eastwest
    if not ew.present:
        return
    network = eastwest_network(cw.spec)
    gw_labels = {NET_LABEL: network} if network else {}
    listener: dict = {"name": "mesh", "port": HBONE_PORT, "protocol": ew.protocol,
                      "tls": {"mode": ew.tls_mode,
                              "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}}}
    address = eastwest_address(cw.spec)
    served = class_served(cw.spec)
    gw = _gateway_object(cw, ew.name, ISTIO_NS, EASTWEST_CLASS, gw_labels, listener, address,
                         served and ew.address in (IP, HOSTNAME), "AddressNotAssigned")
    if not served:  # no controller: the Gateway was never accepted
        gw["status"] = {"conditions": [{"lastTransitionTime": "1970-01-01T00:00:00Z",
                                        "message": "Waiting for controller", "reason": "Pending",
                                        "status": "Unknown", "type": "Accepted"},
                                       {"lastTransitionTime": "1970-01-01T00:00:00Z",
                                        "message": "Waiting for controller", "reason": "Pending",
                                        "status": "Unknown", "type": "Programmed"}]}
    _add(objs, "gateways.gateway.networking.k8s.io", gw)
    pods = eastwest_pods(cw)
    if not pods:
        return
    labels = _gateway_labels("istio.io-eastwest-controller", EASTWEST_CLASS, ew.name, network)
    for p in pods:
        objs["pods"].append(_pod_object(cw, p, dict(labels, **{
            "istio.io/dataplane-mode": "none", "service.istio.io/canonical-name": ew.name,
            "service.istio.io/canonical-revision": "latest"}), [_proxy_container(cw, ew.name)],
            "ReplicaSet", account=ew.name))
    ingress = {"ip": eastwest_lb(cw.spec), "ipMode": "VIP"} if ew.address == IP else \
        {"hostname": eastwest_hostname(cw.spec)} if ew.address == HOSTNAME else None
    objs["services"].append(_gateway_service(cw, ew.name, ISTIO_NS, labels, "LoadBalancer",
                                             ingress))
    _add(objs, "deployments.apps", _deployment(cw, ew.name, ISTIO_NS, labels, pods))
