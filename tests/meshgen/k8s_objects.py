"""Every Kubernetes object of one cluster, grouped by resource key (`Kind.key`).

Namespaces, Services and EndpointSlices, the Istio install (ConfigMaps, webhooks, cacerts),
remote secrets (already redacted as contract C4 requires), Istio networking config and the
optional NetworkPolicy around istiod. Workload objects come from `k8s_workloads`.
"""

from __future__ import annotations

import json

import yaml

from tests.meshgen import ambient_objects, certs, control_plane_faults, workload_faults
from tests.meshgen.istiod_view import ControlPlane
from tests.meshgen.remote_secrets import secret_name, secret_server
from tests.meshgen.k8s_common import REDACTED, b64, meta, owner_ref
from tests.meshgen.k8s_workloads import (deployment_objects, node_objects, pod_objects,
                                         replicaset_objects)
from tests.meshgen.control_plane_knobs import istiod_host, rev_suffix, revision
from tests.meshgen.model import ClusterSpec, RemoteSecretSpec, version_tuple
from tests.meshgen.naming import at, k8s_suffix
from tests.meshgen.topology import (ISTIO_NS, K8S_EASTWEST, NET_LABEL, ClusterWorld, Service,
                                    World, eastwest_gateway, gateway_external_ip,
                                    gateway_network_label)

NAMESPACES = ["default", "kube-system", ISTIO_NS, "sample"]
INSTALL = at(20)          # Istio installed 2026-11-19T10:20Z
SECRETS = at(30)          # remote secrets applied 10:30Z


def serving_cluster(world: World, cw: ClusterWorld) -> ClusterSpec:
    """The cluster whose istiod (and CA) serves this cluster's proxies."""
    spec = cw.spec
    if spec.has_istiod or not spec.primary:
        return spec
    return world.mesh.cluster(spec.primary)


def root_cert(spec: ClusterSpec) -> certs.Cert:
    return certs.root_ca(spec.root_ca, spec.root_not_after)


def _namespaces(world: World, cw: ClusterWorld) -> list[dict]:
    out = []
    for ns in NAMESPACES:
        labels = {"kubernetes.io/metadata.name": ns}
        annotations = None
        created = at(0) if ns in ("default", "kube-system") else INSTALL
        if ns == ISTIO_NS and cw.spec.system_namespace_network_label:
            labels[NET_LABEL] = cw.spec.network
        if ns == ISTIO_NS and cw.spec.role == "remote" and cw.spec.primary:
            annotations = {"topology.istio.io/controlPlaneClusters": cw.spec.primary}
        if ns == "sample" and cw.spec.cp.revision:
            labels["istio.io/rev"] = revision(cw.spec)  # revision-based injection
        elif ns == "sample":
            labels["istio-injection"] = "enabled"
            created = at(22 * 60 + 29)
        labels.update(cw.spec.namespace_labels.get(ns, {}))
        out.append({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": meta(cw.id, "Namespace", ns, None, created, labels, annotations),
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    return out


def _service(cw: ClusterWorld, svc: Service) -> dict:
    s = svc.spec
    ports = []
    for p in s.ports:
        port = {"name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.target_port}
        if p.app_protocol:
            port["appProtocol"] = p.app_protocol
        if p.name in svc.node_ports:
            port["nodePort"] = svc.node_ports[p.name]
        ports.append(port)
    spec: dict = {"clusterIP": svc.cluster_ip or "None", "clusterIPs": [svc.cluster_ip or "None"],
                  "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                  "ipFamilyPolicy": "SingleStack", "ports": ports, "sessionAffinity": "None",
                  "type": s.type}
    if s.selector:
        spec["selector"] = dict(s.selector)
    if s.traffic_distribution:
        spec["trafficDistribution"] = s.traffic_distribution
    status: dict = {"loadBalancer": {}}
    if s.type == "LoadBalancer":
        spec.update({"allocateLoadBalancerNodePorts": True, "externalTrafficPolicy": "Cluster"})
        if svc.lb_ip:
            status = {"loadBalancer": {"ingress": [{"ip": svc.lb_ip, "ipMode": "VIP"}]}}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta(cw.id, "Service", s.name, s.namespace, svc.created, svc.labels),
            "spec": spec, "status": status}


#: kube-controller-manager's --max-endpoints-per-slice default: the EndpointSlice controller
#: splits a Service's endpoints into slices of at most this many (the API refuses more than
#: 1,000 in one).
MAX_ENDPOINTS_PER_SLICE = 100


def _endpoint_slices(cw: ClusterWorld, svc: Service) -> list[dict]:
    """A Service's EndpointSlices: the controller's, 100 endpoints each at most (the first
    named as a Service with fewer has its one), or the one a selectorless Service's owner
    writes."""
    eps, size = svc.endpoints, MAX_ENDPOINTS_PER_SLICE
    chunks = [eps] if svc.selectorless else [eps[i:i + size] for i in range(0, len(eps), size)]
    return [_endpoint_slice(cw, svc, chunk, index)
            for index, chunk in enumerate(chunks or [[]])]


def _endpoint_slice(cw: ClusterWorld, svc: Service, eps: list, index: int) -> dict:
    s = svc.spec
    if svc.selectorless:
        name = s.name
        labels = {"kubernetes.io/service-name": s.name}
        owner = None
    else:
        later = (index,) if index else ()  # the first slice's name as a lone slice's
        name = f"{s.name}-{k8s_suffix(5, cw.id, 'eps', s.namespace, s.name, *later)}"
        labels = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                  "kubernetes.io/service-name": s.name, **svc.labels}
        owner = owner_ref(cw.id, "Service", "v1", s.name, s.namespace)
    endpoints = []
    for ep in eps:
        e: dict = {"addresses": [ep.address],
                   "conditions": {"ready": ep.ready, "serving": ep.ready, "terminating": False}}
        if ep.pod:
            e.update({"nodeName": ep.pod.node.name, "zone": ep.pod.node.zone,
                      "targetRef": {"kind": "Pod", "name": ep.pod.name,
                                    "namespace": ep.pod.namespace,
                                    "uid": meta(cw.id, "Pod", ep.pod.name, ep.pod.namespace,
                                                ep.pod.created)["uid"]}})
        endpoints.append(e)
    ports = [{"name": p.name, "port": p.target_port, "protocol": p.protocol} for p in s.ports]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": meta(cw.id, "EndpointSlice", name, s.namespace, svc.created, labels,
                             None, owner),
            "endpoints": endpoints or None, "ports": ports}


