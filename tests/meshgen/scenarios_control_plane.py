"""Scenarios of the `remote-clusters` and `control-plane` commands: a healthy mesh plus one knob.

`expected` states what a perfect diagnosis reports, decided from the meanings of the finding ids
in DESIGN.md C3, not from any checker's code. The remote API causes come in two istiod versions
each (1.22 and 1.28: another client-go, kubeconfig layout and, where the cause allows, another
error wording). The external control plane scenarios follow istio.io's "Install Istio with an
External Control Plane": cluster `external` runs the istiod (EXTERNAL_ISTIOD=true, CLUSTER_ID of
its config cluster remote1, config-type secret istio-kubeconfig) behind its east-west gateway,
which exposes 15012 and 15017; remote1 is the config cluster, remote2 a second remote read
through a remote secret in `external`.
"""

from __future__ import annotations

from tests.meshgen.model import ClusterSpec, Mesh, RemoteSecretSpec, default_mesh, \
    primary_remote_mesh
from tests.meshgen.scenarios import Expected, _versions, asked_with, scenario

REMOTE_CLUSTERS = "remote-clusters"
CONTROL_PLANE = "control-plane"


def _rc(description: str, findings: list[str], cluster: str | None = "cluster1",
        verdict: str = "problem", args: list[str] | None = None) -> Expected:
    return Expected(description, verdict, findings, findings[0] if findings else None,
                    cluster if findings else None, command=REMOTE_CLUSTERS, args=list(args or []))


def _cp(description: str, findings: list[str], cluster: str | None = None,
        verdict: str = "problem", args: list[str] | None = None) -> Expected:
    return Expected(description, verdict, findings, findings[0] if findings else None,
                    cluster if findings else None, command=CONTROL_PLANE, args=list(args or []))


def external_mesh(config_id: str | None = None, escaped: bool = True) -> Mesh:
    """istio.io's external control plane: `external` serves remote1 (config) and remote2."""
    mesh = default_mesh()
    r1, r2 = mesh.clusters
    r1.id, r2.id = "remote1", "remote2"
    for c in (r1, r2):
        c.role, c.primary, c.remote_secrets = "remote", "external", {}
    ext = ClusterSpec("external", 3, "network-ext", "us-central1", "us-central1-a",
                      "172.18.0.12:6443", "34.98.40.50")
    ext.cross_network_gateway = False
    ext.remote_secrets = {"remote2": RemoteSecretSpec()}
    ext.cp.external_for = "remote1"
    ext.cp.istio_id = config_id or "remote1"
    r1.cp.istio_id = config_id
    r1.cp.slash_escaped = escaped
    mesh.clusters = [ext, r1, r2]
    # `external` only hosts the control plane: its istiod states its config cluster's id, so
    # nothing in it states an id of its own, and a capture records it as not known.
    mesh.id_origins = {"external": None}
    return mesh


# ---------------------------------------------------------------------------- remote-clusters


@scenario("remote-clusters-healthy")
def rc_healthy() -> tuple[Mesh, Expected]:
    return default_mesh(), _rc(
        "Multi-primary mesh: each istiod holds a secret keyed by its peer's id, every replica "
        "lists the peer as synced in clusterz, and the ids differ.", [], verdict="healthy")


# -- the install without Secret reads (deploy/overlays/no-secrets): istiod's view stands in


def _no_secrets(mesh: Mesh) -> Mesh:
    mesh.withheld = ("secrets",)
    return mesh


@scenario("remote-clusters-healthy-no-secrets")
def rc_healthy_no_secrets() -> tuple[Mesh, Expected]:
    return _no_secrets(default_mesh()), _rc(
        "The healthy multi-primary mesh, captured by an install that reads no Secrets: every "
        "replica lists its peer as synced in clusterz (naming the secret it reads), so istiod "
        "itself shows a secret keyed by each peer's id exists and works.", [],
        verdict="healthy")


