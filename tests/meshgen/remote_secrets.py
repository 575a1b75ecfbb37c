"""Remote secrets as istiod handles them: which clusters it registers, and how each fails.

Mirrors the secret controller (docs/istio-surface.md §3.2): a data key equal to istiod's own
cluster id is ignored, a repeated key is skipped, a kubeconfig using a refused auth method never
becomes a cluster, and a registered cluster is synced only when its API server answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from tests.meshgen.model import ClusterSpec, RemoteSecretSpec
from tests.meshgen.control_plane_knobs import cluster_id
from tests.meshgen.topology import ClusterWorld, World

#: Informers istiod starts against every cluster: (type, list path, resource, group).
INFORMERS = [
    ("*v1.Namespace", "/api/v1/namespaces", "namespaces", ""),
    ("*v1.Service", "/api/v1/services", "services", ""),
    ("*v1.Pod", "/api/v1/pods", "pods", ""),
    ("*v1.Node", "/api/v1/nodes", "nodes", ""),
    ("*v1.EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices", "endpointslices",
     "discovery.k8s.io"),
]

@dataclass
class SecretResult:
    """How istiod handled one data key of one remote secret."""

    secret: str                   # Secret name
    key: str                      # data key = the cluster id istiod registers
    peer: str                     # cluster the secret was made for
    server: str                   # kubeconfig server URL
    status: str                   # synced | timeout | rejected | ignored
    error: str | None = None      # kubeconfig error, or the inner list error
    visibility: str = "none"      # full | services | none: what istiod learns from the peer
    outcome: str = "ok"


def secret_name(peer: str) -> str:
    return f"istio-remote-secret-{peer}"


def secret_server(host: ClusterSpec, peer: ClusterSpec, s: RemoteSecretSpec) -> str:
    if s.server:
        return s.server
    if s.outcome == "dns":
        return f"https://{peer.id}-api.example.internal:6443"
    return f"https://{peer.api_server}"


def effective_outcome(host: ClusterSpec, s: RemoteSecretSpec, server: str) -> str:
    if urlparse(server).hostname in ("127.0.0.1", "localhost"):
        return "refused"
    if host.istiod_egress_policy:
        return "networkpolicy"
    return s.outcome


def kubeconfig_error(s: RemoteSecretSpec) -> str | None:
    """istiod's NewUntrustedRestConfig refusal for the secret's auth method, if any."""
    return {
        "exec": "kubeconfig is not allowed: exec is not allowed",
        "client-certificate": "kubeconfig is not allowed: clientKey is not allowed",
        "auth-provider-gcp": "kubeconfig is not allowed: auth provider gcp is not allowed",
    }.get(s.auth)


def list_error(outcome: str, server: str, path: str, resource: str, group: str,
               dns_server: str) -> str:
    """The client-go error text of a failed list call against a remote API server."""
    u = urlparse(server)
    hostport = f"{u.hostname}:{u.port or 443}"
    get = f'Get "{server}{path}?limit=500&resourceVersion=0": '
    if outcome in ("timeout", "networkpolicy"):
        return get + f"dial tcp {hostport}: i/o timeout"
    if outcome == "refused":
        return get + f"dial tcp {hostport}: connect: connection refused"
    if outcome == "dns":
        return get + f"dial tcp: lookup {u.hostname} on {dns_server}:53: no such host"
    if outcome == "x509":
        return get + "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if outcome == "unauthorized":
        return "Unauthorized"
    if outcome == "forbidden":
        res = f"{resource}.{group}" if group else resource
        return (f'{res} is forbidden: User "system:serviceaccount:istio-system:'
                f'istio-reader-service-account" cannot list resource "{resource}" in API group '
                f'"{group}" at the cluster scope')
    raise ValueError(outcome)


def failing_informers(outcome: str) -> list[tuple[str, str, str, str]]:
    """Informers whose list calls fail: all of them, except RBAC gaps hit only endpointslices."""
    if outcome == "forbidden":
        return [i for i in INFORMERS if i[2] == "endpointslices"]
    return INFORMERS


def secret_results(world: World, host: ClusterWorld) -> list[SecretResult]:
    out: list[SecretResult] = []
    registered: set[str] = set()
    for peer_id in sorted(host.spec.remote_secrets):
        s = host.spec.remote_secrets[peer_id]
        if not s.present:
            continue
        peer = world.mesh.cluster(peer_id)
        key = s.key or peer_id
        server = secret_server(host.spec, peer, s)
        res = SecretResult(secret_name(peer_id), key, peer_id, server, "ignored")
        if key == cluster_id(host.spec):
            out.append(res)
            continue
        if key in registered:
            res.status = "duplicate"
            out.append(res)
            continue
        err = kubeconfig_error(s)
        if err:
            res.status, res.error = "rejected", err
            out.append(res)
            continue
        registered.add(key)
        res.outcome = effective_outcome(host.spec, s, server)
        if res.outcome == "ok":
            res.status, res.visibility = "synced", "full"
        else:
            res.status = "timeout"
            res.visibility = "services" if res.outcome == "forbidden" else "none"
        out.append(res)
    return out
