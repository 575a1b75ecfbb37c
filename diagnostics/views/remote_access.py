"""Whether istiod can use a remote secret's kubeconfig and reach the API server it names.

Two questions answered from configuration alone, so they hold even when istiod's log only says
`i/o timeout`:

- Would istiod accept the kubeconfig? It loads, validates, then refuses anything that reads
  files or runs code (`NewUntrustedRestConfig`, docs/istio-surface.md §3.2); and a loopback
  server (127.0.0.1, localhost, ::1) is istiod's own pod, whatever the log says next.
- Do NetworkPolicies let istiod's pods open a TCP connection to the server's address and port?
  Once a policy with policyType Egress selects a pod, only what some such policy admits leaves it.

No finding is emitted here: the istiod-remote-view check decides what to report.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from diagnostics import yaml_text
from diagnostics.redact import REDACTED, decode_secret_value
from diagnostics.selectors import label_selector_matches
from diagnostics.workloads import labels_of, name_of, namespace_of

ALLOWLIST_ENV = "PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

# ------------------------------------------------------------------------------ kubeconfig


@dataclass(frozen=True)
class KubeconfigView:
    """What a remote secret's (redacted) kubeconfig tells about the client istiod would build."""

    server: str | None = None
    host: str | None = None
    port: int | None = None
    auth: tuple[str, ...] = ()  # auth kinds of the current user: token, exec, auth-provider gcp...
    problem: str | None = None  # why istiod cannot use it, in istiod's own wording where it has one
    loopback: bool = False  # the server is istiod's own pod

    @property
    def endpoint(self) -> tuple[str, int] | None:
        return (self.host, self.port) if self.host and self.port else None


def secret_kubeconfig_text(secret: dict, key: str) -> str | None:
    """The kubeconfig text stored under `key`; None when it was redacted as a whole.

    Capture redacts a value that is not a kubeconfig entirely (C4), so None means the value was
    empty or unparsable when it was read.
    """
    raw = (secret.get("stringData") or {}).get(key)
    if isinstance(raw, str):
        return None if raw == REDACTED else raw
    return decode_secret_value((secret.get("data") or {}).get(key))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, 0.0.0.0, :: or a localhost name: inside a pod, the pod itself."""
    name = host.strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


def _named(items: Any, name: str | None, inner: str) -> dict | None:
    """The `inner` part of the entry called `name` in a kubeconfig list (clusters, users...)."""
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(inner)
            return value if isinstance(value, dict) else {}
    return None


def _validate(doc: dict) -> tuple[dict, dict] | str:
    """`(cluster, user)` of the current context, or why clientcmd would call it invalid."""
    if not doc.get("clusters") and not doc.get("contexts"):
        return "kubeconfig is not valid: invalid configuration: no configuration has been provided"
    current = doc.get("current-context")
    if not current:
        return "kubeconfig is not valid: no current-context"
    context = _named(doc.get("contexts"), current, "context")
    if context is None:
        return f"kubeconfig is not valid: context was not found for specified context: {current}"
    cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
    if cluster is None:
        return f"kubeconfig is not valid: cluster {context.get('cluster')!r} was not found"
    if not cluster.get("server"):
        return f"kubeconfig is not valid: no server found for cluster {context.get('cluster')!r}"
    user_name = context.get("user")
    user = _named(doc.get("users"), user_name, "user") if user_name else {}
    if user is None:
        return f"kubeconfig is not valid: user {user_name!r} was not found"
    return cluster, user


def _refusal(users: Any, allowed: frozenset[str]) -> str | None:
    """istiod's sanitisation of every user entry, in its order and wording."""
    for entry in users or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        user = user if isinstance(user, dict) else {}
        provider = (user.get("auth-provider") or {}).get("name")
        if provider and provider != "oidc" and provider not in allowed:
            return f"auth provider {provider} is not allowed"
        for key, option in (("client-key", "clientKey"),
                            ("client-certificate", "clientCertificate"),
                            ("tokenFile", "tokenFile"), ("exec", "exec")):
            if user.get(key) and option not in allowed:
                return f"{option} is not allowed"
    return None


def auth_kinds(user: dict) -> tuple[str, ...]:
    """How a kubeconfig user authenticates, by kind only (never the credential itself)."""
    kinds = []
    for key, label in (("token", "token"), ("tokenFile", "token file"),
                       ("client-certificate-data", "client certificate"),
                       ("client-certificate", "client certificate file"),
                       ("client-key", "client key file"), ("username", "basic auth")):
        if user.get(key):
            kinds.append(label)
    if isinstance(user.get("exec"), dict):
        kinds.append(f"exec ({user['exec'].get('command') or '?'})")
    if isinstance(user.get("auth-provider"), dict):
        kinds.append(f"auth-provider {user['auth-provider'].get('name') or '?'}")
    return tuple(kinds) or ("none",)


def _server_parts(server: str) -> tuple[str | None, int | None]:
    parts = urlsplit(server if "//" in server else f"https://{server}")
    try:
        port = parts.port
    except ValueError:
        return parts.hostname, None
    return parts.hostname, port or (80 if parts.scheme == "http" else 443)


def inspect_kubeconfig(text: str | None, allowed: frozenset[str] = frozenset()) -> KubeconfigView:
    """What istiod would make of a kubeconfig: its server, auth kinds, and any refusal."""
    if text is None or not text.strip():
        return KubeconfigView(problem="kubeconfig is empty or not a kubeconfig")
    try:
        doc = yaml_text.load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unparsable"
        return KubeconfigView(problem=f"kubeconfig cannot be loaded: {first}")
    if not isinstance(doc, dict):
        return KubeconfigView(problem="kubeconfig cannot be loaded: not a YAML mapping")
    found = _validate(doc)
    if isinstance(found, str):
        return KubeconfigView(problem=found)
    cluster, user = found
    server = str(cluster["server"])
    host, port = _server_parts(server)
    view = KubeconfigView(server=server, host=host, port=port, auth=auth_kinds(user))
    refused = _refusal(doc.get("users"), allowed)
    if refused:
        return replace(view, problem=f"kubeconfig is not allowed: {refused}")
    if host and is_loopback(host):
        return replace(view, loopback=True, problem=f"loopback server address {host}")
    return view