def _remote_istiod_endpoints(cw: ClusterWorld, svc: Service) -> dict:
    """1.24–1.27 remote installs render an `Endpoints` object instead of an EndpointSlice."""
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": meta(cw.id, "Endpoints", svc.spec.name, svc.spec.namespace, svc.created,
                             {"app": "istiod", "istio.io/rev": "default"}),
            "subsets": [{"addresses": [{"ip": ep.address} for ep in svc.endpoints],
                         "ports": [{"name": p.name, "port": p.target_port, "protocol": "TCP"}
                                   for p in svc.spec.ports]}]}


def kubeconfig(host: ClusterSpec, peer: ClusterSpec, s: RemoteSecretSpec) -> str:
    """The (already redacted) kubeconfig `istioctl create-remote-secret` would embed."""
    name = s.key or peer.id
    ca = certs.kube_api_ca(f"{peer.id}-stale" if s.outcome == "x509" else peer.id)
    if s.auth == "exec":
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                         "args": ["eks", "get-token", "--cluster-name", peer.id, "--output", "json"],
                         "interactiveMode": "IfAvailable", "provideClusterInfo": False}}
    elif s.auth == "client-certificate":
        user = {"client-certificate": f"/home/dev/.minikube/profiles/{peer.id}/client.crt",
                "client-key": f"/home/dev/.minikube/profiles/{peer.id}/client.key"}
    elif s.auth == "auth-provider-gcp":
        user = {"auth-provider": {"name": "gcp", "config": {
            "access-token": REDACTED, "cmd-args": "config config-helper --format=json",
            "cmd-path": "/usr/lib/google-cloud-sdk/bin/gcloud", "expiry": "2026-11-19T11:30:00Z",
            "expiry-key": "{.credential.token_expiry}", "token-key": "{.credential.access_token}"}}}
    elif s.auth == "auth-provider-oidc":
        user = {"auth-provider": {"name": "oidc", "config": {
            "client-id": "istio-reader", "client-secret": REDACTED, "id-token": REDACTED,
            "idp-issuer-url": "https://accounts.example.com", "refresh-token": REDACTED}}}
    else:
        user = {"token": REDACTED}
    cfg: dict = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": b64(ca.pem),
                                  "server": secret_server(host, peer, s)}, "name": name}],
        "contexts": [{"context": {"cluster": name, "user": name}, "name": name}],
        "current-context": name, "kind": "Config",
        "users": [{"name": name, "user": user}],
    }
    if version_tuple(host.istio_version) <= (1, 27):
        cfg["preferences"] = {}
    return yaml.safe_dump(cfg, sort_keys=True, width=4096)


