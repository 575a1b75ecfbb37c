"""Ambient mode (ztunnel, istio-cni, waypoints, the ambient east-west gateway) across clusters:
a healthy ambient mesh and a mixed one for every command, and one scenario per ambient finding.

Meshes come from tests/meshgen/ambient_meshes.py: istio.io's ambient multi-primary,
multi-network install and its verify and failover guides. Each fault is one knob; the
description says what a perfect diagnosis reports and why consequences are or are not expected.
"""

from __future__ import annotations

from tests.meshgen.ambient_meshes import ambient_mesh, mixed_mesh, with_waypoint
from tests.meshgen.model import Mesh
from tests.meshgen.scenarios import Expected, scenario

Result = tuple[Mesh, Expected]


def _healthy(command: str, args: list[str], description: str) -> Expected:
    return Expected(description, "healthy", [], command=command, args=args)


@scenario("ambient-healthy")
def ambient_healthy() -> Result:
    return ambient_mesh(), _healthy(
        "why-local-only", ["helloworld", "-n", "sample"],
        "istio.io's ambient multi-primary, multi-network mesh: sample enrolled in ambient, "
        "helloworld and sleep global, an istio-east-west gateway in each cluster. Each client's "
        "ztunnel holds its local helloworld pod and the peer network's workloads through the "
        "peer's east-west gateway.")


@scenario("ambient-mixed-healthy")
def mixed_healthy() -> Result:
    return mixed_mesh(), _healthy(
        "why-local-only", ["helloworld", "-n", "sample"],
        "A sidecar namespace (sample, the 15443 east-west gateway) beside an ambient one (demo, "
        "its own istio-east-west gateway eastwestgateway-ambient): asked about the sidecar "
        "service, every step reads sidecars and the sidecar gateway; ztunnel, the ambient "
        "gateway and its Service change nothing.")


@scenario("ambient-mixed-healthy-ambient-service")
def mixed_healthy_ambient() -> Result:
    return mixed_mesh(), _healthy(
        "why-local-only", ["hello-ambient", "-n", "demo"],
        "The same mixed mesh asked about the ambient namespace demo: its client's ztunnel holds "
        "the peer network's hello-ambient through eastwestgateway-ambient; the sidecar gateway "
        "istio-eastwestgateway is not taken for an ambient one.")


@scenario("proxy-status-ambient-healthy")
def proxy_status_healthy() -> Result:
    return ambient_mesh(), _healthy(
        "proxy-status", [],
        "Every node runs a ready ztunnel, connected to its istiod (syncz lists it as ztunnel), "
        "and a ready istio-cni agent; every sample pod is captured.")


@scenario("proxy-status-ambient-mixed-healthy")
def proxy_status_mixed() -> Result:
    return mixed_mesh(), _healthy(
        "proxy-status", [],
        "Sidecars of sample in sync, ztunnels connected, demo's pods captured: one answer for "
        "both data planes.")


@scenario("check-ambient-healthy")
def check_healthy() -> Result:
    return ambient_mesh(), _healthy(
        "check", ["deploy/helloworld-v1", "-n", "sample"],
        "helloworld-v1 in ambient mode: captured, istio-cni and ztunnel ready on its node, no "
        "sidecar expected, so no injection or istio-init finding.")


@scenario("check-ambient-mixed-healthy")
def check_mixed() -> Result:
    return mixed_mesh(), _healthy(
        "check", ["ns/demo"],
        "The ambient namespace of a mixed mesh: every workload captured, node agents ready.")


@scenario("control-plane-ambient-healthy")
def control_plane_healthy() -> Result:
    return ambient_mesh(), _healthy(
        "control-plane", [],
        "istiod with PILOT_ENABLE_AMBIENT and AMBIENT_ENABLE_MULTI_NETWORK, ztunnel and "
        "istio-cni ready on every node with NETWORK set, the istio-east-west gateway labelled, "
        "HBONE/Terminate, addressed and Programmed in each cluster.")


