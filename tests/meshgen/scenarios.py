"""Named scenarios: the healthy base mesh plus one or two fault knobs, and the oracle.

`expected` states what a perfect `why-local-only` diagnosis reports, decided from the meanings of
the finding ids in DESIGN.md C3 (not from any checker's code). Where a consequence id could also
fire, the description says why it is or is not expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from datetime import datetime, timezone

from tests.meshgen.model import (DestinationRuleSpec, Mesh, default_mesh, primary_remote_mesh)

HELLO = "helloworld.sample.svc.cluster.local"


@dataclass
class Expected:
    description: str
    verdict: str                          # problem | healthy | expected | inconclusive
    findings: list[str]
    first: str | None = None
    first_cluster: str | None = None
    command: str = "why-local-only"
    args: list[str] = field(default_factory=lambda: ["helloworld", "-n", "sample"])
    now: str | None = None  # the clock the diagnosis runs at, when the answer depends on time
    # Steps that must fail or warn besides those of the expected findings: the client step
    # when a fault leaves a client only local endpoints (its symptom finding yields to the
    # cause), the clusters step when the mesh names a cluster that was not read.
    also_failing: list[str] = field(default_factory=list)

    def failing(self) -> list[str]:
        """The checks whose steps fail or warn: those that report each expected error or
        warning (as the command runs them), and `also_failing`."""
        return sorted(set(failing_checks(self.command, self.findings)) | set(self.also_failing))

    def as_dict(self) -> dict:
        d: dict = {"description": self.description, "command": self.command,
                   "args": list(self.args), "verdict": self.verdict}
        if self.now:
            d["now"] = self.now
        if self.first:
            d["first"] = self.first
        d["findings"] = sorted(self.findings)
        if self.first_cluster:
            d["first_cluster"] = self.first_cluster
        d["failing"] = self.failing()
        return d


def failing_checks(command: str, findings: list[str]) -> list[str]:
    """The checks of `command` that report each error or warning finding: a step whose check
    reports one fails (error) or warns (warning); info findings leave it passing."""
    import diagnostics.checks  # noqa: F401 - registers the checks
    from diagnostics.catalog import default_catalog
    from diagnostics.checking import REGISTRY
    from handlers.commands import COMMANDS

    catalog, out = default_catalog(), set()
    for fid in findings:
        if catalog.entry(fid).severity == "info":
            continue
        emitters = [c for c in COMMANDS[command].checks if fid in REGISTRY[c].emits]
        if len(emitters) != 1:
            raise ValueError(f"{fid}: {len(emitters)} checks of {command} report it; "
                             "list the failing steps in also_failing")
        out.add(emitters[0])
    return sorted(out)


Scenario = Callable[[], tuple[Mesh, Expected]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn
    return register


def _local_only(exp: Expected) -> Expected:
    """The fault leaves a client with only local endpoints: the client step fails too (its
    symptom finding yields to the cause)."""
    exp.also_failing.append("client-endpoints")
    return exp


def _problem(description: str, findings: list[str], cluster: str | None = None) -> Expected:
    return Expected(description, "problem", findings, findings[0], cluster)


def asked_with(built: tuple[Mesh, Expected], command: str, args: list[str], description: str,
               verdict: str, findings: list[str], cluster: str | None = None
               ) -> tuple[Mesh, Expected]:
    """Another scenario's mesh asked with another command, and what that answer must be (its
    first finding the first listed)."""
    mesh, _ = built
    return mesh, Expected(description, verdict, findings, findings[0] if findings else None,
                          cluster, command=command, args=args)


def _versions(mesh: Mesh, version: str) -> Mesh:
    for c in mesh.clusters:
        c.istio_version = version
    return mesh


# ---------------------------------------------------------------------------------- healthy


@scenario("healthy")
def healthy() -> tuple[Mesh, Expected]:
    return default_mesh(), Expected(
        "Multi-primary, multi-network mesh as in Istio's docs; each client sees its local "
        "helloworld pod plus the peer's east-west gateway at port 15443.", "healthy", [])


@scenario("healthy-istio-1-22")
def healthy_122() -> tuple[Mesh, Expected]:
    return _versions(default_mesh(), "1.22.8"), Expected(
        "Healthy mesh on istiod 1.22 (endpointShardz `Address`, no syncz `resources`, networkz "
        "without HBONEPort/ServiceAccount, istio-proxy as a regular container).", "healthy", [])


@scenario("healthy-istio-1-29")
def healthy_129() -> tuple[Mesh, Expected]:
    return _versions(default_mesh(), "1.29.0"), Expected(
        "Healthy mesh on istiod 1.29 (endpointShardz `Addresses`, native sidecars).", "healthy", [])


@scenario("healthy-three-replicas")
def healthy_three() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    for c in mesh.clusters:
        c.istiod_replicas = 3
    return mesh, Expected(
        "Healthy mesh with 3 istiod replicas per cluster; proxies are spread over the replicas, "
        "so each replica's syncz and config_dumps hold only its own proxies.", "healthy", [])


@scenario("primary-remote-healthy")
def primary_remote_healthy() -> tuple[Mesh, Expected]:
    return primary_remote_mesh(), Expected(
        "Healthy primary-remote, multi-network mesh: cluster2 has no istiod; its proxies connect "
        "to cluster1's istiod through the east-west gateway (selector-less Service istiod).",
        "healthy", [])


@scenario("locality-same-region-no-dr")
def locality_same_region() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c2 = mesh.cluster("cluster2")
    c2.region, c2.zone = "us-east1", "us-east1-c"
    return mesh, Expected(
        "Both clusters in region us-east1 (zones b and c) and no DestinationRule: all endpoints "
        "share priority 0, traffic is spread across clusters.", "healthy", [])


@scenario("service-mismatch-across-clusters")
def service_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").service("helloworld").type = "NodePort"
    return mesh, Expected(
        "helloworld is ClusterIP in cluster1 but NodePort in cluster2 (IST0170-like); a warning "
        "only, endpoints still flow both ways, so the verdict stays healthy.", "healthy",
        ["service-mismatch-across-clusters"], "service-mismatch-across-clusters")


# ---------------------------------------------------------------------------- why-local-only


@scenario("demo")
def demo() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    return mesh, _local_only(_problem(
        "cluster1's istiod has no remote secret for cluster2, so cluster1's clients see only "
        "cluster1's helloworld pod; cluster2 is fine (it sees cluster1 via the gateway).",
        ["remote-secret-missing"], "cluster1"))


@scenario("demo-no-secrets")
def demo_no_secrets() -> tuple[Mesh, Expected]:
    mesh, _ = demo()
    mesh.withheld = ("secrets",)
    exp = _problem(
        "The demo mesh (cluster1 holds no remote secret for cluster2) captured by an install "
        "that reads no Secrets: cluster1's clients see only local endpoints and no replica of "
        "its istiod reads cluster2, but why (no secret, a wrong key, a kubeconfig istiod "
        "refuses) is in the Secrets. remote-secret-missing is not expected: it would be a "
        "guess.", ["only-local-endpoints"], "cluster1")
    exp.also_failing.append("istiod-remote-view")
    return mesh, exp


@scenario("remote-api-dns-no-secrets")
def api_dns_no_secrets() -> tuple[Mesh, Expected]:
    mesh, exp = api_dns()
    mesh.withheld = ("secrets",)
    exp.description = ("remote-api-dns captured by an install that reads no Secrets: clusterz "
                       "and the log's `no such host` (naming the server) are istiod's own view, "
                       "so the cause stands without the secret.")
    return mesh, exp


@scenario("service-not-found")
def service_not_found() -> tuple[Mesh, Expected]:
    mesh, _ = healthy()
    exp = _problem("Typo in the service name: `helloword` exists in no cluster (helloworld "
                   "does).", ["service-not-found"])
    exp.args = ["helloword", "-n", "sample"]
    return mesh, exp


@scenario("no-remote-endpoints-scaled-zero")
def scaled_zero() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").workload("helloworld-v2").replicas = 0
    return mesh, _problem(
        "helloworld-v2 is scaled to 0 in cluster2: its EndpointSlice is empty, no cluster2 shard, "
        "cluster1's client has nothing remote to balance to.", ["no-remote-endpoints"], "cluster2")


@scenario("no-remote-endpoints-not-ready")
def not_ready() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").workload("helloworld-v2").ready = False
    return mesh, _problem(
        "helloworld-v2's pod in cluster2 crash-loops and is not Ready: the EndpointSlice marks it "
        "not ready, the shard holds it with HealthStatus 2, and istiod does not send it.",
        ["no-remote-endpoints"], "cluster2")


@scenario("check-pods-not-ready")
def check_not_ready() -> tuple[Mesh, Expected]:
    return asked_with(
        not_ready(), "check", ["svc/helloworld", "-n", "sample"],
        "no-remote-endpoints-not-ready's mesh asked with check svc/helloworld: helloworld-v2's "
        "only pod in cluster2 crash-loops and no mesh pitfall explains it. The answer was "
        "'healthy'; it is the pods that are not Ready, pointing at their own log and events.",
        "problem", ["workload-pods-not-ready"], "cluster2")


@scenario("no-client-in-one-cluster")
def no_client() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").workload("sleep").replicas = 0
    return mesh, Expected(
        "sleep is scaled to 0 in cluster2: no pod there can be the client, so cluster2's view "
        "is not examined (the step says why and how to pick one with --from); cluster1's "
        "client sees both clusters, so nothing is wrong.", "healthy", [])


@scenario("remote-secret-key-mismatch")
def key_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].key = "kind-cluster2"
    exp = _problem(
        "cluster1's secret istio-remote-secret-cluster2 uses data key `kind-cluster2`: istiod "
        "registers cluster2 under that id (clusterz, shard Kubernetes/kind-cluster2, endpoint "
        "metadata ending in kind-cluster2). remote-cluster-not-synced is not expected: the "
        "cluster is read, only under the wrong name. The clusters step warns: the mesh names a "
        "cluster kind-cluster2 that no cluster read carries.", ["remote-secret-key-mismatch"],
        "cluster1")
    exp.also_failing.append("mesh-membership")
    return mesh, exp


@scenario("trust-remote-secret-key-mismatch")
def key_mismatch_trust() -> tuple[Mesh, Expected]:
    mesh, _ = key_mismatch()
    exp = Expected(
        "remote-secret-key-mismatch's mesh asked with trust: the roots and trust domains "
        "agree, so it is healthy; the clusters step warns that kind-cluster2 is the key of a "
        "secret made for cluster2, which was read, and does not call it a cluster left unread "
        "(that made the answer inconclusive and advised adding a cluster that does not exist).",
        "healthy", [], command="trust", args=[])
    exp.also_failing.append("mesh-membership")
    return mesh, exp


def _remote_api(outcome: str, specific: str, description: str, version: str = "1.28.1",
                **secret) -> tuple[Mesh, Expected]:
    mesh = _versions(default_mesh(), version)
    s = mesh.cluster("cluster1").remote_secrets["cluster2"]
    s.outcome = outcome
    for k, v in secret.items():
        setattr(s, k, v)
    return mesh, _local_only(_problem(description, [specific, "remote-cluster-not-synced"],
                                      "cluster1"))


@scenario("remote-api-tls-1-22")
def api_tls_122() -> tuple[Mesh, Expected]:
    return _remote_api("x509", "remote-api-tls",
                       "istiod 1.22 in cluster1 does not trust cluster2's API server certificate "
                       "(CA in the kubeconfig is stale): x509 watch errors, clusterz timeout.",
                       version="1.22.8")


@scenario("remote-api-tls-1-28")
def api_tls_128() -> tuple[Mesh, Expected]:
    return _remote_api("x509", "remote-api-tls",
                       "istiod 1.28 in cluster1 does not trust cluster2's API server certificate: "
                       "x509 watch errors, clusterz timeout.")


@scenario("remote-api-unreachable")
def api_unreachable() -> tuple[Mesh, Expected]:
    return _remote_api("timeout", "remote-api-unreachable",
                       "cluster1's istiod cannot reach 172.18.0.3:6443 (firewall): i/o timeouts, "
                       "clusterz timeout, no cluster2 shard.")


@scenario("remote-api-dns")
def api_dns() -> tuple[Mesh, Expected]:
    return _remote_api("dns", "remote-api-dns",
                       "The secret's server cluster2-api.example.internal does not resolve from "
                       "cluster1's istiod: `no such host`, clusterz timeout.")


@scenario("remote-api-unauthorized")
def api_unauthorized() -> tuple[Mesh, Expected]:
    return _remote_api("unauthorized", "remote-api-unauthorized",
                       "cluster2's API server rejects the token in cluster1's secret "
                       "(`Unauthorized`), clusterz timeout.")


@scenario("remote-kubeconfig-invalid-localhost")
def kubeconfig_localhost() -> tuple[Mesh, Expected]:
    return _remote_api("ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 points at https://127.0.0.1:6443 (kind "
                       "kubeconfig): connection refused inside istiod's pod, clusterz timeout. "
                       "remote-api-unreachable is not expected: the address itself is the cause.",
                       server="https://127.0.0.1:6443")


@scenario("remote-kubeconfig-invalid-exec")
def kubeconfig_exec() -> tuple[Mesh, Expected]:
    return _remote_api("ok", "remote-kubeconfig-invalid",
                       "cluster1's secret for cluster2 uses exec auth, which istiod refuses "
                       "(`kubeconfig is not allowed: exec is not allowed`): cluster2 is absent from "
                       "clusterz.", auth="exec")


@scenario("istiod-egress-networkpolicy")
def egress_policy() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c1 = mesh.cluster("cluster1")
    c1.istiod_egress_policy = True
    c1.remote_secrets["cluster2"].outcome = "networkpolicy"
    return mesh, _local_only(_problem(
        "A NetworkPolicy in cluster1's istio-system restricts istiod egress to DNS and its own API "
        "server, so calls to 172.18.0.3:6443 time out and clusterz shows timeout. "
        "remote-api-unreachable is not expected: the policy is the specific cause of the timeouts.",
        ["istiod-egress-blocked-by-networkpolicy", "remote-cluster-not-synced"], "cluster1"))


@scenario("root-cert-mismatch")
def root_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").root_ca = "cluster2-root"
    return mesh, _problem(
        "cluster2's cacerts holds a different root (same subject `O=Istio, CN=Root CA`, different "
        "key and fingerprint): endpoints flow but cross-cluster mTLS fails. No access logs are "
        "captured, so remote-endpoints-unreachable has no evidence and is not expected.",
        ["root-cert-mismatch"])


@scenario("only-local-unexplained")
def only_local_unexplained() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c1, c2 = mesh.cluster("cluster1"), mesh.cluster("cluster2")
    c1.discovery_selector = {"istio-discovery": "enabled"}
    c1.namespace_labels = {"sample": {"istio-discovery": "enabled"}}
    return mesh, Expected(
        "cluster1's meshConfig.discoverySelectors only admits namespaces labelled "
        "istio-discovery=enabled, and cluster2's sample namespace lacks the label, so cluster1's "
        "istiod ignores cluster2's helloworld: its clients get only local endpoints. No C3 id "
        "names this cause, so a perfect diagnosis states the symptom itself.",
        "problem", ["only-local-endpoints"], "only-local-endpoints", "cluster1")


# ---------------------------------------------------------------------------------- trust
CAPTURED = "2026-11-20T09:00:00Z"


def _trust(description: str, verdict: str, findings: list[str]) -> Expected:
    return Expected(description, verdict, findings, findings[0] if findings else None,
                    command="trust", args=[], now=CAPTURED)


@scenario("trust-healthy")
def trust_healthy() -> tuple[Mesh, Expected]:
    return default_mesh(), _trust("One shared root valid until 2036 and one trust domain.",
                                  "healthy", [])


@scenario("trust-root-mismatch")
def trust_root_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").root_ca = "cluster2-root"
    return mesh, _trust("cluster2's cacerts root differs from cluster1's (same subject, other "
                        "key): the trust command reports the mismatch by fingerprint.",
                        "problem", ["root-cert-mismatch"])


@scenario("trust-root-mismatch-from-webhook")
def trust_root_mismatch_from_webhook() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    c2 = mesh.cluster("cluster2")
    c2.root_ca, c2.root_configmap = "cluster2-root", False
    return mesh, _trust("cluster2's istio-system has no istio-ca-root-cert ConfigMap; its root "
                        "is read from the caBundle of istiod's injection webhook (public, like "
                        "the ConfigMap) and differs from cluster1's.",
                        "problem", ["root-cert-mismatch"])


def _expiring(not_after: datetime) -> Mesh:
    mesh = default_mesh()
    for c in mesh.clusters:  # the same root everywhere, so no mismatch: only its expiry matters
        c.root_not_after = not_after
    return mesh


@scenario("root-cert-expiring-soon")
def root_expiring_soon() -> tuple[Mesh, Expected]:
    return _expiring(datetime(2026, 12, 10, tzinfo=timezone.utc)), _trust(
        "The shared root expires 2026-12-10, 19 days after the diagnosis clock: a warning "
        "(within 30 days), so the verdict stays healthy.", "healthy", ["root-cert-expiring"])


@scenario("root-cert-expiring-critical")
def root_expiring_critical() -> tuple[Mesh, Expected]:
    return _expiring(datetime(2026, 11, 23, tzinfo=timezone.utc)), _trust(
        "The shared root expires 2026-11-23, 2 days after the diagnosis clock: inside 7 days "
        "the finding is an error.", "problem", ["root-cert-expiring"])


@scenario("trust-domain-mismatch")
def trust_domain() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").trust_domain = "cluster2.local"
    return mesh, _problem(
        "cluster2's meshConfig trustDomain is cluster2.local (cluster1: cluster.local): SPIFFE "
        "identities and the SANs each istiod expects differ across clusters.",
        ["trust-domain-mismatch"])


@scenario("locality-expected")
def locality_expected() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    for c in mesh.clusters:
        c.destination_rules.append(DestinationRuleSpec(
            "helloworld", "sample", HELLO,
            {"consecutive5xxErrors": 1, "interval": "1s", "baseEjectionTime": "1m"}))
    return mesh, Expected(
        "A DestinationRule with outlierDetection in both clusters and different regions: remote "
        "gateway endpoints carry priority 1, traffic stays local by design.", "expected",
        ["locality-lb-prefers-local"], "locality-lb-prefers-local")


@scenario("locality-trafficdistribution")
def locality_td() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    for c in mesh.clusters:
        c.service("helloworld").traffic_distribution = "PreferClose"
    return mesh, Expected(
        "helloworld has spec.trafficDistribution: PreferClose in both clusters (regions differ): "
        "remote endpoints get priority 1 without any DestinationRule, by design.", "expected",
        ["locality-lb-prefers-local"], "locality-lb-prefers-local")


@scenario("istiod-remote-missing")
def istiod_remote_missing() -> tuple[Mesh, Expected]:
    mesh = primary_remote_mesh()
    mesh.cluster("cluster2").local_istiod = True
    return mesh, _local_only(_problem(
        "cluster2 is meant to be a remote of cluster1 (controlPlaneClusters annotation, cluster1 "
        "holds its secret, istiod-gateway exposed) but was installed with an in-cluster istiod and "
        "no istiod-remote/remotePilotAddress: cluster2's proxies sync from it and see only "
        "cluster2's endpoints. remote-secret-missing for cluster2 is not expected: a remote needs "
        "no secret.", ["istiod-remote-missing"], "cluster2"))


@scenario("eastwest-gateway-missing")
def ewgw_missing() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").eastwest.present = False
    return mesh, _problem(
        "cluster2 has no east-west gateway: networkz knows no gateway for network2, so cluster1's "
        "client receives helloworld-v2's raw pod IP. The cross-network Gateway object still exists, "
        "so cross-network-gateway-missing is not expected.", ["eastwest-gateway-missing"], "cluster2")


@scenario("eastwest-gateway-pending")
def ewgw_pending() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").eastwest.external_ip = None
    return mesh, _problem(
        "cluster2's istio-eastwestgateway LoadBalancer has no external address (pending): networkz "
        "lacks network2, cluster1's client gets the raw pod IP.", ["eastwest-gateway-pending"],
        "cluster2")


@scenario("eastwest-gateway-network-label")
def ewgw_label() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").eastwest.network_label = None
    return mesh, _problem(
        "cluster2's istio-eastwestgateway Service lacks topology.istio.io/network: istiod does not "
        "treat it as network2's gateway, cluster1's client gets the raw pod IP.",
        ["eastwest-gateway-network-label"], "cluster2")


@scenario("cross-network-gateway-missing")
def cross_network_missing() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").cross_network_gateway = False
    return mesh, _problem(
        "cluster2 lacks the cross-network-gateway Gateway (15443 AUTO_PASSTHROUGH): cluster1's "
        "client gets 35.190.20.30:15443 but the gateway has no listener for it. No access logs are "
        "captured, so remote-endpoints-unreachable has no evidence.",
        ["cross-network-gateway-missing"], "cluster2")


@scenario("pod-network-unset")
def pod_network_unset() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").workload("sleep").network_label = False
    return mesh, _problem(
        "cluster1's sleep pod has no topology.istio.io/network label and no ISTIO_META_NETWORK: "
        "its proxy network is empty, counted as 'same network', so it receives helloworld-v2's raw "
        "pod IP instead of cluster2's gateway.", ["pod-network-unset"], "cluster1")


@scenario("system-namespace-network-label")
def system_ns_label() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").system_namespace_network_label = False
    return mesh, _problem(
        "cluster2's istio-system namespace lacks topology.istio.io/network. Injected pods still "
        "carry their own network label, so endpoints are unchanged; the finding is visible only on "
        "the Namespace.", ["system-namespace-network-label"], "cluster2")


@scenario("remote-endpoints-unreachable")
def endpoints_unreachable() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.blocked_paths = [("cluster1", "cluster2")]
    mesh.proxy_admin = True
    for c in mesh.clusters:
        c.access_log = True
    mesh.cluster("cluster1").retries_off_for = [HELLO]
    return mesh, _problem(
        "Firewall between networks: cluster1's client has cluster2's gateway 35.190.20.30:15443 but "
        "connections time out (access log `503 UF`, Envoy admin cx_connect_fail; a VirtualService "
        "turned retries off). cluster2 → cluster1 works.", ["remote-endpoints-unreachable"], "cluster1")


# ---------------------------------------------------------------------------- two faults


@scenario("two-faults-secret-and-root")
def two_secret_root() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    mesh.cluster("cluster2").root_ca = "cluster2-root"
    return mesh, _local_only(_problem(
        "cluster1 has no remote secret for cluster2 (first: it explains cluster1's local-only "
        "endpoints) and the clusters' roots differ (breaks cluster2 → cluster1 mTLS).",
        ["remote-secret-missing", "root-cert-mismatch"], "cluster1"))


@scenario("two-faults-pending-and-podnet")
def two_pending_podnet() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").eastwest.external_ip = None
    mesh.cluster("cluster1").workload("sleep").network_label = False
    return mesh, _problem(
        "cluster2's east-west gateway is pending AND cluster1's sleep has no network; either alone "
        "makes cluster1's client get helloworld-v2's raw pod IP. The gateway comes first (the "
        "runbook's first cause of 'pod IPs instead of the gateway').",
        ["eastwest-gateway-pending", "pod-network-unset"], "cluster2")


def build(name: str) -> tuple[Mesh, Expected]:
    return SCENARIOS[name]()


from tests.meshgen import scenarios_workloads  # noqa: E402,F401 - registers proxy-status/check scenarios
from tests.meshgen import scenarios_control_plane  # noqa: E402,F401 - remote-clusters/control-plane
from tests.meshgen import scenarios_identity  # noqa: E402,F401 - partial views, cluster names
from tests.meshgen import scenarios_targets  # noqa: E402,F401 - check targets as users name them
from tests.meshgen import scenarios_logs  # noqa: E402,F401 - log wordings and debug access
from tests.meshgen import scenarios_ambient  # noqa: E402,F401 - ambient mode, every command
from tests.meshgen import scenarios_topology  # noqa: E402,F401 - the topology picture