def _secrets(world: World, cw: ClusterWorld) -> list[dict]:
    spec = cw.spec
    out = []
    root = root_cert(spec)
    inter = certs.intermediate_ca(spec.root_ca, spec.root_not_after, spec.id)
    out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": meta(cw.id, "Secret", "cacerts", ISTIO_NS, at(15)),
                "data": {"ca-cert.pem": b64(inter.pem), "ca-key.pem": REDACTED,
                         "cert-chain.pem": b64(inter.pem + root.pem),
                         "root-cert.pem": b64(root.pem)}})
    api_ca = certs.kube_api_ca(spec.id)
    reader = "istio-reader-service-account"
    out.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": meta(cw.id, "Secret", f"{reader}-istio-remote-secret-token", ISTIO_NS,
                                 SECRETS, annotations={"kubernetes.io/service-account.name": reader,
                                                       "kubernetes.io/service-account.uid":
                                                       meta(cw.id, "ServiceAccount", reader, ISTIO_NS, INSTALL)["uid"]}),
                "data": {"ca.crt": b64(api_ca.pem), "namespace": b64(ISTIO_NS), "token": REDACTED}})
    for peer_id in sorted(spec.remote_secrets):
        s = spec.remote_secrets[peer_id]
        if not s.present:
            continue
        peer = world.mesh.cluster(peer_id)
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": meta(cw.id, "Secret", secret_name(peer_id), ISTIO_NS, SECRETS,
                                     {"istio/multiCluster": "true"},
                                     {"networking.istio.io/cluster": peer_id}),
                    "data": {s.key or peer_id: b64(kubeconfig(spec, peer, s))}})
    return out


def mesh_yaml(world: World, spec: ClusterSpec) -> str:
    mesh: dict = {"defaultConfig": {"discoveryAddress": f"{istiod_host(spec)}:15012",
                                    "meshId": world.mesh.mesh_id,
                                    "proxyMetadata": {},
                                    "tracing": {"zipkin": {"address": "zipkin.istio-system:9411"}}},
                  "defaultProviders": {"metrics": ["prometheus"]},
                  "enablePrometheusMerge": True, "rootNamespace": ISTIO_NS,
                  "trustDomain": spec.trust_domain}
    if spec.access_log:
        mesh["accessLogFile"] = "/dev/stdout"
    if spec.discovery_selector:
        mesh["discoverySelectors"] = [{"matchLabels": dict(spec.discovery_selector)}]
    return yaml.safe_dump(mesh, sort_keys=True)


def injector_values(world: World, spec: ClusterSpec) -> dict:
    remote = spec.role == "remote" and not spec.local_istiod
    primary = world.mesh.cluster(spec.primary) if remote and spec.primary else None
    path = f"/inject/cluster/{spec.id}/net/{spec.network}" if remote else "/inject"
    return {
        "global": {"caAddress": "", "istioNamespace": ISTIO_NS, "meshID": world.mesh.mesh_id,
                   "multiCluster": {"clusterName": spec.id, "enabled": True},
                   "network": spec.network,
                   "proxy": {"image": "proxyv2", "clusterDomain": "cluster.local"},
                   "hub": "docker.io/istio", "tag": spec.istio_version,
                   "remotePilotAddress": primary.gateway_ip if primary else "",
                   "configCluster": False, "externalIstiod": False},
        "istiodRemote": {"enabled": remote, "injectionPath": path, "injectionURL": ""},
        "revision": spec.cp.revision or "",
        "sidecarInjectorWebhook": {"enableNamespacesByDefault": False,
                                   "reinvocationPolicy": "Never"},
    }


