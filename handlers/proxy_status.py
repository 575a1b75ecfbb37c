"""`proxy-status [-n <namespace>]`: proxies not in sync, disconnected sidecars, version skew.

istioctl proxy-status, mesh-wide: every istiod replica of every cluster is asked (each knows
only its own proxies, and a remote cluster's proxies are listed by its primary), so the answer
covers the whole mesh; `--cluster` narrows whose proxies are examined, not what is read.
Without `-n` every namespace is examined.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs, UsageError
from handlers.options import mesh_wide

NAME = "proxy-status"
CHECKS = [
    "namespace-presence",  # -n <ns>: the namespace exists somewhere (else namespace-not-found)
    "istiod-serving",   # an istiod that does not serve: its proxies' status cannot be read
    "proxy-sync",       # per proxy and type: SYNCED / STALE / NOT SENT / ERROR
    "proxy-connected",  # running sidecars no istiod lists
    "proxy-versions",   # proxy vs istiod minor versions
    "node-agents",      # ambient: ztunnel and istio-cni on every node
    "ambient-capture",  # ambient: enrolled pods ztunnel does not capture
    "waypoints",        # ambient: waypoints Programmed with ready pods
]


def build(parsed: ParsedArgs) -> Request:
    if parsed.options.pop("all_namespaces", False) and "namespace" in parsed.options:
        raise UsageError("-A/--all-namespaces and -n/--namespace exclude each other", NAME)
    return mesh_wide(parsed, NAME, CHECKS, namespace=True, hint="use -n <namespace> to narrow")


SPEC = CommandSpec(
    name=NAME,
    summary="proxies not in sync (STALE / NOT SENT / errors), disconnected sidecars, version skew",
    usage="proxy-status [-n <namespace> | -A] [--cluster <name>]...",
    examples=("proxy-status", "proxy-status -n sample --cluster cluster1"),
    build=build,
    checks=tuple(CHECKS),
    options={"namespace": "examine only this namespace's proxies (default: every namespace)",
             "all_namespaces": "examine every namespace (the default)",
             "clusters": "examine only the proxies of this cluster; every cluster is still "
                         "read, since a primary's istiod lists its remotes' proxies (default: "
                         "every cluster)"},
)
