"""Scenarios of istiod's log wordings and debug access across the versions people run.

Each remote-API cause comes in the oldest and the newest log format of the versions in scope:
istiod 1.22 (TAB text, `processing secret event`, `secret=` labels, client-go 0.30's reflector
list warnings next to istiod's watch errors) and istiod 1.31 with `--log_as_json` (JSON
records, the 1.30 renames `processing remote config event` / `error adding remote config` /
`config=`, the clusters collection's `is timed out, omitting it`, no reflector warnings since
client-go 0.33, and `/metrics` with istiod_remote_cluster_sync_status). The 1.22 variants
missing from scenarios_control_plane.py (rejected credentials, exec kubeconfig) are here.

`istiod-debug-refused-*`: cluster1's istiod refused every debug request of the capture (a direct
`istiod_url`, not a port-forward): 401 without credentials, 403 for a caller authenticated in a
namespace other than istio-system on 1.30. The answer must say so, and still find the cause of
cluster2 not being read from what istiod does not guard: its log and /metrics.

`expected` states what a perfect diagnosis reports, from the meanings of the finding ids.
"""

from __future__ import annotations

from tests.meshgen.model import Mesh, default_mesh
from tests.meshgen.scenarios import Expected, _versions, asked_with, scenario

REMOTE_CLUSTERS = "remote-clusters"
NEWEST = "1.31.0"
OLDEST = "1.22.8"


def _rc(description: str, findings: list[str]) -> Expected:
    return Expected(description, "problem", findings, findings[0], "cluster1",
                    command=REMOTE_CLUSTERS, args=[])


def _mesh(version: str, outcome: str = "ok", json_logs: bool = False, **secret) -> Mesh:
    mesh = _versions(default_mesh(), version)
    c1 = mesh.cluster("cluster1")
    c1.logs.json = json_logs
    s = c1.remote_secrets["cluster2"]
    s.outcome = outcome
    for key, value in secret.items():
        setattr(s, key, value)
    return mesh


def _newest(outcome: str, specific: str, what: str, **secret) -> tuple[Mesh, Expected]:
    return _mesh(NEWEST, outcome, json_logs=True, **secret), _rc(
        f"{what} (istiod {NEWEST}, --log_as_json: JSON records with the 1.30+ wordings, no "
        "client-go reflector warnings)", [specific, "remote-cluster-not-synced"])


# name: (secret outcome, specific finding, what happens, secret knobs)
_NEWEST_CAUSES: dict[str, tuple[str, str, str, dict]] = {
    "remote-clusters-unreachable-1-31-json": (
        "timeout", "remote-api-unreachable",
        "a firewall drops cluster1's istiod's connections to cluster2's API server "
        "172.18.0.3:6443: `i/o timeout` watch errors, clusterz timeout", {}),
    "remote-clusters-refused-1-31-json": (
        "refused", "remote-api-unreachable",
        "cluster2's API server port refuses cluster1's istiod: `connect: connection refused` "
        "watch errors, clusterz timeout", {}),
    "remote-clusters-dns-1-31-json": (
        "dns", "remote-api-dns",
        "the secret's server cluster2-api.example.internal does not resolve from cluster1: "
        "`no such host`, clusterz timeout", {}),
    "remote-clusters-tls-1-31-json": (
        "x509", "remote-api-tls",
        "the CA in cluster1's secret did not sign cluster2's API server certificate: x509 watch "
        "errors, clusterz timeout", {}),
    "remote-clusters-unauthorized-credentials-1-31-json": (
        "unauthorized", "remote-api-unauthorized",
        "cluster2's API server rejects the token in cluster1's secret (`Unauthorized`: the "
        "credentials), clusterz timeout", {}),
    "remote-clusters-unauthorized-permissions-1-31-json": (
        "forbidden", "remote-api-unauthorized",
        "the reader service account in cluster2 lost its RBAC for endpointslices (`forbidden`: "
        "the permissions), clusterz timeout", {}),
    "remote-clusters-kubeconfig-exec-1-31-json": (
        "ok", "remote-kubeconfig-invalid",
        "cluster1's secret for cluster2 uses exec auth, which istiod refuses (`exec is not "
        "allowed`; the queue's `error adding remote config`): cluster2 is absent from clusterz",
        {"auth": "exec"}),
    "remote-clusters-kubeconfig-localhost-1-31-json": (
        "ok", "remote-kubeconfig-invalid",
        "cluster1's secret for cluster2 points at https://127.0.0.1:6443 (a kind kubeconfig): "
        "connection refused inside istiod's pod, clusterz timeout; remote-api-unreachable is not "
        "expected, the address is the cause", {"server": "https://127.0.0.1:6443"}),
}


