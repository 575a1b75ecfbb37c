"""The fetcher's contract: every input kind fetches itself, arguments reach inputs through
their Scope, and a new kind of input needs no change to the engine (issue 16)."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from diagnostics import inputs
from diagnostics.checking import CheckSpec
from diagnostics.engine import Plan, diagnose
from diagnostics.fetching import ClusterFetcher, fetch_cluster
from diagnostics.inputs import (ALL_NAMESPACES, ISTIO_NS, SYNCZ, TARGET_NS, TARGET_PODS, Input,
                                Resources, Scope)
from diagnostics.model import ClusterInfo
from diagnostics.sources.base import NotCaptured

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


def input_kinds() -> list[type[Input]]:
    return [obj for obj in vars(inputs).values()
            if inspect.isclass(obj) and issubclass(obj, Input) and obj is not Input]


def test_every_input_kind_fetches_and_describes_itself():
    kinds = input_kinds()
    assert len(kinds) >= 9
    for kind in kinds:
        assert kind.fetch is not Input.fetch, f"{kind.__name__} does not say how it is fetched"
        assert kind.describe is not Input.describe, f"{kind.__name__} does not describe itself"
        assert kind.side in ("kubernetes", "istiod")


def test_only_istiod_debug_reads_are_istiod_side():
    sides = {kind.__name__: kind.side for kind in input_kinds()}
    assert {k for k, side in sides.items() if side == "istiod"} == {
        "IstiodDebug", "IstiodMetrics", "ClientConfigDumps"}


def test_scope_resolves_namespace_templates():
    scope = Scope.of("istio-sys", {"service": "reviews", "namespace": "shop", "from": "sleep-1"})
    assert (scope.service, scope.namespace, scope.from_pod) == ("reviews", "shop", "sleep-1")
    assert Resources("pods", TARGET_NS).resolve_namespace(scope) == "shop"
    assert Resources("pods", ISTIO_NS).resolve_namespace(scope) == "istio-sys"
    assert Resources("pods", ALL_NAMESPACES).resolve_namespace(scope) is None
    assert Resources("pods", "kube-system").resolve_namespace(scope) == "kube-system"
    # a command that names no namespace looks in `default`, and says so
    bare = Scope.of("istio-system", {})
    assert Resources("pods", TARGET_NS).resolve_namespace(bare) == "default"
    assert Resources("pods", TARGET_NS).describe_in(bare) == "pods in namespace default"
    assert Resources("secrets", ISTIO_NS).describe_in(scope) == "secrets in namespace istio-sys"


class Source:
    """A two-cluster source that records what it is asked; istiod answers slowly."""

    identity = "fake"

    def __init__(self):
        self.lists: list[tuple] = []

    def cluster_infos(self) -> list[ClusterInfo]:
        return [ClusterInfo("east", istio_namespace="istio-sys"), ClusterInfo("west")]

    async def list(self, cluster, resource, namespace, label_selector=None):
        self.lists.append((cluster, resource, namespace, label_selector))
        if resource != "pods":
            raise NotCaptured(f"{resource} not captured")
        return [{"metadata": {"name": f"{cluster}-pod", "namespace": namespace or "x"}}]

    def istiod_targets(self, cluster, istiod_pods):
        return ["istiod-0"]

    async def istiod_get(self, cluster, target, path, compact=None):
        await asyncio.sleep(5)
        return {}

    async def pod_log(self, *args, **kwargs):
        raise NotCaptured("no logs")

    async def close(self):
        return None


@dataclass(frozen=True)
class PodCount(Input):
    """A kind of input the engine has never heard of: it fetches through the fetcher only."""

    def describe(self) -> str:
        return "how many pods the command's namespace has"

    async def fetch(self, fetcher: ClusterFetcher) -> Any:
        pods = await fetcher.need(TARGET_PODS)
        return (fetcher.scope.target_namespace, len(pods))


async def test_a_new_kind_of_input_needs_no_engine_change():
    source, seen = Source(), {}

    def probe(ctx):
        for cluster in ctx.cluster_names:
            seen[cluster] = ctx.get(PodCount(), cluster)
        return []

    spec = CheckSpec("probe", "probe", (PodCount(), TARGET_PODS), (), probe)
    await diagnose(Plan("check", {"namespace": "shop"}, [spec]), source, now=NOW)
    assert seen == {"east": ("shop", 1), "west": ("shop", 1)}
    # TARGET_PODS was needed twice (declared and by PodCount) and listed once per cluster
    target_lists = [c for c in source.lists if c[1:3] == ("pods", "shop")]
    assert sorted(c[0] for c in target_lists) == ["east", "west"]


async def test_a_timed_out_input_is_missing_on_its_side_in_the_scopes_words():
    source = Source()
    info = source.cluster_infos()[0]
    fetcher = ClusterFetcher(source, info, Scope.of(info.istio_namespace, {}), examined=True)
    facts, errors = await fetch_cluster(fetcher, [SYNCZ, inputs.ISTIO_SECRETS], timeout=0.2)
    assert facts[SYNCZ].missing.reason == "timed out after 0.2s"
    assert [(e.source, e.message) for e in errors] == [("istiod", "timed out after 0.2s")]
    # not captured is not an error of the cluster, and its description names the namespace
    assert facts[inputs.ISTIO_SECRETS].missing.what == "secrets in namespace istio-sys"
    assert not facts[inputs.ISTIO_SECRETS].missing.captured


async def test_endpoint_shardz_is_kept_compact_from_the_moment_it_is_read():
    """Each replica's endpointShardz becomes shards with endpoint counts as it is fetched, from
    any source: the checks never hold istiod's whole body (60 MB decoded on big meshes)."""
    from pathlib import Path

    from diagnostics.inputs import ENDPOINT_SHARDZ
    from diagnostics.parse.istiod_debug import Shard
    from diagnostics.sources.snapshot import SnapshotSource

    source = SnapshotSource.open(Path(__file__).resolve().parents[1] / "examples" / "demo-mesh")
    info = source.cluster_infos()[0]
    fetch = ClusterFetcher(source, info, Scope(info.istio_namespace), True)
    facts, errors = await fetch_cluster(fetch, [ENDPOINT_SHARDZ], 10)
    shards = [s for body in facts[ENDPOINT_SHARDZ].value.values.values() for s in body]
    assert not errors and shards
    assert all(isinstance(s, Shard) and s.raw == () for s in shards)
    assert any(s.count for s in shards)


