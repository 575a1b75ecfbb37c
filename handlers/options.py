"""Turning the common options into contract arguments, the same way for every command."""

from __future__ import annotations

from typing import Any

from handlers.base import Request
from handlers.grammar import (TERMINAL_OPTIONS, ParsedArgs, UsageError, validate_cluster,
                              validate_namespace)

TERMINAL_KEYS = tuple(opt.dest for opt in TERMINAL_OPTIONS)

# What `--cluster` means for the commands over the whole mesh (help texts with real defaults).
CLUSTER_VIEW = ("examine only this cluster's view; every cluster is still read, because each "
                "is judged with its peers (default: every cluster)")


def namespace_arg(parsed: ParsedArgs, command: str) -> str:
    """`-n/--namespace` (default `default`), validated as a DNS-1123 label."""
    return validate_namespace(str(parsed.options.get("namespace", "default")), command)


def reject_options(parsed: ParsedArgs, command: str, *names: str) -> None:
    """Options a command does not take are a usage error, not silently ignored."""
    for name in names:
        if name in parsed.options:
            flag = "-n/--namespace" if name == "namespace" else f"--{name}"
            raise UsageError(f"{command} does not take {flag}", command)


def request(command: str, args: dict[str, Any], checks: list[str], parsed: ParsedArgs) -> Request:
    """A Request carrying the `--cluster` limits and the terminal-only options."""
    clusters = [validate_cluster(c, command) for c in parsed.options.get("clusters", [])]  # type: ignore[union-attr]
    options = {k: v for k, v in parsed.options.items() if k in TERMINAL_KEYS}
    return Request(command, args, checks, clusters, options)


def mesh_wide(parsed: ParsedArgs, command: str, checks: list[str], *,
              namespace: bool = False, hint: str = "use --cluster <name>") -> Request:
    """A command over the whole mesh: no positional arguments; `-n` only when `namespace`.

    Every cluster is read, because one cluster's state is judged with its peers' (a primary's
    view of a remote, proxies listed by another cluster's istiod); `--cluster` narrows only
    whose view is examined.
    """
    if parsed.positionals:
        raise UsageError(f"{command} takes no arguments ({hint})", command)
    reject_options(parsed, command, "from", *(() if namespace else ("namespace",)))
    args = {"namespace": namespace_arg(parsed, command)} \
        if namespace and "namespace" in parsed.options else {}
    req = request(command, args, list(checks), parsed)
    req.read_all_clusters = True
    return req