@scenario("remote-clusters-dns-no-secrets")
def rc_dns_no_secrets() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].outcome = "dns"
    return _no_secrets(mesh), _rc(
        "cluster1's istiod cannot resolve cluster2's API server name, captured without Secret "
        "reads: clusterz (timeout, naming the secret) and the log (`no such host`, naming the "
        "server) are istiod's own, so remote-api-dns stands without the secret.",
        ["remote-api-dns", "remote-cluster-not-synced"])


@scenario("remote-clusters-secret-missing-no-secrets")
def rc_missing_no_secrets() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    return _no_secrets(mesh), Expected(
        "cluster1's istiod has no remote secret for cluster2, captured without Secret reads: "
        "no replica lists cluster2 and istiod names no secret for it, so what is missing (a "
        "secret, its key, a usable kubeconfig) cannot be told. remote-secret-missing is not "
        "expected (a guess), nor remote-cluster-not-synced (it says istiod has the secret).",
        "inconclusive", [], command=REMOTE_CLUSTERS, args=[], also_failing=["istiod-remote-view"])


def _remote_api(version: str, outcome: str, specific: str, description: str,
                **secret) -> tuple[Mesh, Expected]:
    mesh = _versions(default_mesh(), version)
    s = mesh.cluster("cluster1").remote_secrets["cluster2"]
    s.outcome = outcome
    for k, v in secret.items():
        setattr(s, k, v)
    return mesh, _rc(description + f" (istiod {version})", [specific, "remote-cluster-not-synced"])


@scenario("remote-clusters-unreachable-1-22")
def rc_unreachable_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "refused", "remote-api-unreachable",
                       "cluster2's API server 172.18.0.3:6443 refuses cluster1's istiod (port "
                       "closed to it): `connect: connection refused` watch errors, clusterz timeout")


@scenario("remote-clusters-unreachable-1-28")
def rc_unreachable_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "timeout", "remote-api-unreachable",
                       "a firewall drops cluster1's istiod's connections to 172.18.0.3:6443: "
                       "`i/o timeout` watch errors, clusterz timeout")


@scenario("remote-clusters-dns-1-22")
def rc_dns_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "dns", "remote-api-dns",
                       "the secret's server cluster2-api.example.internal does not resolve from "
                       "cluster1: `no such host`, clusterz timeout")


@scenario("remote-clusters-dns-1-28")
def rc_dns_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "dns", "remote-api-dns",
                       "the secret's server cluster2-api.example.internal does not resolve from "
                       "cluster1: `no such host`, clusterz timeout")


@scenario("remote-clusters-tls-1-22")
def rc_tls_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "x509", "remote-api-tls",
                       "the CA in cluster1's secret did not sign cluster2's API server certificate: "
                       "x509 watch errors, clusterz timeout")


@scenario("remote-clusters-tls-1-28")
def rc_tls_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "x509", "remote-api-tls",
                       "the CA in cluster1's secret did not sign cluster2's API server certificate: "
                       "x509 watch errors, clusterz timeout")


@scenario("remote-clusters-unauthorized-1-22")
def rc_forbidden_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "forbidden", "remote-api-unauthorized",
                       "the reader service account in cluster2 lost its RBAC for endpointslices: "
                       "`... is forbidden: User \"system:serviceaccount:istio-system:istio-reader-"
                       "service-account\" cannot list resource`, clusterz timeout")


@scenario("remote-clusters-unauthorized-1-28")
def rc_unauthorized_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "unauthorized", "remote-api-unauthorized",
                       "cluster2's API server rejects the token in cluster1's secret "
                       "(`Unauthorized`), clusterz timeout")


@scenario("remote-clusters-kubeconfig-localhost-1-22")
def rc_localhost_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 points at https://127.0.0.1:6443 (a kind "
                       "kubeconfig): connection refused inside istiod's pod, clusterz timeout; "
                       "remote-api-unreachable is not expected, the address is the cause",
                       server="https://127.0.0.1:6443")


