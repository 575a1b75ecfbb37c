"""Fetching the ztunnel of the ambient client a command examines (inputs ClientZtunnelDumps
and ClientZtunnelLogs).

In ambient mode a client's traffic is routed by the ztunnel on its node, so its view is that
ztunnel's admin `/config_dump` (port 15000, through a port-forward, as
`istioctl ztunnel-config` reads it) and that ztunnel's log. Which client is decided from the
namespace's possible clients read whole (CLIENT_POOL; diagnostics/views/ambient.py), which
ztunnel from the ztunnel pods on its node: rounds that do not grow with the mesh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from diagnostics.facts import ZtunnelFact
from diagnostics.inputs import CLIENT_POOL, SERVICES, ZTUNNEL_PODS
from diagnostics.sources.base import NotCaptured, SourceFailure
from diagnostics.views.ambient import ambient_clients, node_of
from diagnostics.workloads import is_ready, name_of, namespace_of

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher

ZTUNNEL_CONTAINER = "istio-proxy"  # the ztunnel chart names its container so


async def _client_and_ztunnel(fetch: ClusterFetcher
                              ) -> tuple[dict | None, dict | None, str, str]:
    """(client, its node's ztunnel, why the client, why none) for this cluster, chosen once
    for the dump and the log alike."""
    return await fetch.once("ambient-client", lambda: _choose(fetch))


async def _choose(fetch: ClusterFetcher) -> tuple[dict | None, dict | None, str, str]:
    if not fetch.examined:
        return None, None, "", "not examined"
    pods = await fetch.need(CLIENT_POOL)
    services = await fetch.optional(SERVICES) or []
    scope = fetch.scope
    clients, why_none = ambient_clients(pods, services, service=scope.service,
                                        namespace=scope.target_namespace,
                                        from_pod=scope.from_pod)
    if not clients:
        return None, None, "", why_none
    client = clients[0]
    ztunnels = await fetch.need(ZTUNNEL_PODS)
    node = node_of(client.pod)
    on_node = sorted((z for z in ztunnels if node_of(z) == node), key=lambda z: not is_ready(z))
    return client.pod, (on_node[0] if on_node else None), client.why, ""


async def client_ztunnel_dump(fetch: ClusterFetcher) -> dict[str, ZtunnelFact]:
    """The `/config_dump` of the ztunnel serving the examined ambient client, keyed by client."""
    return await _client_ztunnel(fetch, "/config_dump", lambda ns, pod: fetch.source.ztunnel_get(
        fetch.info.key, ns, pod, "/config_dump"))


async def client_ztunnel_log(fetch: ClusterFetcher, tail: int) -> dict[str, ZtunnelFact]:
    """The log of the ztunnel serving the examined ambient client, keyed by client."""
    return await _client_ztunnel(fetch, "log", lambda ns, pod: fetch.source.pod_log(
        fetch.info.key, ns, pod, ZTUNNEL_CONTAINER, tail))


async def _client_ztunnel(fetch: ClusterFetcher, what: str,
                          read: Callable[[str, str], Awaitable[Any]]) -> dict[str, ZtunnelFact]:
    client, ztunnel, why, _none = await _client_and_ztunnel(fetch)
    if client is None:
        return {}
    fact = ZtunnelFact(client, ztunnel, why=why)
    if ztunnel is None:
        fact.missing = f"no ztunnel pod runs on node {node_of(client) or '(unscheduled)'}"
        return {name_of(client): fact}
    ns, pod = namespace_of(ztunnel), name_of(ztunnel)
    try:
        fact.value = await read(ns, pod)
    except NotCaptured:  # a 404, or a file a snapshot lacks: the same whatever the source
        fact.missing = f"ztunnel {ns}/{pod} gave no {what} (not answered, or not captured)"
    except SourceFailure as exc:
        fact.missing = str(exc)
    return {name_of(client): fact}
