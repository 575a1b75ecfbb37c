"""`check <kind>/<name> [-n <namespace>]`: the common workload pitfalls of a pod, deployment,
service or namespace.

The kind is spelled as kubectl spells it (pod/po/pods, deploy/deployment/deployments,
svc/service/services, ns/namespace/namespaces). The target is looked up in every cluster where
it exists unless `--cluster` narrows it; `ns/<name>` examines every workload of the namespace.
The steps follow the field documents' list of application pitfalls, most disruptive first.
"""

from __future__ import annotations

from diagnostics.targets import KINDS, normalize_kind
from handlers.base import CommandSpec, Request
from handlers.grammar import (ParsedArgs, UsageError, shown, validate_namespace,
                              validate_object_name, validate_service)
from handlers.options import reject_options, request

NAME = "check"
CHECKS = [
    "workload-target",     # what the target is: workloads, pods, Services (the ns summary)
    "dataplane",           # sidecars or ambient: which view the later steps read
    "workload-injection",  # sidecar-not-injected
    "workload-ambient",    # ambient: captured, node agents ready, bound waypoints ready
    "workload-init",       # istio-init-blocked
    "workload-probes",     # probes-fail-under-mtls
    "workload-startup",    # app-starts-before-proxy
    "workload-http10",     # http10-upstream-426
    "workload-ports",      # port-protocol-ambiguous, udp-port-not-proxied
    "workload-tls",        # app-tls-under-strict-mtls
    "workload-headless",   # headless-service-statefulset
]
_KIND_HELP = ", ".join(words[0] for words in KINDS.values())


def parse_target(word: str) -> tuple[str, str]:
    """`svc/payload-api` → ("svc", "payload-api"), names validated for their kind."""
    kind_word, slash, name = word.partition("/")
    if not slash or not kind_word or not name:
        raise UsageError(f"give the target as <kind>/<name> (kind: {_KIND_HELP}), "
                         f"e.g. svc/payload-api; got {shown(word)}", NAME)
    kind = normalize_kind(kind_word)
    if kind is None:
        raise UsageError(f"unknown kind {shown(kind_word)}: use one of {_KIND_HELP}", NAME)
    if kind == "svc":
        validate_service(name, NAME)
    elif kind == "ns":
        validate_namespace(name, NAME)
    else:
        validate_object_name(name, NAME)
    return kind, name


def build(parsed: ParsedArgs) -> Request:
    if len(parsed.positionals) != 1:
        raise UsageError("give exactly one target, <kind>/<name>", NAME)
    reject_options(parsed, NAME, "from")
    kind, name = parse_target(parsed.positionals[0])
    if kind == "ns":
        given = parsed.options.get("namespace")
        if given is not None and given != name:
            raise UsageError(f"ns/{name} is a namespace; -n {shown(str(given))} does not apply",
                             NAME)
        namespace = name
    else:
        namespace = validate_namespace(str(parsed.options.get("namespace", "default")), NAME)
    return request(NAME, {"kind": kind, "name": name, "namespace": namespace}, list(CHECKS),
                   parsed)


SPEC = CommandSpec(
    name=NAME,
    summary="the common workload pitfalls for a pod, deployment, service or namespace "
            "(kind: pod, deploy, svc, ns)",
    usage="check <kind>/<name> [-n <namespace>] [--cluster <name>]...",
    examples=("check deploy/helloworld-v1 -n sample", "check svc/payload-api -n shop",
              "check ns/sample"),
    build=build,
    checks=tuple(CHECKS),
    options={"namespace": "the target's namespace (default: default; ns/<name> needs none)",
             "clusters": "look the target up only in this cluster (default: every cluster "
                         "where it exists)"},
)
