"""Who may read istiod's debug endpoints, as istiod decides it: for `meshbot replay` to refuse
as istiod does, and for the checks to say what a refused caller can change.

istiod wraps every `/debug/*` handler in `allowAuthenticatedOrLocalhost`
(pilot/pkg/xds/debug.go; docs/istiod-log-versions.md has the versions):

1. a request from a loopback address passes (istiod talking to itself; a `kubectl
   port-forward` connects from the pod's loopback, so it passes too);
2. otherwise the caller must authenticate as for xDS (client certificate, or a Kubernetes
   token with audience istio-ca): if none succeeds, 401 with an empty body (since 1.11);
3. since 1.27.6, 1.28.4 and 1.29 (ENABLE_DEBUG_ENDPOINT_AUTH, default true) an authenticated
   caller outside the system namespace (meshConfig.rootNamespace) and outside
   DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES (1.27.8, 1.28.6, 1.29.1, 1.30+) may only call
   config_dump, ndsz and edsz, else 403 with an empty body; a config_dump for a proxy in another
   namespace is answered as if the proxy were not connected (404).

`/metrics` on the same port is not guarded. A replayed port-forward arrives on loopback as a
real one does, so by default nothing is refused; `--debug-caller` says who the caller is
instead, to show what a direct `istiod_url` (a non-loopback caller) would get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagnostics.workloads import istiod_version, namespace_of

NAMESPACE_SCOPED = frozenset({"config_dump", "ndsz", "edsz"})
Version = tuple[int, int, int]


@dataclass(frozen=True)
class DebugCaller:
    """The caller istiod sees on a replayed debug request."""

    loopback: bool = True
    namespace: str | None = None  # the namespace of an authenticated caller; None: no credentials

    @classmethod
    def parse(cls, text: str) -> DebugCaller:
        """`loopback` (a port-forward, as in real life), `anonymous` (not loopback, no
        credentials) or `namespace:<ns>` (authenticated as a workload of <ns>)."""
        if text == "loopback":
            return cls()
        if text == "anonymous":
            return cls(loopback=False)
        kind, _, namespace = text.partition(":")
        if kind == "namespace" and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace):
            return cls(loopback=False, namespace=namespace)
        raise ValueError(f"--debug-caller must be loopback, anonymous or namespace:<ns>, not "
                         f"{text!r}")

    def describe(self) -> str:
        if self.loopback:
            return "loopback"
        return f"namespace:{self.namespace}" if self.namespace else "anonymous"


def _env(pod: dict) -> dict[str, str]:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == "discovery":
            return {e.get("name", ""): str(e.get("value", "")) for e in container.get("env") or []
                    if isinstance(e, dict)}
    return {}


def _at_least(version: Version | None, per_minor: dict[int, int], from_minor: int) -> bool:
    """Whether a release has a change backported to patch `per_minor[minor]` of older minors
    and present in every patch from `from_minor` on; unknown versions are taken as newest."""
    if version is None:
        return True
    major, minor, patch = version
    if (major, minor) >= (1, from_minor):
        return True
    return minor in per_minor and patch >= per_minor[minor]


def authorization_enforced(pod: dict) -> bool:
    """ENABLE_DEBUG_ENDPOINT_AUTH exists in this release and is not turned off."""
    exists = _at_least(istiod_version(pod), {27: 6, 28: 4}, 29)
    return exists and _env(pod).get("ENABLE_DEBUG_ENDPOINT_AUTH", "true").lower() != "false"


def reads_allowed_namespaces(pod: dict) -> bool:
    """Whether this release reads DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES."""
    return _at_least(istiod_version(pod), {27: 8, 28: 6, 29: 1}, 30)


def allowed_namespaces(pod: dict) -> frozenset[str]:
    """DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES, where the release reads it."""
    if not reads_allowed_namespaces(pod):
        return frozenset()
    raw = _env(pod).get("DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES", "")
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


def refusal(caller: DebugCaller, pod: dict, endpoint: str, root_namespace: str) -> int | None:
    """The status istiod refuses `caller`'s request for `/debug/<endpoint>` with, or None."""
    if caller.loopback:
        return None
    version = istiod_version(pod)
    if version is not None and version[:2] < (1, 11):
        return None  # no authentication on debug endpoints before 1.11
    if caller.namespace is None:
        return 401
    if not authorization_enforced(pod):
        return None
    if caller.namespace == root_namespace or caller.namespace in allowed_namespaces(pod):
        return None
    return None if endpoint in NAMESPACE_SCOPED else 403


def sees_proxy(caller: DebugCaller, pod: dict, proxy_id: str, root_namespace: str) -> bool:
    """A namespace-restricted caller only sees proxies of its own namespace (istiod answers
    404 'not connected' for the others)."""
    if caller.loopback or caller.namespace is None or not authorization_enforced(pod):
        return True
    if caller.namespace == root_namespace or caller.namespace in allowed_namespaces(pod):
        return True
    return proxy_id.rsplit(".", 1)[-1] == caller.namespace


def root_namespace(mesh: object, pod: dict) -> str:
    """meshConfig.rootNamespace when the captured mesh config says it, else istiod's own
    namespace (the default root namespace is the system namespace)."""
    if isinstance(mesh, dict) and mesh.get("rootNamespace"):
        return str(mesh["rootNamespace"])
    return namespace_of(pod) or "istio-system"
