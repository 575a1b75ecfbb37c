"""Kubernetes list bodies decoded without the part no check reads: `metadata.managedFields`.

A real API server returns every object with its managedFields, metadata-only lists included,
and on a pod they weigh as much as the rest of its metadata and spec together (diagnostics/
replay/managed_fields.py builds them as a server does): a metadata-only list of 10,000 pods is
13 MB without them and 61 MB with. The sources dropped them after decoding; decoding the
lists whose items the Kubernetes API fixes (a metadata-only list, a list of pods) through a
schema of what is read (msgspec, TypedDicts: plain dicts come out) skips them in C instead,
unbuilt. Anything else, and a body of another shape, is decoded whole.

The fields kept are ObjectMeta's and Pod's as the kubernetes client knows them
(tests/test_k8s_lists.py holds the declarations to its models): a field a later Kubernetes
adds is not read until it is declared here.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec


class ObjectMeta(TypedDict, total=False):
    """meta/v1 ObjectMeta but managedFields."""

    name: Any
    generateName: Any  # noqa: N815 (the API's spelling, as every field here)
    namespace: Any
    selfLink: Any  # noqa: N815
    uid: Any
    resourceVersion: Any  # noqa: N815
    generation: Any
    creationTimestamp: Any  # noqa: N815
    deletionTimestamp: Any  # noqa: N815
    deletionGracePeriodSeconds: Any  # noqa: N815
    labels: Any
    annotations: Any
    ownerReferences: Any  # noqa: N815
    finalizers: Any


class PartialObjectMetadata(TypedDict, total=False):
    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta


class Pod(TypedDict, total=False):
    apiVersion: Any  # noqa: N815
    kind: Any
    metadata: ObjectMeta
    spec: Any
    status: Any


class _MetadataList(msgspec.Struct, forbid_unknown_fields=True):
    """A list's envelope: any other key (a Table's rows, a Status' message) is another answer,
    decoded whole."""

    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    metadata: Any = None
    items: list[PartialObjectMetadata] | None = None


class _PodList(msgspec.Struct, forbid_unknown_fields=True):
    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    metadata: Any = None
    items: list[Pod] | None = None


_METADATA_LIST = msgspec.json.Decoder(_MetadataList)
_BY_KIND = {"Pod": msgspec.json.Decoder(_PodList)}


def decode_list(body: bytes | memoryview, kind: str, metadata_only: bool) -> Any:
    """A list body of `kind` (read metadata-only or not), managedFields left out where the
    API fixes its items' fields. Raises ValueError (msgspec.DecodeError) for what is not JSON."""
    decoder = _METADATA_LIST if metadata_only else _BY_KIND.get(kind)
    if decoder is not None:
        try:
            found = decoder.decode(body)
        except msgspec.DecodeError:  # another answer (a Table, items that are no objects):
            pass  # read it whole
        else:
            return msgspec.structs.asdict(found)
    return msgspec.json.decode(body)