@scenario("remote-clusters-kubeconfig-localhost-1-28")
def rc_localhost_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 points at https://localhost:6443: "
                       "connection refused inside istiod's pod, clusterz timeout; "
                       "remote-api-unreachable is not expected, the address is the cause",
                       server="https://localhost:6443")


@scenario("remote-clusters-kubeconfig-auth-provider-1-22")
def rc_auth_provider_122() -> tuple[Mesh, Expected]:
    return _remote_api("1.22.8", "ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 authenticates with a gcp auth provider, "
                       "which istiod refuses (`auth provider gcp is not allowed`): cluster2 is "
                       "absent from clusterz", auth="auth-provider-gcp")


@scenario("remote-clusters-kubeconfig-exec-1-28")
def rc_exec_128() -> tuple[Mesh, Expected]:
    return _remote_api("1.28.1", "ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 uses exec auth (aws eks get-token), which "
                       "istiod refuses (`exec is not allowed`): cluster2 is absent from clusterz",
                       auth="exec")


def _egress(version: str) -> tuple[Mesh, Expected]:
    mesh = _versions(default_mesh(), version)
    c1 = mesh.cluster("cluster1")
    c1.istiod_egress_policy = True
    c1.remote_secrets["cluster2"].outcome = "networkpolicy"
    return mesh, _rc(
        f"A NetworkPolicy selecting cluster1's istiod (istiod {version}) admits egress only to DNS "
        "and its own API server, so connections to cluster2's 172.18.0.3:6443 time out and "
        "clusterz shows timeout. remote-api-unreachable is not expected: the policy is the "
        "specific cause of the timeouts.",
        ["istiod-egress-blocked-by-networkpolicy", "remote-cluster-not-synced"])


@scenario("remote-clusters-egress-networkpolicy-1-22")
def rc_egress_122() -> tuple[Mesh, Expected]:
    return _egress("1.22.8")


@scenario("remote-clusters-egress-networkpolicy-1-28")
def rc_egress_128() -> tuple[Mesh, Expected]:
    return _egress("1.28.1")


@scenario("cluster-id-collision")
def id_collision() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cp.istio_id = "cluster1"
    return mesh, _rc(
        "cluster2 was installed with cluster1's values (clusterName cluster1): its istiod's "
        "CLUSTER_ID is cluster1, so it ignores its secret keyed cluster1 ('ignoring cluster as "
        "it would overwrite the config cluster') and never reads cluster1; its proxies claim "
        "cluster1. remote-cluster-not-synced accompanies the cause: cluster2 has the secret but "
        "cluster1 is not read.", ["cluster-id-collision", "remote-cluster-not-synced"],
        "cluster2")


@scenario("cluster-id-collision-default")
def id_collision_default() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    for c in mesh.clusters:
        c.cp.istio_id = "Kubernetes"
    return mesh, _rc(
        "Both clusters were installed without a clusterName, so both istiods and all proxies use "
        "the default id Kubernetes (the secrets were made with --name cluster1/cluster2, so each "
        "istiod still reads its peer): proxies and endpoints cannot be told apart by cluster.",
        ["cluster-id-collision"], "cluster2")


@scenario("remote-clusters-external-healthy")
def rc_external() -> tuple[Mesh, Expected]:
    return external_mesh("prod/remote1"), _rc(
        "External control plane (config cluster id prod/remote1): the istiod in `external` reads "
        "remote1 through its config-type secret istio-kubeconfig, which is not a remote secret "
        "and needs no key named after remote1, and remote2 through istio-remote-secret-remote2; "
        "remote1 and remote2 run no istiod and need no secrets.", [], verdict="healthy")


# ------------------------------------------------------------------------------ control-plane


@scenario("control-plane-healthy")
def cp_healthy() -> tuple[Mesh, Expected]:
    return default_mesh(), _cp(
        "Multi-primary mesh: one Ready istiod per cluster, injection and validation webhooks "
        "select it, no external control plane.", [], verdict="healthy")


