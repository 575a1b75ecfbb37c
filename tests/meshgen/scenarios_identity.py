"""Scenarios of real users' views of a mesh: partial views and clusters named unlike their ids.

A kubeconfig's current context reaches one cluster of a multicluster mesh; an operator's config
file may name a cluster otherwise than its install does. `expected` states what a perfect
diagnosis reports, decided from the meanings of the finding ids in DESIGN.md C3: a multicluster
question answered from a view that cannot answer it is `inconclusive`, never `healthy`.
"""

from __future__ import annotations

from tests.meshgen.model import Mesh, RemoteSecretSpec, default_mesh
from tests.meshgen.scenarios import CAPTURED, Expected, scenario


def _view(mesh: Mesh, *clusters: str) -> Mesh:
    mesh.view = tuple(clusters)
    return mesh


@scenario("single-cluster-view-no-remote-secret")
def one_cluster_no_secret() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    return _view(mesh, "cluster1"), Expected(
        "The demo mesh read through cluster1's context alone (the README's default: the "
        "current context). cluster1 holds no remote secret at all and nothing in it names "
        "cluster2, so its istiod reads no other cluster: that is the answer, with the fix.",
        "problem", ["istiod-reads-no-remote-cluster"], "istiod-reads-no-remote-cluster",
        "cluster1", also_failing=["mesh-membership"])


@scenario("single-cluster-view-peer-not-read")
def one_cluster_peer_unread() -> tuple[Mesh, Expected]:
    return _view(default_mesh(), "cluster2"), Expected(
        "A healthy mesh read through cluster2's context alone. cluster2's remote secret and "
        "clusterz name cluster1, which was not read: the service's endpoints there, cluster1's "
        "istiod and its root cannot be examined, so the answer is inconclusive, not healthy, "
        "and says how to add cluster1.", "inconclusive", [], also_failing=["mesh-membership"])


def _peer_unread_asked(command: str, description: str) -> tuple[Mesh, Expected]:
    mesh, exp = one_cluster_peer_unread()
    exp.command, exp.args, exp.description = command, [], description
    return mesh, exp


@scenario("single-cluster-view-remote-clusters")
def one_cluster_remote_clusters() -> tuple[Mesh, Expected]:
    return _peer_unread_asked("remote-clusters", (
        "remote-clusters on a healthy mesh read through cluster2's context alone: cluster1, "
        "named by cluster2's secret, was not read, so whether cluster1's istiod reads cluster2 "
        "is unknown: inconclusive."))


@scenario("single-cluster-view-trust")
def one_cluster_trust() -> tuple[Mesh, Expected]:
    return _peer_unread_asked("trust", (
        "trust on a healthy mesh read through cluster2's context alone: there is no second "
        "root to compare with, so the shared root of trust cannot be confirmed: inconclusive."))


@scenario("cluster-name-mismatch")
def name_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cp.istio_id = "west"
    mesh.cluster("cluster1").remote_secrets["cluster2"] = RemoteSecretSpec(key="west")
    mesh.id_origins = {"cluster2": "config file"}
    return mesh, Expected(
        "meshbot's config file names cluster2 `cluster2`, but its install says cluster id "
        "`west` (CLUSTER_ID, clusterName, proxies), and cluster1's remote secret is rightly "
        "keyed `west`. meshbot keeps the name, compares ids with `west` as istiod does (so no "
        "remote-secret-key-mismatch, and no fix deleting a working secret), and warns about "
        "the name.", "healthy", ["cluster-name-mismatch"], "cluster-name-mismatch", "cluster2",
        command="remote-clusters", args=[])


# ---------------------------------------------------------------- Gateway API east-west gateways


def _gateway_api(mesh: Mesh) -> Mesh:
    for c in mesh.clusters:
        c.eastwest.api = "gateway-api"
    return mesh


@scenario("gateway-api-eastwest-healthy")
def gateway_api_healthy() -> tuple[Mesh, Expected]:
    return _gateway_api(default_mesh()), Expected(
        "The multi-network mesh with east-west gateways defined as istio.io's docs show for "
        "the Kubernetes Gateway API: a gateway.networking.k8s.io Gateway `eastwestgateway` "
        "(class istio, label topology.istio.io/network) with a 15443 TLS Passthrough listener "
        "carrying gateway.istio.io/listener-protocol: auto-passthrough; Istio's controller runs "
        "it as Deployment and Service eastwestgateway-istio. Istio programs it exactly like an "
        "Istio Gateway with AUTO_PASSTHROUGH, so nothing is missing: healthy.", "healthy", [])


@scenario("gateway-api-eastwest-no-auto-passthrough")
def gateway_api_plain_passthrough() -> tuple[Mesh, Expected]:
    mesh = _gateway_api(default_mesh())
    mesh.cluster("cluster2").eastwest.auto_passthrough = False
    return mesh, Expected(
        "cluster2's Gateway API east-west gateway has its 15443 TLS Passthrough listener but "
        "without gateway.istio.io/listener-protocol: auto-passthrough, so Istio programs plain "
        "SNI passthrough with no routes and nothing crosses into network2: "
        "cross-network-gateway-missing in cluster2.", "problem",
        ["cross-network-gateway-missing"], "cross-network-gateway-missing", "cluster2")


# ---------------------------------------------------------------- revisioned control planes

REVISION = "1-28-1"


def revisioned_mesh() -> Mesh:
    """Both clusters installed with `--set revision=1-28-1` (istiod-1-28-1, istio-1-28-1 and
    istio-sidecar-injector-1-28-1, webhooks per revision, namespace sample labelled
    istio.io/rev=1-28-1) and the `default` revision tag pointing at it."""
    mesh = default_mesh()
    for c in mesh.clusters:
        c.cp.revision = REVISION
    return mesh


def _revisioned(command: str, args: list[str]) -> tuple[Mesh, Expected]:
    return revisioned_mesh(), Expected(
        f"A healthy mesh whose control planes are revisioned ({REVISION}: istiod-{REVISION}, "
        f"its ConfigMaps, webhooks and the `default` tag): `{command}` reads them as the "
        "install they are and finds nothing wrong.", "healthy", [], command=command,
        args=args, now=CAPTURED)


for _command, _args in (("why-local-only", ["helloworld", "-n", "sample"]),
                        ("remote-clusters", []), ("control-plane", []), ("trust", []),
                        ("proxy-status", []), ("check", ["ns/sample"])):
    scenario(f"revisioned-healthy-{_command}")(
        lambda c=_command, a=_args: _revisioned(c, a))