def _register_newest(name: str, outcome: str, specific: str, what: str, secret: dict) -> None:
    scenario(name)(lambda: _newest(outcome, specific, what, **secret))


for _name, _spec in _NEWEST_CAUSES.items():
    _register_newest(_name, *_spec)


@scenario("remote-clusters-egress-networkpolicy-1-31-json")
def egress_newest() -> tuple[Mesh, Expected]:
    mesh = _mesh(NEWEST, "networkpolicy", json_logs=True)
    mesh.cluster("cluster1").istiod_egress_policy = True
    return mesh, _rc(
        f"A NetworkPolicy selecting cluster1's istiod (istiod {NEWEST}, --log_as_json) admits "
        "egress only to DNS and its own API server, so connections to cluster2's "
        "172.18.0.3:6443 time out. remote-api-unreachable is not expected: the policy is the "
        "specific cause of the timeouts.",
        ["istiod-egress-blocked-by-networkpolicy", "remote-cluster-not-synced"])


@scenario("remote-clusters-unauthorized-credentials-1-22")
def credentials_oldest() -> tuple[Mesh, Expected]:
    return _mesh(OLDEST, "unauthorized"), _rc(
        f"cluster2's API server rejects the token in cluster1's secret (`Unauthorized`: the "
        f"credentials), clusterz timeout (istiod {OLDEST}: TAB text, reflector warnings)",
        ["remote-api-unauthorized", "remote-cluster-not-synced"])


@scenario("remote-clusters-kubeconfig-exec-1-22")
def exec_oldest() -> tuple[Mesh, Expected]:
    return _mesh(OLDEST, auth="exec"), _rc(
        f"cluster1's secret for cluster2 uses exec auth, which istiod refuses (istiod {OLDEST}: "
        "`error adding secret`, `secret=` label): cluster2 is absent from clusterz",
        ["remote-kubeconfig-invalid", "remote-cluster-not-synced"])


@scenario("remote-clusters-healthy-1-31-json")
def healthy_newest() -> tuple[Mesh, Expected]:
    return _mesh(NEWEST, json_logs=True), Expected(
        f"Healthy multi-primary mesh on istiod {NEWEST} with --log_as_json: every replica lists "
        "its peer as synced in clusterz and in istiod_remote_cluster_sync_status.",
        "healthy", [], command=REMOTE_CLUSTERS, args=[])


def _refused(version: str, status: int, what: str) -> tuple[Mesh, Expected]:
    mesh = _mesh(version, "timeout")
    mesh.cluster("cluster1").logs.debug_refused = status
    return mesh, _rc(
        f"cluster1's istiod {version} answered every debug request of the capture with HTTP "
        f"{status} ({what}); its log (`i/o timeout` watch errors, sync timeout) and /metrics "
        "(timeout) still show why cluster2 is not read. istiod-debug-refused says the debug "
        "view is missing and why; remote-api-unreachable and remote-cluster-not-synced come "
        "from what istiod does not guard.",
        ["remote-api-unreachable", "remote-cluster-not-synced", "istiod-debug-refused"])


@scenario("istiod-debug-refused-401-1-30")
def refused_401() -> tuple[Mesh, Expected]:
    return _refused("1.30.2", 401, "a direct istiod_url without credentials")


@scenario("proxy-status-debug-refused-1-31")
def refused_proxy_status() -> tuple[Mesh, Expected]:
    return asked_with(
        refused_403(), "proxy-status", [],
        "istiod-debug-refused-403-1-31's mesh asked with proxy-status: cluster1's syncz is "
        "refused (403), so its proxies' sync state cannot be told and the answer is "
        "inconclusive; it carries istiod-debug-refused, which says how to let meshbot in, "
        "where the step alone said 'not read'.", "inconclusive", ["istiod-debug-refused"],
        "cluster1")


@scenario("istiod-debug-refused-403-1-31")
def refused_403() -> tuple[Mesh, Expected]:
    return _refused(NEWEST, 403, "a caller authenticated in a namespace other than istio-system, "
                                 "outside DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES")