def insecure_options(istiod_pods: list[dict]) -> frozenset[str]:
    """The kubeconfig options istiod was told to allow (its `ALLOWLIST_ENV`)."""
    allowed: set[str] = set()
    for pod in istiod_pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            for env in container.get("env") or []:
                if env.get("name") == ALLOWLIST_ENV and isinstance(env.get("value"), str):
                    allowed |= {v.strip() for v in env["value"].split(",") if v.strip()}
    return frozenset(allowed)


# ------------------------------------------------------------------------- NetworkPolicies

Tri = bool | None  # True, False, or None when it cannot be known from the objects
Verdict = Literal["unrestricted", "allowed", "blocked", "unknown"]


def restricts_egress(policy: dict) -> bool:
    """policyTypes names Egress, or (unset, as before API defaulting) the policy has egress rules."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return "Egress" in types
    return "egress" in spec


def selects(policy: dict, pod: dict) -> bool:
    """A policy applies to the pods of its own namespace that its podSelector matches."""
    if namespace_of(policy) and namespace_of(pod) and namespace_of(policy) != namespace_of(pod):
        return False
    return label_selector_matches((policy.get("spec") or {}).get("podSelector"), labels_of(pod))


def _port_admits(rule_port: dict, port: int) -> Tri:
    if (rule_port.get("protocol") or "TCP") != "TCP":
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        return None  # a named port resolves against pods' container ports, not an address
    start, end = int(wanted), rule_port.get("endPort")
    return start <= port <= int(end) if end else port == start


def _ip_admits(block: dict, host: str) -> Tri:
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None  # a name: which addresses it resolves to is not known here
    try:
        if addr not in ipaddress.ip_network(block.get("cidr", ""), strict=False):
            return False
        return not any(addr in ipaddress.ip_network(e, strict=False)
                       for e in block.get("except") or [])
    except ValueError:
        return False


def _peer_admits(peer: dict, host: str) -> Tri:
    """ipBlock peers match addresses; pod and namespace selectors match only pods of this
    cluster, never another cluster's API server."""
    if "ipBlock" in peer:
        return _ip_admits(peer["ipBlock"] or {}, host)
    return False


def _any(values: list[Tri]) -> Tri:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _both(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    return True if a and b else None


def rule_admits(rule: dict, host: str, port: int) -> Tri:
    """An egress rule admits a TCP connection when both a port and a destination match."""
    ports = rule.get("ports") or []
    to = rule.get("to") or []
    port_ok = True if not ports else _any([_port_admits(p or {}, port) for p in ports])
    dest_ok = True if not to else _any([_peer_admits(p or {}, host) for p in to])
    return _both(port_ok, dest_ok)


@dataclass
class EgressDecision:
    """What the NetworkPolicies selecting one pod make of one connection."""

    verdict: Verdict
    restricting: list[str] = field(default_factory=list)  # "<ns>/<name>" of Egress policies
    admitting: list[str] = field(default_factory=list)  # those with a rule that admits it


def egress_decision(policies: list[dict], pod: dict, host: str, port: int) -> EgressDecision:
    """Whether `pod` may open TCP `host:port` under `policies` (rules of all policies add up)."""
    applying = [p for p in policies if restricts_egress(p) and selects(p, pod)]
    if not applying:
        return EgressDecision("unrestricted")
    names = [f"{namespace_of(p)}/{name_of(p)}" for p in applying]
    results = {f"{namespace_of(p)}/{name_of(p)}":
               _any([rule_admits(r or {}, host, port)
                     for r in (p.get("spec") or {}).get("egress") or []])
               for p in applying}
    admitting = [n for n, ok in results.items() if ok]
    if admitting:
        return EgressDecision("allowed", names, admitting)
    unknown = any(ok is None for ok in results.values())
    return EgressDecision("unknown" if unknown else "blocked", names)


def describe_egress(policy: dict) -> str:
    """`UDP/53, TCP/53 to namespaces kubernetes.io/metadata.name=kube-system; TCP/6443 to ...`"""
    rules = (policy.get("spec") or {}).get("egress") or []
    if not rules:
        return "no egress rule (all egress denied)"
    return "; ".join(_describe_rule(r or {}) for r in rules)


def _describe_rule(rule: dict) -> str:
    ports = ", ".join(f"{p.get('protocol') or 'TCP'}/{p.get('port', 'any')}"
                      + (f"-{p['endPort']}" if p.get("endPort") else "")
                      for p in rule.get("ports") or []) or "any port"
    peers = [_describe_peer(p or {}) for p in rule.get("to") or []]
    return f"{ports} to {', '.join(peers) or 'anywhere'}"


def _describe_peer(peer: dict) -> str:
    if "ipBlock" in peer:
        block = peer["ipBlock"] or {}
        excepts = block.get("except") or []
        return block.get("cidr", "?") + (f" except {', '.join(excepts)}" if excepts else "")
    parts = []
    for key, label in (("namespaceSelector", "namespaces"), ("podSelector", "pods")):
        if key in peer:
            labels = (peer[key] or {}).get("matchLabels") or {}
            parts.append(f"{label} " + (",".join(f"{k}={v}" for k, v in labels.items()) or "(all)"))
    return " and ".join(parts) or "?"
