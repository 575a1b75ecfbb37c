"""Fetched facts shared for a few seconds: different commands over one cluster fetch once.

Wraps a live source; every read (list, istiod GET, pod log) is cached in the store under a key
made of the source identity, the cluster and the exact request, for a short TTL. A cache hit
makes no API call (and counts none); failures are never cached.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import zlib
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import msgspec

from diagnostics.gcpause import collector_paused
from diagnostics.model import ClusterInfo
from diagnostics.sources.base import Source
from diagnostics.store.base import KEY_PREFIX, Store, StoreError

COMPRESS_ABOVE = 1024
_fresh: contextvars.ContextVar[bool] = contextvars.ContextVar("meshbot_fresh_reads", default=False)


@contextmanager
def fresh_reads() -> Iterator[None]:
    """Within this block reads skip cached facts (Re-run, --no-cache) and refresh them."""
    token = _fresh.set(True)
    try:
        yield
    finally:
        _fresh.reset(token)


def _encode(value: Any) -> bytes:
    raw = msgspec.json.encode(value)  # compact JSON, as json.dumps writes it but faster
    return b"z" + zlib.compress(raw) if len(raw) > COMPRESS_ABOVE else b"j" + raw


def _decode(blob: bytes) -> Any:
    with collector_paused():  # a list of 10,000 pods: 1.2 s with the collector running, 0.3
        return msgspec.json.decode(zlib.decompress(blob[1:]) if blob[:1] == b"z" else blob[1:])


#: A blob or a value this big is encoded or decoded on a worker thread: the bot's event loop
#: (Slack's acknowledgements) would otherwise wait a third of a second for a big list.
OFF_LOOP_BYTES = 64 * 1024
OFF_LOOP_ITEMS = 500


async def _decoded(blob: bytes) -> Any:
    if len(blob) < OFF_LOOP_BYTES:
        return _decode(blob)
    return await asyncio.to_thread(_decode, blob)


async def _encoded(value: Any) -> bytes:
    big = isinstance(value, (list, dict)) and len(value) > OFF_LOOP_ITEMS or \
        isinstance(value, (str, bytes)) and len(value) > OFF_LOOP_BYTES
    return await asyncio.to_thread(_encode, value) if big else _encode(value)


def with_facts_cache(source: Source, store: Store, ttl: float) -> Source:
    """`source` read through `store`, each fact kept `ttl` seconds; `source` itself when `ttl`
    is 0 (the cache off). The bot's process and its diagnosing children wrap it alike."""
    return CachingSource(source, store, ttl) if ttl > 0 else source


class CachingSource:
    """A Source whose reads go through the store first."""

    def __init__(self, inner: Source, store: Store, ttl: float):
        self.inner, self.store, self.ttl = inner, store, ttl
        self.identity = inner.identity

    def _key(self, *parts: Any) -> str:
        material = json.dumps([self.identity, *parts], sort_keys=True, default=str)
        return f"{KEY_PREFIX}facts:{hashlib.sha256(material.encode()).hexdigest()[:32]}"

    async def _cached(self, key: str, fetch) -> Any:
        try:
            blob = None if _fresh.get() else await self.store.get(key)
        except StoreError:
            blob = None
        if blob is not None:
            try:
                return await _decoded(blob)
            except (ValueError, zlib.error):
                pass
        value = await fetch()
        try:
            await self.store.set(key, await _encoded(value), self.ttl)
        except StoreError:
            pass
        return value

    def cluster_infos(self) -> list[ClusterInfo]:
        return self.inner.cluster_infos()

    def istiod_targets(self, cluster: str, istiod_pods: list[dict]) -> list[str]:
        return self.inner.istiod_targets(cluster, istiod_pods)

    async def list(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None, metadata_only: bool = False,
                   field_selector: str | None = None) -> list[dict]:
        if field_selector:
            what = "list-metadata-fields" if metadata_only else "list-fields"
            key = self._key(cluster, what, resource, namespace, label_selector, field_selector)
            return await self._cached(key, lambda: self.inner.list(
                cluster, resource, namespace, label_selector, metadata_only=metadata_only,
                field_selector=field_selector))
        if metadata_only:
            key = self._key(cluster, "list-metadata", resource, namespace, label_selector)
            return await self._cached(key, lambda: self.inner.list(
                cluster, resource, namespace, label_selector, metadata_only=True))
        key = self._key(cluster, "list", resource, namespace, label_selector)
        return await self._cached(key, lambda: self.inner.list(cluster, resource, namespace,
                                                                label_selector))

    async def rows(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None) -> list[dict]:
        key = self._key(cluster, "rows", resource, namespace, label_selector)
        return await self._cached(key, lambda: self.inner.rows(cluster, resource, namespace,
                                                                label_selector))

    async def names(self, cluster: str, resource: str, namespace: str | None,
                    label_selector: str | None = None) -> list[str]:
        key = self._key(cluster, "names", resource, namespace, label_selector)
        return await self._cached(key, lambda: self.inner.names(cluster, resource, namespace,
                                                                 label_selector))

    async def istiod_get(self, cluster: str, target: str, path: str,
                         compact: Callable[[Any], list] | None = None) -> Any:
        """The body is shared whole (commands compact it differently) and compacted here, off
        the event loop (a syncz of 10,000 proxies is parsed in a few tenths of a second)."""
        key = self._key(cluster, "istiod", target, path)
        body = await self._cached(key, lambda: self.inner.istiod_get(cluster, target, path))
        return await asyncio.to_thread(compact, body) if compact else body

    async def pod_log(self, cluster: str, namespace: str, pod: str, container: str,
                      tail_lines: int, previous: bool = False) -> str:
        key = self._key(cluster, "log", namespace, pod, container, tail_lines, previous)
        return await self._cached(key, lambda: self.inner.pod_log(cluster, namespace, pod,
                                                                   container, tail_lines,
                                                                   previous))

    async def ztunnel_get(self, cluster: str, namespace: str, pod: str, path: str) -> Any:
        key = self._key(cluster, "ztunnel", namespace, pod, path)
        return await self._cached(key, lambda: self.inner.ztunnel_get(cluster, namespace, pod,
                                                                       path))

    async def close(self) -> None:
        await self.inner.close()
