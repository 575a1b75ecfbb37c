"""Server-side printing: answering `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`.

`kubectl get` (without -o json/yaml) asks for a Table and prints its cells verbatim; the row
`object` carries the metadata kubectl needs for the NAMESPACE column, `--show-labels` and
sorting. `includeObject` chooses between metadata only (the default), the whole object, or none.
"""

from __future__ import annotations

import datetime as dt

from diagnostics.replay.listing import list_item
from diagnostics.replay.printers import printer_for
from diagnostics.replay.resources import Served

_TABLE_VERSIONS = ("v1", "v1beta1")


def requested_table_version(accept: str | None) -> str | None:
    """The meta.k8s.io version of the first acceptable Table in the Accept header, or None when
    the client prefers a plain object (an earlier plain `application/json` or `*/*`)."""
    params = _preferred_as(accept, "Table", _TABLE_VERSIONS)
    return params["v"] if params else None


def requested_metadata(accept: str | None, as_kind: str) -> bool:
    """Whether the Accept header prefers `as_kind` (PartialObjectMetadata or
    PartialObjectMetadataList) of meta.k8s.io/v1, metadata only, to a plain object."""
    return _preferred_as(accept, as_kind, ("v1",)) is not None


def _preferred_as(accept: str | None, as_kind: str, versions: tuple[str, ...]
                  ) -> dict[str, str] | None:
    """The parameters of the first JSON media type asking for `as_kind` of meta.k8s.io in one
    of `versions`, unless a plain JSON type comes before it; other alternatives are skipped, as
    a server skips those it does not serve."""
    for media in (accept or "").split(","):
        kind, params = _parse_media(media)
        if kind not in ("application/json", "*/*", "application/*"):
            continue
        if "as" not in params:
            return None
        if params.get("as") == as_kind and params.get("g") == "meta.k8s.io" \
                and params.get("v") in versions:
            return params
    return None


def _parse_media(media: str) -> tuple[str, dict[str, str]]:
    kind, *raw = [p.strip() for p in media.split(";")]
    params = {}
    for item in raw:
        key, _, value = item.partition("=")
        params[key.strip()] = value.strip()
    return kind.lower(), params


def build_table(served: Served, objects: list[dict], list_meta: dict, version: str,
                include_object: str | None, now: dt.datetime) -> dict:
    """A `meta.k8s.io/<version>` Table of `objects` with the kind's printer columns."""
    printer = printer_for(served.key)
    rows = []
    for obj in objects:
        row = {"cells": printer.cells(obj, now)}
        row_object = _row_object(served, obj, version, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": list_meta,
            "columnDefinitions": [c.definition() for c in printer.columns], "rows": rows}


def _row_object(served: Served, obj: dict, version: str, include: str | None) -> dict | None:
    if include == "None":
        return None
    if include == "Object":
        return {"kind": served.kind.kind, "apiVersion": served.kind.api_version, **list_item(obj)}
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}