def _configmaps(world: World, cw: ClusterWorld) -> list[dict]:
    spec = cw.spec
    root_pem = root_cert(serving_cluster(world, cw)).pem
    out = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": meta(cw.id, "ConfigMap", f"istio{rev_suffix(spec)}", ISTIO_NS, INSTALL,
                          {"install.operator.istio.io/owning-resource": "unknown",
                           "istio.io/rev": revision(spec), "operator.istio.io/component": "Pilot",
                           "release": "istio"}),
         "data": {"mesh": mesh_yaml(world, spec), "meshNetworks": "networks: {}\n"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": meta(cw.id, "ConfigMap", f"istio-sidecar-injector{rev_suffix(spec)}",
                          ISTIO_NS, INSTALL,
                          {"istio.io/rev": revision(spec), "operator.istio.io/component": "Pilot",
                           "release": "istio"}),
         "data": {"config": "defaultTemplates: [sidecar]\npolicy: enabled\n"
                            "alwaysInjectSelector: []\nneverInjectSelector: []\n"
                            "injectedAnnotations: {}\ntemplate: \"{{ template \\\"sidecar\\\" . }}\"\n",
                  "values": json.dumps(injector_values(world, spec), indent=2, sort_keys=True)}},
    ]
    for ns in NAMESPACES:
        if ns == "kube-system":       # istiod's namespace controller skips kube-system
            continue
        if ns == ISTIO_NS and not spec.root_configmap:
            continue
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": meta(cw.id, "ConfigMap", "istio-ca-root-cert", ns, INSTALL,
                                     {"istio.io/config": "true"}),
                    "data": {"root-cert.pem": root_pem}})
    return out


def _webhooks(world: World, cw: ClusterWorld) -> tuple[list[dict], list[dict]]:
    spec = cw.spec
    remote = spec.role == "remote" and not spec.local_istiod
    ca = b64(root_cert(serving_cluster(world, cw)).pem)
    path = f"/inject/cluster/{spec.id}/net/{spec.network}" if remote else "/inject"
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
              "resources": ["pods"], "scope": "*"}]
    svc = {"name": f"istiod{rev_suffix(spec)}", "namespace": ISTIO_NS, "path": path,
           "port": 443}
    common = {"admissionReviewVersions": ["v1"], "clientConfig": {"caBundle": ca, "service": svc},
              "failurePolicy": "Fail", "matchPolicy": "Equivalent",
              "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject",
                                                       "operator": "NotIn", "values": ["false"]}]},
              "reinvocationPolicy": "Never", "rules": rules, "sideEffects": "None",
              "timeoutSeconds": 10}
    def hooks(rev: str) -> list[dict]:
        out = [dict(common, name="rev.namespace.sidecar-injector.istio.io", namespaceSelector={
            "matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": [rev]},
                                 {"key": "istio-injection", "operator": "DoesNotExist"}]})]
        if rev == "default":  # the default revision (or tag) also serves istio-injection=enabled
            out.append(dict(common, name="namespace.sidecar-injector.istio.io",
                            namespaceSelector={"matchExpressions": [
                                {"key": "istio-injection", "operator": "In",
                                 "values": ["enabled"]}]}))
        return out

    labels = {"app": "sidecar-injector", "istio.io/rev": revision(spec), "release": "istio"}
    mutating = [{"apiVersion": "admissionregistration.k8s.io/v1",
                 "kind": "MutatingWebhookConfiguration",
                 "metadata": meta(cw.id, "MutatingWebhookConfiguration",
                                  f"istio-sidecar-injector{rev_suffix(spec)}", None, INSTALL,
                                  labels),
                 "webhooks": hooks(revision(spec))}]
    if spec.cp.revision:  # `istioctl tag set default --revision <rev>`
        mutating.append({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": meta(cw.id, "MutatingWebhookConfiguration", "istio-revision-tag-default",
                             None, INSTALL, {**labels, "istio.io/tag": "default"}),
            "webhooks": hooks("default")})
    validating = [{
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": meta(cw.id, "ValidatingWebhookConfiguration",
                         f"istio-validator{rev_suffix(spec)}-istio-system", None, INSTALL,
                         {"app": "istiod", "istio": "istiod", "istio.io/rev": revision(spec)}),
        "webhooks": [{"admissionReviewVersions": ["v1"], "clientConfig": {
            "caBundle": ca, "service": {"name": f"istiod{rev_suffix(spec)}", "namespace": ISTIO_NS,
                                        "path": "/validate", "port": 443}},
            "failurePolicy": "Ignore", "matchPolicy": "Equivalent",
            "name": "rev.validation.istio.io",
            "objectSelector": {"matchExpressions": [{"key": "istio.io/rev", "operator": "In",
                                                     "values": [revision(spec)]}]},
            "rules": [{"apiGroups": ["security.istio.io", "networking.istio.io",
                                     "telemetry.istio.io", "extensions.istio.io"],
                       "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["*"], "scope": "*"}],
            "sideEffects": "None", "timeoutSeconds": 10}]}]
    return mutating, validating


def _k8s_eastwest(cw: ClusterWorld) -> dict:
    """The Gateway API east-west gateway of istio.io's multicluster docs: a TLS Passthrough
    listener on 15443 whose option `gateway.istio.io/listener-protocol: auto-passthrough`
    makes Istio program it as AUTO_PASSTHROUGH (pilot/pkg/config/kube/gateway), with the
    network label that makes istiod use it as the network's gateway."""
    spec = cw.spec
    labels = {NET_LABEL: net} if (net := gateway_network_label(spec)) else {}
    tls: dict = {"mode": "Passthrough"}
    if spec.eastwest.auto_passthrough:
        tls["options"] = {"gateway.istio.io/listener-protocol": "auto-passthrough"}
    listener = {"name": "cross-network", "hostname": "*.local", "port": 15443,
                "protocol": "TLS", "tls": tls, "allowedRoutes": {"namespaces": {"from": "Same"}}}
    address = gateway_external_ip(spec)
    programmed = {"lastTransitionTime": "2026-11-20T08:00:26Z", "observedGeneration": 1,
                  "type": "Programmed", "status": "True" if address else "False",
                  "reason": "Programmed" if address else "AddressNotAssigned",
                  "message": "Resource programmed, assigned to service(s) "
                             f"{K8S_EASTWEST}-istio.{ISTIO_NS}.svc.cluster.local:15443"
                  if address else "Assigned to service(s) "
                  f"{K8S_EASTWEST}-istio.{ISTIO_NS}.svc.cluster.local:15443, but failed to "
                  "assign to all requested addresses: address pending for hostname "
                  f"\"{K8S_EASTWEST}-istio.{ISTIO_NS}.svc.cluster.local\""}
    status: dict = {"conditions": [programmed]}
    if address:
        status["addresses"] = [{"type": "IPAddress", "value": address}]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": meta(cw.id, "Gateway", K8S_EASTWEST, ISTIO_NS, at(25), labels),
            "spec": {"gatewayClassName": "istio", "listeners": [listener]},
            "status": status}