@scenario("control-plane-ambient-mixed-healthy")
def control_plane_mixed() -> Result:
    return mixed_mesh(), _healthy(
        "control-plane", [],
        "The mixed mesh's control plane: sidecar injection and the ambient install side by side.")


# ---------------------------------------------------------------------------- why-local-only


def _problem(description: str, findings: list[str], cluster: str, *, local_only: bool = False,
             command: str = "why-local-only", args: list[str] | None = None) -> Expected:
    """Findings as a perfect diagnosis lists them, most direct first; with `local_only` the
    fault leaves a client's ztunnel only local endpoints, so the client step fails too (its
    symptom yields to the cause)."""
    exp = Expected(description, "problem", findings, findings[0], cluster, command=command,
                   args=args if args is not None else ["helloworld", "-n", "sample"])
    if local_only:
        exp.also_failing.append("client-endpoints")
    return exp


@scenario("ambient-service-not-global")
def service_not_global() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.global_services = ("sleep",)
    return mesh, _problem(
        "cluster2's helloworld Service lacks istio.io/global=true, so serviceScopeConfigs keeps "
        "it local there: cluster1's istiod drops the remote local Service and cluster2's "
        "istiod does not coalesce cluster1's workloads for it. Both clients' ztunnels hold "
        "only their local helloworld.", ["ambient-service-not-global"], "cluster2",
        local_only=True)


@scenario("ambient-service-missing-in-client-cluster")
def service_missing() -> Result:
    mesh = ambient_mesh()
    c1 = mesh.cluster("cluster1")
    c1.services = [s for s in c1.services if s.name != "helloworld"]
    return mesh, _problem(
        "cluster1 runs sleep (an ambient client) and helloworld-v1, but the helloworld Service "
        "was never applied there: the name does not resolve in cluster1, and its helloworld pod "
        "backs no Service, so only cluster2 has ready endpoints (no-remote-endpoints applies "
        "as well, after the missing Service that explains it). cluster2's client holds only "
        "local endpoints, but no other cluster has ready ones: that is no symptom.",
        ["ambient-service-missing-in-client-cluster", "no-remote-endpoints"], "cluster1")


@scenario("ambient-multinetwork-disabled")
def multinetwork_disabled() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.multi_network = False
    return mesh, _problem(
        "cluster1's istiod runs the ambient profile without AMBIENT_ENABLE_MULTI_NETWORK: it "
        "treats every Service as local (its ztunnels see only cluster1) and does not serve the "
        "istio-east-west class, so cluster1's east-west gateway is never programmed and has no "
        "address: cluster2's istiod logs `No network gateway found for network network1` and "
        "its clients stay local too (ambient-eastwest-gateway-invalid for that gateway).",
        ["ambient-multinetwork-disabled", "ambient-eastwest-gateway-invalid"], "cluster1",
        local_only=True)


@scenario("ambient-multinetwork-unsupported-istio-1-22")
def multinetwork_old() -> Result:
    mesh = ambient_mesh()
    for c in mesh.clusters:
        c.istio_version = "1.22.8"
    return mesh, _problem(
        "Both clusters run Istio 1.22, which predates ambient multicluster (1.27): no "
        "multi-network support, no istio-east-west controller, no serviceScopeConfigs. ztunnel "
        "1.22 prints its workloads and services as maps keyed by address; both clients hold "
        "only local workloads. Both istiods lack it; both gateways stay unprogrammed.",
        ["ambient-multinetwork-disabled", "ambient-eastwest-gateway-invalid"], "cluster1",
        local_only=True)


@scenario("ambient-eastwest-gateway-invalid")
def eastwest_invalid() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.eastwest.tls_mode = "Passthrough"
    return mesh, _problem(
        "cluster2's istio-east-west Gateway has its HBONE listener in TLS mode Passthrough: "
        "cluster1's istiod skips it (remoteK8sGatewayToNetworkGateways wants Terminate), logs "
        "`No network gateway found for network network2` and sends cluster1's ztunnels nothing "
        "for network2.", ["ambient-eastwest-gateway-invalid"], "cluster2", local_only=True)