@scenario("control-plane-primary-remote-healthy")
def cp_primary_remote() -> tuple[Mesh, Expected]:
    return primary_remote_mesh(), _cp(
        "Primary-remote mesh: cluster2 runs no istiod; its webhooks call the selector-less "
        "Service istiod whose endpoint is cluster1's east-west gateway (exposing 15012/15017).",
        [], verdict="healthy")


@scenario("control-plane-external-healthy")
def cp_external() -> tuple[Mesh, Expected]:
    return external_mesh(), _cp(
        "External control plane: istiod in `external` (EXTERNAL_ISTIOD=true, CLUSTER_ID remote1) "
        "reads its config cluster remote1 through istio-kubeconfig and remote2 through a remote "
        "secret; remote2 names remote1 in controlPlaneClusters; both remotes' webhooks reach it "
        "through its east-west gateway. `external` itself needs no webhooks (its own gateway "
        "belongs to another control plane).", [], verdict="healthy")


@scenario("control-plane-external-slash-escaped")
def cp_external_slash() -> tuple[Mesh, Expected]:
    return external_mesh("prod/remote1"), _cp(
        "External control plane whose config cluster id contains a slash (prod/remote1), written "
        "prod--slash--remote1 in remote1's injection path as it must be: proxies carry "
        "prod/remote1 and the external istiod accepts them.", [], verdict="healthy")


@scenario("injection-url-unescaped-slash")
def cp_unescaped() -> tuple[Mesh, Expected]:
    return external_mesh("prod/remote1", escaped=False), _cp(
        "remote1's cluster id prod/remote1 is written raw in its injection path "
        "(/inject/cluster/prod/remote1/net/network1): the injector gives proxies cluster id prod, "
        "an env REMOTE1=net and no network, and the external istiod rejects them ('client claims "
        "to be in cluster \"prod\"'). meshbot names the cluster by that id, learnt from its "
        "install values.", ["injection-url-unescaped-slash"], "prod/remote1")


@scenario("control-plane-clusters-annotation-missing")
def cp_annotation() -> tuple[Mesh, Expected]:
    mesh = external_mesh()
    mesh.cluster("remote2").cp.control_plane_annotation = False
    return mesh, _cp(
        "A GitOps sync re-created remote2's istio-system without topology.istio.io/"
        "controlPlaneClusters after install: the external istiod (CLUSTER_ID remote1) still reads "
        "remote2 but no longer leads it, so webhook CA bundles and root-cert ConfigMaps there "
        "are no longer maintained (existing ones remain). remote1, the config cluster, needs no "
        "annotation.", ["control-plane-clusters-annotation-missing"], "remote2")


@scenario("control-plane-clusters-annotation-missing-focus")
def cp_annotation_focus() -> tuple[Mesh, Expected]:
    mesh, exp = cp_annotation()
    exp.args = ["--cluster", "remote2"]
    exp.description = "The same missing annotation, asked about remote2 alone (--cluster remote2)."
    return mesh, exp


@scenario("istiod-unhealthy-pending")
def cp_pending() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c1 = mesh.cluster("cluster1")
    c1.istiod_replicas = 3
    c1.cp.istiod_fault = "pending"
    return mesh, _cp(
        "cluster1's istiod has 3 replicas with a required pod anti-affinity per node but only 2 "
        "nodes: the third replica stays Pending (Unschedulable: 2 node(s) didn't match pod "
        "anti-affinity rules); the other two serve.", ["istiod-unhealthy"], "cluster1")


@scenario("istiod-unhealthy-crashloop")
def cp_crashloop() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cp.istiod_fault = "crashloop"
    return mesh, _cp(
        "cluster2's only istiod exits with code 1 (Error) right after starting and is in "
        "CrashLoopBackOff after 9 restarts: no replica serves, cluster2's proxies are "
        "disconnected. The webhooks still select the (unready) istiod pod, so no webhook finding.",
        ["istiod-unhealthy"], "cluster2", args=["--cluster", "cluster2"])