def _istio_config(world: World, cw: ClusterWorld) -> dict[str, list[dict]]:
    spec = cw.spec
    gateways, vss, drs = [], [], []
    selector = eastwest_gateway(spec)[2]
    k8s_api = spec.eastwest.present and spec.eastwest.api == "gateway-api"
    if spec.cross_network_gateway and not k8s_api:
        gateways.append({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                         "metadata": meta(cw.id, "Gateway", "cross-network-gateway", ISTIO_NS, at(26)),
                         "spec": {"selector": selector, "servers": [
                             {"hosts": ["*.local"], "port": {"name": "tls", "number": 15443,
                                                            "protocol": "TLS"},
                              "tls": {"mode": "AUTO_PASSTHROUGH"}}]}})
    if any(c.primary == spec.id for c in world.mesh.clusters):
        gateways.append({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                         "metadata": meta(cw.id, "Gateway", "istiod-gateway", ISTIO_NS, at(26)),
                         "spec": {"selector": selector, "servers": [
                             {"hosts": ["*"], "port": {"name": "tls-istiod", "number": 15012,
                                                      "protocol": "tls"},
                              "tls": {"mode": "PASSTHROUGH"}},
                             {"hosts": ["*"], "port": {"name": "tls-istiodwebhook",
                                                      "number": 15017, "protocol": "tls"},
                              "tls": {"mode": "PASSTHROUGH"}}]}})
        route = [{"match": [{"port": p, "sniHosts": ["*"]}], "route": [{"destination": {
            "host": "istiod.istio-system.svc.cluster.local", "port": {"number": t}}}]}
            for p, t in ((15012, 15012), (15017, 443))]
        vss.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                    "metadata": meta(cw.id, "VirtualService", "istiod-vs", ISTIO_NS, at(26)),
                    "spec": {"gateways": ["istiod-gateway"], "hosts": ["*"], "tls": route}})
    for host in spec.retries_off_for:
        name = host.split(".")[0]
        vss.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                    "metadata": meta(cw.id, "VirtualService", name, "sample", at(22 * 60 + 32)),
                    "spec": {"hosts": [name], "http": [{"retries": {"attempts": 0},
                                                        "route": [{"destination": {"host": host}}]}]}})
    for dr in spec.destination_rules:
        tp = {"outlierDetection": dict(dr.outlier_detection)} if dr.outlier_detection else {}
        drs.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                    "metadata": meta(cw.id, "DestinationRule", dr.name, dr.namespace,
                                     at(22 * 60 + 32)),
                    "spec": {"host": dr.host, "trafficPolicy": tp}})
    out = {}
    if k8s_api:
        out["gateways.gateway.networking.k8s.io"] = [_k8s_eastwest(cw)]
    return {**out, "gateways.networking.istio.io": gateways,
            "virtualservices.networking.istio.io": vss,
            "destinationrules.networking.istio.io": drs}