@scenario("ambient-eastwest-gateway-pending")
def eastwest_pending() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.eastwest.address = "pending"
    return mesh, _problem(
        "cluster2's east-west gateway Service waits for a load balancer: the Gateway reports "
        "only its ClusterIP, which cluster1's istiod accepts and hands to ztunnel, unroutable "
        "from network1. The shared id eastwest-gateway-pending applies, as for sidecars.",
        ["eastwest-gateway-pending"], "cluster2")


@scenario("ambient-ztunnel-network-gateway-unknown")
def gateway_unknown() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.eastwest.address = "hostname"
    return mesh, _problem(
        "cluster2's east-west gateway is addressed by a cloud load balancer's DNS name: the "
        "Gateway is valid as istiod judges it, so cluster1's ztunnel gets network2's workloads "
        "through `istio-system/<hostname>`, a name that is no mesh service: ztunnel fails each "
        "request with `unknown network gateway`. No configuration reading explains it.",
        ["ztunnel-network-gateway-unknown"], "cluster1")


@scenario("ambient-ztunnel-network-unset")
def ztunnel_network_unset() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.ztunnel_network = False
    return mesh, _problem(
        "cluster1's ztunnel chart was installed without `network`: its ztunnels run with "
        "NETWORK unset in a two-network mesh.", ["ztunnel-network-unset"], "cluster1")


@scenario("ambient-ztunnel-unhealthy")
def client_ztunnel_down() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.ztunnel_unready_nodes = (1,)
    exp = _problem(
        "The ztunnel on cluster1-worker, the node of cluster1's sleep, crash-loops: it cannot "
        "reach istiod (XDS client connection error) and its admin port answers nothing, so the "
        "client's view cannot be read either.", ["ztunnel-unhealthy"], "cluster1")
    return mesh, exp


@scenario("ambient-waypoint-not-universal")
def waypoint_not_universal() -> Result:
    mesh = with_waypoint(ambient_mesh())
    mesh.cluster("cluster2").ambient.waypoint.present = False
    return mesh, _problem(
        "helloworld is bound to waypoint sample/waypoint in both clusters (istio.io/use-waypoint"
        " on the Service), but the waypoint exists only in cluster1: the clusters disagree on "
        "the path to helloworld.", ["waypoint-not-universal"], "cluster2")


@scenario("ambient-waypoint-not-ready")
def waypoint_not_ready() -> Result:
    mesh = with_waypoint(ambient_mesh())
    mesh.cluster("cluster1").ambient.waypoint.ready = False
    return mesh, _problem(
        "cluster1's waypoint for helloworld has no ready pod: traffic bound to it has nowhere "
        "to go in cluster1.", ["waypoint-not-ready"], "cluster1")


@scenario("ambient-locality-trafficdistribution")
def locality_td() -> Result:
    mesh = ambient_mesh()
    for c in mesh.clusters:
        c.service("helloworld").traffic_distribution = "PreferClose"
    return mesh, Expected(
        "helloworld sets trafficDistribution: PreferClose in both clusters: istiod sends ztunnel "
        "load balancing Failover by Network, Region, Zone, so remote endpoints serve only when "
        "no local one is healthy, by design.", "expected", ["locality-lb-prefers-local"],
        "locality-lb-prefers-local")


# ---------------------------------------------------------------------------- proxy-status


@scenario("proxy-status-ambient-pod-not-captured")
def ps_not_captured() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.not_captured = ("helloworld-v1",)
    return mesh, _problem(
        "cluster1's helloworld-v1 pod runs in the enrolled namespace sample without "
        "ambient.istio.io/redirection: enabled (it started before sample was enrolled); the "
        "istio-cni agent on its node is ready.", ["ambient-pod-not-captured"], "cluster1",
        command="proxy-status", args=[])


