"""istiod's `/debug/clusterz` and `/debug/endpointShardz`, in every shape istiod has served.

`/debug/clusterz` is a JSON list of `cluster.DebugInfo` (json tags `id`, `secretName`,
`syncStatus`); istiod answers `null` when it knows no cluster. `/debug/endpointShardz` is a Go
map without json tags, so its keys are Go field names, and the endpoint address changed from
`Address` (a string, istiod <= 1.23) to `Addresses` (a list, >= 1.24). Both parsers accept any
casing and tolerate `null` wherever Go marshals a nil slice or map
(docs/istio-surface.md §1.3 and §8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec

from diagnostics.parse.json_items import Compaction
from diagnostics.parse.keys import get_any, keyed, pick

KUBERNETES_PROVIDER = "Kubernetes"


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    value = get_any(obj, *names)
    return default if value is None else value


# ----------------------------------------------------------------------------- /debug/clusterz


@dataclass(frozen=True)
class ClusterSync:
    """One cluster as a replica's secret controller knows it."""

    id: str
    secret: str  # "<namespace>/<name>"; "" for istiod's own (config) cluster
    status: str  # synced | syncing | timeout | closed (lower-cased; unknown values kept)

    @property
    def synced(self) -> bool:
        return self.status == "synced"


def parse_clusterz(body: Any) -> list[ClusterSync]:
    """The clusters of a `/debug/clusterz` body; `null`, `{}` and junk entries give nothing."""
    entries = body if isinstance(body, list) else _get(body, "clusters", default=None)
    out = []
    for entry in entries or []:
        cid = _get(entry, "id", "ID", "cluster", "clusterID")
        if not cid:
            continue
        out.append(ClusterSync(str(cid), str(_get(entry, "secretName", default="") or ""),
                               str(_get(entry, "syncStatus", default="") or "unknown").lower()))
    return out


def cluster_status(body: Any, cluster: str) -> str:
    """`synced`/`syncing`/`timeout`/`closed` for `cluster`, or `absent` when istiod lists it not."""
    for entry in parse_clusterz(body):
        if entry.id == cluster:
            return entry.status
    return "absent"


# ----------------------------------------------------------------------- /debug/endpointShardz


@dataclass(frozen=True)
class ShardEndpoint:
    """One endpoint istiod holds in a shard (an `IstioEndpoint`)."""

    addresses: tuple[str, ...]
    port: int | None
    workload: str | None
    health: int | None  # 1 healthy, 2 unhealthy, 3 draining, 4 terminating


@dataclass(frozen=True)
class Shard:
    """The endpoints one registry (`<provider>/<cluster id>`) contributes to one service."""

    hostname: str
    namespace: str
    provider: str  # Kubernetes, External, ...
    cluster: str
    count: int = 0  # how many endpoints the shard holds: what the checks read
    raw: tuple[Any, ...] = field(default=(), repr=False)  # the endpoints as istiod wrote them

    @cached_property
    def endpoints(self) -> tuple[ShardEndpoint, ...]:
        """Parsed when first asked; a compact shard (parse_endpoint_shardz without endpoints)
        kept only their number."""
        if self.count and not self.raw:
            raise ValueError(f"the endpoints of shard {self.key} of {self.hostname} were not kept")
        return tuple(e for e in map(_endpoint, self.raw) if e is not None)

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.cluster}" if self.provider else self.cluster


def _addresses(view: dict[str, Any]) -> tuple[str, ...]:
    """`Addresses` (list, >= 1.24) or `Address` (string, <= 1.23)."""
    many = pick(view, "Addresses")
    if isinstance(many, list):
        return tuple(str(a) for a in many if a)
    one = pick(view, "Address")
    return (str(one),) if one else ()


def _endpoint(ep: Any) -> ShardEndpoint | None:
    if not isinstance(ep, dict):
        return None
    view = keyed(ep)  # once per endpoint: a big mesh's endpointShardz has tens of thousands
    port, health = pick(view, "EndpointPort"), pick(view, "HealthStatus")
    return ShardEndpoint(_addresses(view), int(port) if isinstance(port, int) else None,
                         pick(view, "WorkloadName"),
                         int(health) if isinstance(health, int) else None)


