"""`metadata.managedFields` as a real API server keeps them on a pod, for `meshbot replay`.

Snapshots hold no managedFields (meshbot drops them as it reads: no check reads them), but every
object a real API server returns carries them, metadata-only lists included, and on a pod they
are as big as the rest of its metadata and spec together: the field set of everything its
creator wrote, and of everything the kubelet wrote in its status. A replay that leaves them out
measures a client on lighter answers than real clusters give (`meshbot replay
--managed-fields`, which bench/mesh_scale.py uses).

The shape follows the API server's (`kubectl get pod -o json --show-managed-fields`, e.g. the
pods pasted in kubernetes/kubernetes#127508 and its linked reproductions; field sets are
structured-merge-diff's FieldsV1): one `Update` entry of `kube-controller-manager` (a ReplicaSet's
pod, the injector's mutations included: they are part of the create) with the metadata and
spec it set, and one of `kubelet` on the `status` subresource. In a field set `f:<name>` is a
field, `k:<key fields as JSON>` an item of a list keyed by those fields, `.` the map or item
itself; atomic lists are a leaf (`{}`).
"""

from __future__ import annotations

import json
from typing import Any

#: Lists the Kubernetes API merges by key (x-kubernetes-list-map-keys in its OpenAPI).
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "ports": ("containerPort", "protocol"), "volumeMounts": ("mountPath",),
    "volumes": ("name",), "imagePullSecrets": ("name",), "ownerReferences": ("uid",),
    "conditions": ("type",), "podIPs": ("ip",), "hostIPs": ("ip",),
}
#: Fields that are maps of strings (the field set marks the map itself with `.`).
MAPS = frozenset({"labels", "annotations", "nodeSelector", "limits", "requests"})
#: Lists keyed by their item, whose field set does not mark the list itself.
_UNMARKED_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers", "conditions"})

_CREATOR_METADATA = ("generateName", "labels", "annotations", "ownerReferences")


def field_set(value: Any, name: str = "") -> dict:
    """The FieldsV1 set of `value`, the field called `name`."""
    if isinstance(value, dict):
        inner = {f"f:{k}": field_set(v, k) for k, v in value.items()}
        return {".": {}, **inner} if name in MAPS and value else inner
    if isinstance(value, list) and name in LIST_KEYS:
        keys = LIST_KEYS[name]
        items = {"k:" + json.dumps({k: item.get(k) for k in keys if k in item},
                                   separators=(",", ":")): {".": {}, **field_set(item)}
                 for item in value if isinstance(item, dict)}
        return items if name in _UNMARKED_LISTS or not items else {".": {}, **items}
    return {}


def _entry(manager: str, time: Any, fields: dict, subresource: str | None = None) -> dict:
    entry = {"manager": manager, "operation": "Update", "apiVersion": "v1",
             "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    return entry


def pod_managed_fields(pod: dict) -> list[dict]:
    """The managedFields a pod created by its ReplicaSet and run by a kubelet carries."""
    meta = pod.get("metadata") or {}
    created = meta.get("creationTimestamp")
    owned = {k: meta[k] for k in _CREATOR_METADATA if meta.get(k)}
    creator = {"f:metadata": field_set(owned)} if owned else {}
    if pod.get("spec"):
        creator["f:spec"] = field_set(pod["spec"])
    out = [_entry("kube-controller-manager", created, creator)]
    status = pod.get("status") or {}
    if status:
        out.append(_entry("kubelet", status.get("startTime") or created,
                          {"f:status": field_set(status)}, "status"))
    return out


def with_managed_fields(obj: dict, kind: str) -> dict:
    """`obj` as a real API server returns it: a pod with its managedFields (a copy; any other
    kind as it is)."""
    if kind != "Pod" or (obj.get("metadata") or {}).get("managedFields"):
        return obj
    meta = dict(obj.get("metadata") or {})
    meta["managedFields"] = pod_managed_fields(obj)
    return {**obj, "metadata": meta}