@scenario("proxy-status-cni-node-agent-unhealthy")
def ps_cni_down() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.cni_unready_nodes = (2,)
    return mesh, _problem(
        "The istio-cni agent on cluster2-worker2 crash-loops; helloworld-v2, started there, was "
        "not redirected into ztunnel (ambient-pod-not-captured follows from it).",
        ["cni-node-agent-unhealthy", "ambient-pod-not-captured"], "cluster2",
        command="proxy-status", args=[])


@scenario("proxy-status-ztunnel-unhealthy")
def ps_ztunnel_down() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.ztunnel_unready_nodes = (1,)
    return mesh, _problem(
        "The ztunnel on cluster2-worker crash-loops and is listed by no istiod.",
        ["ztunnel-unhealthy"], "cluster2", command="proxy-status", args=[])


# ---------------------------------------------------------------------------- check

CHECK_HELLO = ["deploy/helloworld-v1", "-n", "sample"]


@scenario("check-ambient-pod-not-captured")
def check_not_captured() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.not_captured = ("helloworld-v1",)
    return mesh, _problem(
        "helloworld-v1 is in the enrolled namespace sample but its pod was not redirected to "
        "ztunnel; the node's istio-cni agent is ready now.", ["ambient-pod-not-captured"],
        "cluster1", command="check", args=CHECK_HELLO)


@scenario("check-cni-node-agent-unhealthy")
def check_cni_down() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.cni_unready_nodes = (1,)
    return mesh, _problem(
        "The istio-cni agent on helloworld-v1's node crash-loops, so the pod was not captured.",
        ["cni-node-agent-unhealthy", "ambient-pod-not-captured"], "cluster1", command="check",
        args=CHECK_HELLO)


@scenario("check-ztunnel-unhealthy")
def check_ztunnel_down() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.ztunnel_unready_nodes = (1,)
    return mesh, _problem(
        "The ztunnel on helloworld-v1's node crash-loops: the pod is captured but its traffic "
        "has no data plane.", ["ztunnel-unhealthy"], "cluster1", command="check",
        args=CHECK_HELLO)


@scenario("check-ambient-waypoint-missing")
def check_waypoint_missing() -> Result:
    mesh = with_waypoint(ambient_mesh(), present=False)
    return mesh, _problem(
        "Service helloworld is labelled istio.io/use-waypoint=waypoint in both clusters, but no "
        "waypoint was ever deployed: bound but missing (waypoint-not-ready in each cluster).",
        ["waypoint-not-ready"], "cluster1", command="check", args=["svc/helloworld", "-n",
                                                                   "sample"])


# ---------------------------------------------------------------------------- control-plane


@scenario("control-plane-ambient-multinetwork-disabled")
def cp_multinetwork() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster2").ambient.multi_network = False
    return mesh, _problem(
        "cluster2's istiod lacks AMBIENT_ENABLE_MULTI_NETWORK, so the istio-east-west class is "
        "not served there and cluster2's gateway stays unprogrammed.",
        ["ambient-multinetwork-disabled", "ambient-eastwest-gateway-invalid"], "cluster2",
        command="control-plane", args=[])


@scenario("control-plane-ambient-eastwest-gateway-invalid")
def cp_eastwest_invalid() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.eastwest.network_label = None
    return mesh, _problem(
        "cluster1's istio-east-west Gateway lacks topology.istio.io/network: peers' istiods "
        "will not use it.", ["ambient-eastwest-gateway-invalid"], "cluster1",
        command="control-plane", args=[])


@scenario("control-plane-ambient-eastwest-gateway-pending")
def cp_eastwest_pending() -> Result:
    mesh = ambient_mesh()
    mesh.cluster("cluster1").ambient.eastwest.address = "pending"
    return mesh, _problem(
        "cluster1's ambient east-west gateway Service has no load balancer address; its Gateway "
        "reports only the ClusterIP.", ["eastwest-gateway-pending"], "cluster1",
        command="control-plane", args=[])
