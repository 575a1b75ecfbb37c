"""Kubernetes kinds meshbot knows how to read, and how they are addressed.

One table serves three readers: the snapshot loader (which file object is which resource), the
live source (which API path lists a resource) and the replay simulator (what discovery
advertises). A kind that is not in the table is still readable from a snapshot; its plural is
derived the way kubectl does for regular nouns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A resource type: its kind, plural, API group/version and scope."""

    kind: str
    plural: str
    group: str
    version: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The name checks use for this resource: `pods`, `deployments.apps`, ..."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def list_path(self, namespace: str | None) -> str:
        """API path that lists this resource, across namespaces when `namespace` is None."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


_K = Kind
KNOWN_KINDS: tuple[Kind, ...] = (
    _K("Namespace", "namespaces", "", "v1", False, ("ns",)),
    _K("Node", "nodes", "", "v1", False, ("no",)),
    _K("Pod", "pods", "", "v1", True, ("po",)),
    _K("Service", "services", "", "v1", True, ("svc",)),
    _K("Endpoints", "endpoints", "", "v1", True, ("ep",)),
    _K("Secret", "secrets", "", "v1", True),
    _K("ConfigMap", "configmaps", "", "v1", True, ("cm",)),
    _K("ServiceAccount", "serviceaccounts", "", "v1", True, ("sa",)),
    _K("Event", "events", "", "v1", True, ("ev",)),
    _K("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True),
    _K("Deployment", "deployments", "apps", "v1", True, ("deploy",)),
    _K("StatefulSet", "statefulsets", "apps", "v1", True, ("sts",)),
    _K("DaemonSet", "daemonsets", "apps", "v1", True, ("ds",)),
    _K("ReplicaSet", "replicasets", "apps", "v1", True, ("rs",)),
    _K("NetworkPolicy", "networkpolicies", "networking.k8s.io", "v1", True, ("netpol",)),
    _K("MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
       "admissionregistration.k8s.io", "v1", False),
    _K("ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
       "admissionregistration.k8s.io", "v1", False),
    _K("DestinationRule", "destinationrules", "networking.istio.io", "v1", True, ("dr",)),
    _K("VirtualService", "virtualservices", "networking.istio.io", "v1", True, ("vs",)),
    _K("Gateway", "gateways", "networking.istio.io", "v1", True, ("gw",)),
    _K("ServiceEntry", "serviceentries", "networking.istio.io", "v1", True, ("se",)),
    _K("Sidecar", "sidecars", "networking.istio.io", "v1", True),
    _K("PeerAuthentication", "peerauthentications", "security.istio.io", "v1", True, ("pa",)),
    _K("Gateway", "gateways", "gateway.networking.k8s.io", "v1", True, ("gtw",)),
)

_BY_KEY = {k.key: k for k in KNOWN_KINDS}
_BY_GROUP_KIND = {(k.group, k.kind): k for k in KNOWN_KINDS}


def plural_of(kind: str) -> str:
    """kubectl's regular plural for a kind name (`Policy` → `policies`, `Ingress` → `ingresses`)."""
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    return low + "s"


def group_version(api_version: str) -> tuple[str, str]:
    """Split `apps/v1` into (`apps`, `v1`) and `v1` into (`""`, `v1`)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def kind_for_object(obj: dict) -> Kind:
    """The Kind of a Kubernetes object as read from a file (apiVersion + kind)."""
    group, version = group_version(str(obj.get("apiVersion", "v1")))
    name = str(obj.get("kind", ""))
    known = _BY_GROUP_KIND.get((group, name))
    if known:
        return known
    namespaced = bool((obj.get("metadata") or {}).get("namespace"))
    return Kind(name, plural_of(name), group, version, namespaced)


def kind_by_key(key: str) -> Kind | None:
    """Resolve `pods`, `deployments.apps`, `gateways.networking.istio.io` to a known Kind."""
    return _BY_KEY.get(key)


def resolve_user_kind(word: str) -> Kind | None:
    """Resolve what a person types (`po`, `svc`, `deploy`, `pods`, `pod`) to a known Kind."""
    low = word.lower()
    for k in KNOWN_KINDS:
        if low in (k.plural, k.singular, k.key) or low in k.short_names:
            return k
    return None