def _split_key(key: str) -> tuple[str, str]:
    provider, sep, cluster = key.partition("/")
    return (provider, cluster) if sep else ("", key)


def parse_endpoint_shardz(body: Any, endpoints: bool = True) -> list[Shard]:
    """Every shard of every service in a `/debug/endpointShardz` body; without `endpoints`,
    each keeps only how many it holds (what the checks read: a big mesh's body is tens of
    thousands of endpoints, 60 MB decoded at 10,000 pods a cluster)."""
    if isinstance(body, list) and all(isinstance(s, Shard) for s in body):
        return body  # already parsed as it was read (diagnostics/inputs.py ENDPOINT_SHARDZ)
    out = []
    for hostname, by_ns in (body or {}).items() if isinstance(body, dict) else ():
        for namespace, shards in (by_ns or {}).items() if isinstance(by_ns, dict) else ():
            for key, eps in (_get(shards, "Shards") or {}).items():
                provider, cluster = _split_key(str(key))
                eps = tuple(eps or ())
                out.append(Shard(str(hostname), str(namespace), provider, cluster,
                                 sum(1 for e in eps if isinstance(e, dict)),
                                 eps if endpoints else ()))
    return out


def compact_endpoint_shardz(body: Any) -> list[Shard]:
    """A replica's endpointShardz as the checks keep it: shards with their endpoint counts."""
    return parse_endpoint_shardz(body, endpoints=False)


_STAND_IN: dict = {}  # an endpoint once counted: compaction asks only that it is an object


def _endpoint_stand_in(obj: dict) -> Any:
    """Keys only an endpoint (IstioEndpoint, Go field names) has in an endpointShardz body:
    `EndpointPort` in every release, `Addresses` since 1.24, `Address` before. Called for
    every object of the body: written out, not as a loop."""
    if "EndpointPort" in obj or "Addresses" in obj or "Address" in obj:
        return _STAND_IN
    return obj


class _Counted(msgspec.Struct, gc=False):
    """An endpoint, of which only that it is an object is decoded (its fields are skipped)."""


class _ServiceShards(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """`EndpointShards` as istiod writes it (Go field names, no json tags)."""

    Shards: dict[str, list[_Counted] | None] | None = None  # noqa: N815 (Go's spelling)
    ServiceAccounts: msgspec.Raw = msgspec.Raw()  # noqa: N815


_SHARDZ_DECODER = msgspec.json.Decoder(dict[str, dict[str, _ServiceShards | None] | None] | None)


def decode_shard_counts(body: str | bytes | memoryview) -> list[Shard] | None:
    """compact_endpoint_shardz of a body as istiod writes it, decoded typed: a 16 MB body of
    10,000 endpoints in 0.015 s instead of 0.07. None for any other body."""
    try:
        services = _SHARDZ_DECODER.decode(body)
    except msgspec.DecodeError:
        return None
    out = []
    for hostname, by_ns in (services or {}).items():
        for namespace, shards in (by_ns or {}).items():
            for key, eps in ((shards.Shards if shards else None) or {}).items():
                provider, cluster = _split_key(key)
                out.append(Shard(hostname, namespace, provider, cluster, len(eps or ())))
    return out


#: endpointShardz compacted as it is decoded: every endpoint is dropped as soon as it is built
#: (diagnostics/parse/json_items.py), for a body of tens of thousands of them.
SHARD_COUNTS = Compaction(compact_endpoint_shardz, _endpoint_stand_in, decode_shard_counts)


def service_shards(shards: list[Shard], service: str, namespace: str) -> list[Shard]:
    """The shards of `<service>.<namespace>.svc.<any domain>`."""
    prefix = f"{service}.{namespace}.svc."
    return [s for s in shards if s.hostname.startswith(prefix) and s.namespace == namespace]


def kubernetes_shard_clusters(shards: list[Shard]) -> set[str]:
    """Clusters that contributed at least one endpoint through their Kubernetes registry."""
    return {s.cluster for s in shards if s.provider == KUBERNETES_PROVIDER and s.count}