def _istiod_down(command: str, answer: str, findings: tuple[str, ...] = ("istiod-unhealthy",)
                 ) -> tuple[Mesh, Expected]:
    """istiod-unhealthy-crashloop's mesh asked about with another command: its answer names
    cluster2's istiod that does not serve, from the pod's status, not 'inconclusive'."""
    args = ["helloworld", "-n", "sample"] if command == "why-local-only" else []
    return asked_with(
        cp_crashloop(), command, args,
        f"The crash-looping istiod of istiod-unhealthy-crashloop, asked about with {command}: "
        + answer, "problem", list(findings), "cluster2")


@scenario("proxy-status-istiod-down")
def ps_istiod_down() -> tuple[Mesh, Expected]:
    return _istiod_down("proxy-status", "nothing runs to answer for its syncz, so it is not "
                        "asked; cluster2's only istiod does not serve, first, and cluster2's "
                        "sidecars are therefore connected to no istiod.",
                        ("istiod-unhealthy", "proxy-disconnected"))


@scenario("why-local-only-istiod-down")
def wlo_istiod_down() -> tuple[Mesh, Expected]:
    return _istiod_down("why-local-only", "cluster2's client has no configuration from any "
                        "istiod, and the answer names cluster2's istiod that does not serve.")


@scenario("remote-clusters-istiod-down")
def rc_istiod_down() -> tuple[Mesh, Expected]:
    return _istiod_down("remote-clusters", "a cluster2 istiod that does not run reads no "
                        "peer, and the answer says so rather than that its view could not be "
                        "read.")


@scenario("istiod-unhealthy-oomkilled")
def cp_oomkilled() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c1 = mesh.cluster("cluster1")
    c1.istiod_replicas = 2
    c1.cp.istiod_fault = "oomkilled"
    c1.cp.istiod_fault_replica = 0
    return mesh, _cp(
        "cluster1's istiod runs with a 1Gi memory limit; the first replica was OOM-killed (exit "
        "code 137) 5 times and is in CrashLoopBackOff; the second replica serves every proxy.",
        ["istiod-unhealthy"], "cluster1")


@scenario("injection-webhook-missing")
def cp_injection_missing() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cp.injection_webhook = "absent"
    return mesh, _cp(
        "cluster2's MutatingWebhookConfiguration istio-sidecar-injector was deleted: running pods "
        "keep their sidecars, new pods start without one.", ["injection-webhook-missing"],
        "cluster2")


@scenario("injection-webhook-dangling")
def cp_injection_dangling() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").cp.injection_webhook = "dangling"
    return mesh, _cp(
        "cluster1's only injection webhook is the revision tag `default`, still pointing at "
        "Service istiod-1-27-3 of an uninstalled revision: it injects nothing for the running "
        "istiod.", ["injection-webhook-missing"], "cluster1")


@scenario("validation-webhook-missing")
def cp_validation_missing() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cp.validation_webhook = "absent"
    return mesh, _cp(
        "cluster2 has no Istio ValidatingWebhookConfiguration: invalid Istio resources are "
        "accepted. A warning only, so the verdict stays healthy.",
        ["validation-webhook-missing"], "cluster2", verdict="healthy")


@scenario("control-plane-external-config-secret-exec")
def cp_config_secret_exec() -> tuple[Mesh, Expected]:
    mesh = external_mesh()
    mesh.cluster("external").cp.config_secret_auth = "exec"
    return mesh, _cp(
        "The external istiod's config-type secret istio-kubeconfig holds a kubeconfig that "
        "authenticates with an exec plugin, which istiod refuses for remote kubeconfigs: the "
        "external istiod cannot read its config cluster remote1 (remote-kubeconfig-invalid, "
        "from the external control plane step).", ["remote-kubeconfig-invalid"], "external")