async def test_a_census_of_syncz_is_derived_from_syncz_when_the_command_reads_it_whole():
    """SYNCZ_CENSUS alone reads syncz and keeps (proxy, cluster id, versioned); beside SYNCZ it
    is derived from that body, and syncz is asked once per replica, not twice."""
    from pathlib import Path

    from diagnostics.inputs import SYNCZ_CENSUS
    from diagnostics.parse.syncz import parse_syncz
    from diagnostics.sources.snapshot import SnapshotSource

    class Counting(SnapshotSource):
        asked: list[str] = []

        async def istiod_get(self, cluster, target, path, compact=None):
            self.asked.append(path)
            return await super().istiod_get(cluster, target, path, compact)

    demo = Path(__file__).resolve().parents[1] / "examples" / "demo-mesh"
    for wanted in ([SYNCZ_CENSUS], [SYNCZ, SYNCZ_CENSUS]):
        source = Counting.open(demo)
        source.asked = []
        info = source.cluster_infos()[0]
        fetch = ClusterFetcher(source, info, Scope(info.istio_namespace), True)
        facts, errors = await fetch_cluster(fetch, wanted, 10)
        census = facts[SYNCZ_CENSUS].value.values
        replicas = len(census)
        assert not errors and replicas
        assert source.asked.count("/debug/syncz") == replicas
        for replica, kept in census.items():
            whole = parse_syncz(await source.istiod_get(info.key, replica, "/debug/syncz"))
            assert kept == [(p.proxy, p.cluster_id, bool(p.istio_version)) for p in whole]
