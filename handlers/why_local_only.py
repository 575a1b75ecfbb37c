"""`why-local-only <service>`: why calls to a multicluster service reach only local instances.

The steps follow istio.io's "Troubleshooting Multicluster → cross-cluster load balancing"
runbook, in its order: where the service and its endpoints are, what a client proxy actually
receives, then the causes that explain a gap between the two.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import (ParsedArgs, UsageError, shown, validate_namespace,
                              validate_object_name, validate_service)
from handlers.options import namespace_arg, request

NAME = "why-local-only"
# Runbook order: what the engineer should look at first comes first.
CHECKS = [
    "mesh-membership",  # 0. the clusters read, their ids, and those the mesh names but not read
    # 1. where the service is defined and has ready endpoints; do definitions agree
    "service-presence",
    "dataplane",  # 1a. sidecars or ambient: which view the later steps read
    "service-endpoints",
    "service-consistency",
    "ambient-service-scope",  # 1b. ambient: global in every cluster, present where clients run
    # 2. what a client proxy (or an ambient client's ztunnel) actually receives
    "client-endpoints",
    "client-ztunnel",  # 2b. ambient: the client's ztunnel runs, is connected, proxies it
    # 3. locality load balancing: remote endpoints held back by design
    "locality",
    # 4. root of trust and trust domain: cross-cluster mTLS needs both to agree
    "root-of-trust",
    "trust-domain",
    # 5. remote secrets and istiod's view of each remote cluster
    "remote-secrets",
    "istiod-remote-view",  # 5b. clusterz/endpointShardz/logs per replica, and why a peer is not read
    # 6. istiod serves in each cluster (a crash-looping one configures no proxy), and
    # primary-remote: which istiod each cluster's proxies use (istiod-remote)
    "istiod-serving",
    "proxy-control-plane",
    # 7. multi-network: east-west gateways, then networks of pods and system namespaces
    "network-gateways",
    "network-labels",
    "ambient-multinetwork",  # 7b. ambient: istiod's multi-network switch, ztunnel's network
    # 7c. ambient: the waypoint the service uses, in every cluster that serves it
    "waypoints",
    # 8. reachability of remote endpoints (the client's access log)
    "remote-reachability",
]


SERVICE_KINDS = ("svc", "service", "services")


def service_and_namespace(word: str, given: str | None) -> tuple[str, str | None]:
    """The service and, when the word says it, its namespace: `helloworld`,
    `helloworld.sample` (also `.svc` and `.svc.cluster.local` after it), `sample/helloworld`,
    or kubectl's `svc/helloworld`. A Service name has no dot, so the forms cannot be confused;
    a namespace in the word that differs from `-n` is a usage error."""
    namespace = None
    kind, slash, name = word.partition("/")
    if slash and kind in SERVICE_KINDS:
        word = name
    elif slash:
        namespace, word = validate_namespace(kind, NAME), name
    elif "." in word:
        word, _, rest = word.partition(".")
        namespace, _, domain = rest.partition(".")
        if domain and not (domain == "svc" or domain.startswith("svc.")):
            raise UsageError(f"{shown(word + '.' + rest)} is not <service>.<namespace>"
                             "[.svc[.<cluster domain>]]", NAME)
        validate_namespace(namespace, NAME)
    if namespace and given and given != namespace:
        raise UsageError(f"the service is given in namespace {namespace} and -n says "
                         f"{shown(given)}", NAME)
    return validate_service(word, NAME), namespace


def build(parsed: ParsedArgs) -> Request:
    if len(parsed.positionals) != 1:
        raise UsageError("give exactly one service name", NAME)
    given = parsed.options.get("namespace")
    service, namespace = service_and_namespace(parsed.positionals[0],
                                               str(given) if given is not None else None)
    args = {"service": service,
            "namespace": namespace or namespace_arg(parsed, NAME)}
    if "from" in parsed.options:
        args["from"] = validate_object_name(str(parsed.options["from"]), NAME)
    req = request(NAME, args, list(CHECKS), parsed)
    req.read_all_clusters = True  # the service's endpoints in every cluster always count
    return req


SPEC = CommandSpec(
    name=NAME,
    summary="why calls to a multicluster service reach only the local cluster's instances",
    usage="why-local-only <service> [-n <namespace>] [--cluster <name>]... [--from <pod>]",
    examples=("why-local-only helloworld -n sample",
              "why-local-only helloworld.sample",
              "why-local-only helloworld -n sample --from sleep-7656cf8794-8fhdk"),
    build=build,
    checks=tuple(CHECKS),
    options={"namespace": "the service's namespace (default: default; "
                          "<service>.<namespace> or <namespace>/<service> say it too)",
             "clusters": "examine only the clients of this cluster; every cluster is still "
                         "read, since the service's endpoints everywhere count (default: "
                         "every cluster)",
             "from": "the client pod whose view is examined (default: per cluster, the first "
                     "Ready, sidecar-injected pod of the namespace that the service does not "
                     "select)"},
)
