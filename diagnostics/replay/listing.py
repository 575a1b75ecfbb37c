"""List and get, shaped like the API server's answers.

A list is sorted by storage key (`<namespace>/<name>`, as etcd orders it), filtered by label and
field selectors, and paginated with `limit` and an opaque `continue` token that encodes the list
resourceVersion and the last key returned. Items carry no kind/apiVersion: the real API server
omits them in lists, and clients that depend on that must see it here too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from diagnostics.replay.managed_fields import with_managed_fields
from diagnostics.replay.resources import Served
from diagnostics.replay.responses import (JSON, ApiError, bad_request, dumps, forbidden,
                                          forbidden_message, not_captured, not_found)
from diagnostics.selectors import SelectorError
from diagnostics.snapshot import ClusterSnapshot

_TOKEN_VERSION = "meta.k8s.io/v1"


@dataclass
class Page:
    """One page of a list: the items and the list metadata to answer with."""

    items: list[dict]
    metadata: dict


def storage_key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def served_object(obj: dict, served: Served) -> dict:
    """A copy of a stored object as a get returns it: kind and apiVersion of the served version."""
    return {"kind": served.kind.kind, "apiVersion": served.kind.api_version,
            **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}}


def list_item(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


META_GROUP_VERSION = "meta.k8s.io/v1"


def partial_metadata(obj: dict) -> dict:
    """An object as `Accept: ...;as=PartialObjectMetadata;g=meta.k8s.io;v=v1` returns it."""
    return {"kind": "PartialObjectMetadata", "apiVersion": META_GROUP_VERSION,
            "metadata": obj.get("metadata") or {}}


class EncodedItems:
    """Each stored object's JSON as a list item (whole, or its metadata only), encoded once. A
    snapshot never changes, and a list of 10,000 pods assembled from ready bytes takes
    milliseconds, where encoding it held the replay's only thread, and every other cluster's
    requests, for most of a second."""

    def __init__(self, managed_fields: bool = False) -> None:
        self._by_id: dict[tuple[int, bool], bytes] = {}  # objects live as long as the server
        self.managed_fields = managed_fields  # pods carry them, as real ones (managed_fields.py)

    def item(self, obj: dict, metadata_only: bool = False, kind: str = "") -> bytes:
        key = (id(obj), metadata_only)
        encoded = self._by_id.get(key)
        if encoded is None:
            if self.managed_fields:
                obj = with_managed_fields(obj, kind)
            shown = partial_metadata(obj) if metadata_only else list_item(obj)
            encoded = self._by_id[key] = dumps(shown)
        return encoded


def list_body(head: dict, items: list[bytes]) -> bytes:
    """`head` (kind, apiVersion, metadata) with `items` appended, as one JSON object, joined
    in one copy (a list of 10,000 pods is tens of megabytes)."""
    parts = [dumps(head)[:-1] + b',"items":[']
    for i, item in enumerate(items):
        parts += (b",", item) if i else (item,)
    parts.append(b"]}")
    return b"".join(parts)


#: A list body is written in slices of this size, each waiting until the socket takes it.
SLICE = 1 << 20
#: A body longer than this is sent chunked, as the API server sends it: it sets no
#: Content-Length on a list, and Go's net/http chunks whatever outgrows its 2 KB buffer
#: before the handler returns (net/http server.go, bufferBeforeChunkingSize).
CHUNKED_ABOVE = 2048


async def send_body(request: web.Request, body: bytes) -> web.StreamResponse:
    """A JSON body written slice by slice, as the caller reads it. Written whole, a list of
    10,000 pods (tens of megabytes) was copied into the transport's buffer at once, and the
    replay's only thread (every cluster's) was busy with it for a tenth of a second: requests
    sent meanwhile were recorded as arriving late (stats.py's rounds)."""
    response = web.StreamResponse(headers={"Content-Type": JSON})
    if len(body) > CHUNKED_ABOVE:
        response.enable_chunked_encoding()
    else:
        response.content_length = len(body)
    await response.prepare(request)
    with memoryview(body) as view:
        for at in range(0, len(body), SLICE):
            await response.write(view[at:at + SLICE])  # waits while the socket is full
    await response.write_eof()
    return response


def require_captured(cluster: ClusterSnapshot, served: Served, namespace: str | None,
                     verb: str = "get") -> None:
    """404 for what the snapshot did not record; 403 for what its capture was refused
    (snapshot.yaml `withheld`, or `meshbot replay --withhold`), as the API server refused it."""
    if served.key in cluster.withheld:
        scope = namespace if served.kind.namespaced else None
        raise forbidden(cluster.withheld[served.key] or forbidden_message(
            verb, served.kind.group, served.kind.plural, scope), served.kind.plural)
    if not cluster.captured_in(served.key, namespace if served.kind.namespaced else None):
        raise not_captured(f"resource {served.key} of cluster {cluster.name}")


def get_object(cluster: ClusterSnapshot, served: Served, namespace: str | None, name: str) -> dict:
    require_captured(cluster, served, namespace)
    obj = cluster.get(served.key, namespace if served.kind.namespaced else None, name)
    if obj is None:
        raise not_found(served.kind.plural, name, served.kind.group)
    return obj


def list_objects(cluster: ClusterSnapshot, served: Served, namespace: str | None,
                 query: Mapping[str, str], resource_version: str) -> Page:
    """Filter, sort and paginate; raise ApiError for bad selectors, limits and tokens."""
    require_captured(cluster, served, namespace, "list")
    try:
        objects = cluster.list(served.key, namespace, query.get("labelSelector"),
                               query.get("fieldSelector"))
    except SelectorError as exc:
        raise bad_request(str(exc)) from None
    objects.sort(key=storage_key)
    after = decode_continue(query.get("continue"), resource_version)
    if after is not None:
        objects = [o for o in objects if storage_key(o) > after]
    return _paginate(objects, _limit(query.get("limit")), resource_version)


def _paginate(objects: list[dict], limit: int, resource_version: str) -> Page:
    metadata: dict = {"resourceVersion": resource_version}
    if limit and len(objects) > limit:
        page, rest = objects[:limit], objects[limit:]
        metadata["continue"] = encode_continue(resource_version, storage_key(page[-1]))
        metadata["remainingItemCount"] = len(rest)
        objects = page
    return Page(objects, metadata)


def _limit(raw: str | None) -> int:
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid limit {raw!r}: not an integer") from None
    return max(value, 0)


def encode_continue(resource_version: str, last_key: str) -> str:
    token = {"v": _TOKEN_VERSION, "rv": int(resource_version), "start": last_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def decode_continue(token: str | None, resource_version: str) -> str | None:
    """The last key of the previous page; 400 for a token that is not one, 410 for a stale one."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        start, rv = str(data["start"]), int(data["rv"])
        if data.get("v") != _TOKEN_VERSION or not start.endswith("\x00"):
            raise ValueError("unknown token version")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None
    if str(rv) != resource_version:
        raise ApiError(410, "Expired", "The provided continue parameter is too old to display a "
                       "consistent list result. You can start a new list without the continue "
                       "parameter.")
    return start[:-1]
