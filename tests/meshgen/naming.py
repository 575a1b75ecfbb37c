"""Deterministic names, uids, hashes and timestamps.

Every value that Kubernetes or Istio would make random (pod-template hashes, pod suffixes, uids,
resourceVersions, xDS nonces) is derived from a seed and the object's identity, so regenerating a
scenario yields byte-identical files.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

# Kubernetes' SafeEncodeString alphabet (no vowels, no confusable digits).
_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def number(*parts: object) -> int:
    return int.from_bytes(digest(*parts)[:8], "big")


def k8s_suffix(length: int, *parts: object) -> str:
    """A string like a ReplicaSet hash or pod suffix, derived from `parts`."""
    n = number(*parts)
    out = []
    for _ in range(length):
        n, r = divmod(n, len(_K8S_ALPHABET))
        out.append(_K8S_ALPHABET[r])
    return "".join(out)


def uid(*parts: object) -> str:
    """A version-4-shaped UUID derived from `parts`."""
    h = bytearray(digest("uid", *parts)[:16])
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:32]}"


def resource_version(*parts: object) -> str:
    return str(100000 + number("rv", *parts) % 900000)


def hexid(length: int, *parts: object) -> str:
    return digest(*parts).hex()[:length]


BASE = datetime(2026, 11, 19, 10, 0, 0, tzinfo=timezone.utc)


def at(minutes: float = 0.0, *, base: datetime = BASE) -> datetime:
    return base + timedelta(minutes=minutes)


def ts(dt: datetime) -> str:
    """Kubernetes timestamp (seconds precision)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_micro(dt: datetime) -> str:
    """istiod log / Go time.Time timestamp with microseconds."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ts_milli(dt: datetime) -> str:
    """Envoy access-log timestamp."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"

