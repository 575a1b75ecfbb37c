"""Metadata shared by every rendered Kubernetes object (uid, resourceVersion, timestamps)."""

from __future__ import annotations

import base64
from datetime import datetime

from tests.meshgen.naming import resource_version, ts, uid

REDACTED = "REDACTED"


def meta(cluster: str, kind: str, name: str, namespace: str | None, created: datetime,
         labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
         owner: dict | None = None, generate_name: str | None = None) -> dict:
    """`metadata` as the API server returns it, with identity-derived uid and resourceVersion."""
    m: dict = {"name": name, "uid": uid(cluster, kind, namespace or "", name),
               "resourceVersion": resource_version(cluster, kind, namespace or "", name),
               "creationTimestamp": ts(created)}
    if namespace:
        m["namespace"] = namespace
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [owner]
    if generate_name:
        m["generateName"] = generate_name
    return m


def owner_ref(cluster: str, kind: str, api_version: str, name: str, namespace: str,
              controller: bool = True) -> dict:
    ref = {"apiVersion": api_version, "kind": kind, "name": name,
           "uid": uid(cluster, kind, namespace, name)}
    if controller:
        ref.update({"blockOwnerDeletion": True, "controller": True})
    return ref


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
