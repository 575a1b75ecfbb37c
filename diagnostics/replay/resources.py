"""Which resources one replayed cluster serves, at which group/version paths.

A cluster serves every kind meshbot knows (so a client listing a known kind gets a real answer:
an empty list, or "not captured" when snapshot.yaml says so) plus every kind found in its
snapshot. An object stored as `networking.istio.io/v1beta1` is also served under `v1beta1`,
because a client asks for the version it was written for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from diagnostics.kinds import KNOWN_KINDS, Kind, group_version
from diagnostics.snapshot import ClusterSnapshot


@dataclass(frozen=True)
class Served:
    """One resource at one group/version; `kind.version` is the version served, `key` the
    snapshot's name for the resource (`deployments.apps`)."""

    kind: Kind
    key: str


class ResourceIndex:
    """Path lookup and discovery listing for one cluster, built once: snapshots never change."""

    def __init__(self, cluster: ClusterSnapshot):
        self._by_path: dict[tuple[str, str, str], Served] = {}
        self._versions: dict[str, list[str]] = {}
        for kind in _all_kinds(cluster):
            self._add(kind, kind.version)
            for version in _stored_versions(cluster, kind):
                self._add(kind, version)
        self.resource_version = _max_resource_version(cluster)

    def _add(self, kind: Kind, version: str) -> None:
        path = (kind.group, version, kind.plural)
        if path not in self._by_path:
            self._by_path[path] = Served(replace(kind, version=version), kind.key)
        versions = self._versions.setdefault(kind.group, [])
        if version not in versions:
            versions.append(version)

    def resolve(self, group: str, version: str, plural: str) -> Served | None:
        return self._by_path.get((group, version, plural))

    def has_group_version(self, group: str, version: str) -> bool:
        return version in self._versions.get(group, [])

    def resources(self, group: str, version: str) -> list[Served]:
        return [s for (g, v, _), s in self._by_path.items() if g == group and v == version]

    def groups(self) -> dict[str, list[str]]:
        """Named API groups (not the core group) → versions, preferred version first."""
        return {g: list(v) for g, v in self._versions.items() if g}

    def core_versions(self) -> list[str]:
        return list(self._versions.get("", []))


def _all_kinds(cluster: ClusterSnapshot) -> list[Kind]:
    kinds = {k.key: k for k in KNOWN_KINDS}
    for key, kind in cluster.kinds.items():
        kinds.setdefault(key, kind)
    return list(kinds.values())


def _stored_versions(cluster: ClusterSnapshot, kind: Kind) -> list[str]:
    versions = []
    for obj in cluster.objects.get(kind.key, []):
        group, version = group_version(str(obj.get("apiVersion", "")))
        if group == kind.group and version and version not in versions:
            versions.append(version)
    return versions


def _max_resource_version(cluster: ClusterSnapshot) -> str:
    """The list resourceVersion: the newest object's, so it looks like the cluster's own."""
    newest = 1
    for objects in cluster.objects.values():
        for obj in objects:
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if rv.isdigit():
                newest = max(newest, int(rv))
    return str(newest)
