"""Fetching the view of the sidecar client a command examines (inputs ClientConfigDumps and
ClientProxyLogs).

A client's traffic is routed by the config istiod pushed to its proxy, so its view is istiod's
`/debug/config_dump?proxyID=...&include_eds` for that proxy, and its access log. Which client is
decided from the namespace's possible clients, read whole (CLIENT_POOL, chosen from the pods'
names: diagnostics/pods_fetch.py client_pool), and the command's scope (diagnostics/workloads.py
client_candidates); when istiod cannot give the first candidate's config, the next candidates'
are asked together, so a fallback costs one round, not several.

The first candidate is nearly always known before the pool is read whole: the first injected
pod by name the pool picked (likely_client). Its config and log are asked for alongside the
pool's whole objects, not after them, and used when it is indeed the first candidate (it is
Ready and runs a sidecar): a round less on the answer's critical path; when it is not, they
are asked for the right pod as before.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from diagnostics.facts import ClientFact
from diagnostics.inputs import CLIENT_CONFIG_DUMPS, CLIENT_POOL, SERVICES
from diagnostics.pods_fetch import client_pools
from diagnostics.sources.base import NotCaptured, SourceFailure, reraise_unexpected
from diagnostics.workloads import Candidate, client_candidates, name_of, namespace_of, pod_ref

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher

# Where a client's config came from when it is the proxy's own, not istiod's (ClientFact.replica).
OWN_CONFIG_DUMP = "the proxy's own Envoy admin config_dump"


async def candidates(fetch: ClusterFetcher) -> tuple[list[Candidate], str]:
    """The client pods to examine in this cluster, best first, or why there is none; chosen
    once for the config dumps and the logs alike."""
    return await fetch.once("sidecar-clients", lambda: _candidates(fetch))


async def _candidates(fetch: ClusterFetcher) -> tuple[list[Candidate], str]:
    if not fetch.examined:
        return [], "not examined"
    pods = await fetch.need(CLIENT_POOL)
    services = await fetch.optional(SERVICES) or []
    scope = fetch.scope
    return client_candidates(pods, services, service=scope.service,
                             namespace=scope.target_namespace, from_pod=scope.from_pod)


async def likely_client(fetch: ClusterFetcher) -> dict | None:
    """The pod `candidates` will most likely put first, known from names alone (see the
    module's docstring), as a reference (workloads.py pod_ref): the `--from` pod, else the
    first injected pod by name of those CLIENT_POOL picks. None when nothing is examined or
    the names are unread."""
    return await fetch.once("likely-client", lambda: _likely_client(fetch))


async def _likely_client(fetch: ClusterFetcher) -> dict | None:
    if not fetch.examined:
        return None
    try:
        injected, _ = await client_pools(fetch)
    except SourceFailure:
        return None
    return pod_ref(fetch.scope.target_namespace, injected[0]) if injected else None


async def _is_likely(fetch: ClusterFetcher, pod: dict) -> bool:
    likely = await likely_client(fetch)
    return likely is not None and (namespace_of(likely), name_of(likely)) == \
        (namespace_of(pod), name_of(pod))


async def _likely_config_dump(fetch: ClusterFetcher) -> ClientFact | None:
    pod = await likely_client(fetch)
    if pod is None:
        return None
    return await _config_dump(fetch, Candidate(pod, ""), await _config_targets(fetch))


async def client_config_dumps(fetch: ClusterFetcher) -> dict[str, ClientFact]:
    """istiod's view of one client: the first candidate's, or, when istiod cannot give it,
    the next candidates' (asked together)."""
    early = fetch.once("likely-client-config", lambda: _likely_config_dump(fetch))
    found, _ = await candidates(fetch)
    if not found:
        return {}
    targets = await _config_targets(fetch)
    if await _is_likely(fetch, found[0].pod):
        fact = await early
        first = ClientFact(found[0].pod, fact.value, fact.replica, fact.missing, why=found[0].why)
    else:
        first = await _config_dump(fetch, found[0], targets)
    facts = [first]
    if first.missing and len(found) > 1:
        facts += await asyncio.gather(*(_config_dump(fetch, c, targets) for c in found[1:]))
    chosen = next((f for f in facts if not f.missing), first)
    chosen.tried = [f"{name_of(f.pod)}: {f.missing}" for f in facts
                    if f is not chosen and f.missing]
    return {name_of(chosen.pod): chosen}


async def _config_targets(fetch: ClusterFetcher) -> list[tuple[str, str]]:
    """The istiod replicas that may configure this cluster's proxies: its own, or, for a
    remote cluster without istiod (primary-remote), every other cluster's."""
    own = await fetch.replicas()
    if own:
        return [(fetch.info.key, r) for r in own]
    found = await asyncio.gather(*(p.replicas() for p in fetch.peers), return_exceptions=True)
    targets = []
    for peer, replicas in zip(fetch.peers, found):
        if isinstance(replicas, BaseException):
            reraise_unexpected(replicas)
            continue
        targets += [(peer.info.key, r) for r in replicas]
    return targets


async def _config_dump(fetch: ClusterFetcher, client: Candidate,
                       targets: list[tuple[str, str]]) -> ClientFact:
    pod = client.pod
    path = f"/debug/config_dump?proxyID={name_of(pod)}.{namespace_of(pod)}&include_eds"
    results = await asyncio.gather(
        *(fetch.source.istiod_get(cluster, replica, path) for cluster, replica in targets),
        return_exceptions=True)
    reasons = []
    for (cluster, replica), result in zip(targets, results):
        label = replica if cluster == fetch.info.key else f"{replica} in {cluster}"
        if not isinstance(result, BaseException):
            return ClientFact(pod, result, label, why=client.why)
        reraise_unexpected(result)
        # a 404 (or a file a snapshot lacks) means the same thing whatever the source
        reasons.append(f"{label}: no config for this proxy" if isinstance(result, NotCaptured)
                       else f"{label}: {result}")
    if all(isinstance(r, NotCaptured) for r in results):
        own = await _own_config_dump(fetch, pod)
        if own is not None:
            return ClientFact(pod, own, OWN_CONFIG_DUMP, why=client.why)
    why = "; ".join(reasons) or "no running istiod replica configures this cluster"
    return ClientFact(pod, missing=why, why=client.why)


async def _own_config_dump(fetch: ClusterFetcher, pod: dict) -> Any:
    """The proxy's own Envoy config dump, where a source has it and istiod's view of the
    proxy was not captured (an istioctl bug-report holds each proxy's own dump only)."""
    read = getattr(fetch.source, "proxy_config_dump", None)
    if read is None:
        return None
    try:
        return await read(fetch.info.key, namespace_of(pod), name_of(pod))
    except NotCaptured:
        return None


async def client_logs(fetch: ClusterFetcher, tail: int) -> dict[str, ClientFact]:
    """The access log of the client whose config is examined. The first candidate's log is
    read alongside its config (the likely client's before the pool is read whole); only when
    istiod's view came from another client is that client's log read after it."""
    async def log_of(pod: dict) -> ClientFact:
        try:
            text = await fetch.source.pod_log(fetch.info.key, namespace_of(pod), name_of(pod),
                                              "istio-proxy", tail)
            return ClientFact(pod, text)
        except SourceFailure as exc:
            return ClientFact(pod, missing=str(exc))

    async def likely_log() -> ClientFact | None:
        pod = await likely_client(fetch)
        return None if pod is None else await log_of(pod)

    early = fetch.once("likely-client-log", likely_log)
    found, _ = await candidates(fetch)
    if not found:
        return {}
    first = early if await _is_likely(fetch, found[0].pod) \
        else asyncio.ensure_future(log_of(found[0].pod))
    dumps = await fetch.optional(CLIENT_CONFIG_DUMPS) or {}
    chosen = next(iter(dumps.values())).pod if dumps else found[0].pod
    if name_of(chosen) == name_of(found[0].pod):
        fact = await first
    else:
        first.cancel()
        fact = await log_of(chosen)
    return {name_of(chosen): ClientFact(chosen, fact.value, missing=fact.missing)}