def _network_policies(world: World, cw: ClusterWorld) -> list[dict]:
    spec = cw.spec
    if not spec.istiod_egress_policy:
        return []
    host, port = spec.api_server.split(":")
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": meta(cw.id, "NetworkPolicy", "istiod-egress", ISTIO_NS, at(21 * 60)),
             "spec": {"podSelector": {"matchLabels": {"app": "istiod"}},
                      "policyTypes": ["Egress"],
                      "egress": [
                          {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                           "to": [{"namespaceSelector": {"matchLabels": {
                               "kubernetes.io/metadata.name": "kube-system"}}}]},
                          {"ports": [{"port": int(port), "protocol": "TCP"}],
                           "to": [{"ipBlock": {"cidr": f"{host}/32"}}]}]}}]


#: Resource keys captured for every cluster (Kind.key of diagnostics/kinds.py).
CAPTURED = [
    "namespaces", "nodes", "pods", "services", "endpointslices.discovery.k8s.io", "secrets",
    "configmaps", "deployments.apps", "replicasets.apps",
    "networkpolicies.networking.k8s.io",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "destinationrules.networking.istio.io", "virtualservices.networking.istio.io",
    "gateways.networking.istio.io", "serviceentries.networking.istio.io",
    "sidecars.networking.istio.io", "peerauthentications.security.istio.io",
    "gateways.gateway.networking.k8s.io",
]


def cluster_objects(world: World, cps: dict[str, ControlPlane], cw: ClusterWorld) -> dict[str, list[dict]]:
    """All objects of one cluster by resource key; `endpoints` only when a remote install has one."""
    services = list(cw.services)
    mutating, validating = _webhooks(world, cw)
    objs: dict[str, list[dict]] = {k: [] for k in CAPTURED}
    objs.update({
        "namespaces": _namespaces(world, cw),
        "nodes": node_objects(cw),
        "pods": pod_objects(world, cw),
        "services": [_service(cw, s) for s in services],
        "endpointslices.discovery.k8s.io": [],
        "secrets": _secrets(world, cw),
        "configmaps": _configmaps(world, cw),
        "deployments.apps": deployment_objects(cw),
        "replicasets.apps": replicaset_objects(cw),
        "networkpolicies.networking.k8s.io": _network_policies(world, cw),
        "mutatingwebhookconfigurations.admissionregistration.k8s.io": mutating,
        "validatingwebhookconfigurations.admissionregistration.k8s.io": validating,
    })
    objs.update(_istio_config(world, cw))
    old_remote = (1, 24) <= version_tuple(cw.spec.istio_version) <= (1, 27)
    for svc in services:
        if svc.selectorless and svc.spec.name == "istiod" and old_remote:
            objs.setdefault("endpoints", []).append(_remote_istiod_endpoints(cw, svc))
        else:
            objs["endpointslices.discovery.k8s.io"] += _endpoint_slices(cw, svc)
    workload_faults.finish_objects(world, cw, objs)
    control_plane_faults.finish_objects(world, cw, objs)
    ambient_objects.finish_objects(world, cw, objs)
    return objs
