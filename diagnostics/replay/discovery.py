"""API discovery documents: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`.

kubectl and client-go resolve `get pods` to a URL through these documents, so their shape follows
the API server's exactly. Every resource is advertised with the verbs `get` and `list` only: the
snapshot is read-only, and advertising `watch` would invite clients to wait for events that never
come.
"""

from __future__ import annotations

import platform

from diagnostics.replay.resources import ResourceIndex, Served
from diagnostics.snapshot import ClusterSnapshot

READ_VERBS = ["get", "list"]
_FALLBACK_VERSION = "v1.30.0"

# Subresources the replay server answers, advertised under /api/v1 as the API server does.
_POD_SUBRESOURCES = (
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "pods/portforward", "singularName": "", "namespaced": True,
     "kind": "PodPortForwardOptions", "verbs": ["get"]},
)


def version_info(cluster: ClusterSnapshot) -> dict:
    """version.Info of the captured cluster, taken from its nodes' kubelet when it was captured."""
    git_version = _kubelet_version(cluster) or _FALLBACK_VERSION
    major, minor = (git_version.lstrip("v").split(".") + ["0", "0"])[:2]
    return {"major": major, "minor": minor, "gitVersion": git_version, "gitCommit": "",
            "gitTreeState": "clean", "buildDate": "", "goVersion": "",
            "compiler": "gc", "platform": f"linux/{_arch()}"}


def _kubelet_version(cluster: ClusterSnapshot) -> str | None:
    for node in cluster.objects.get("nodes", []):
        version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")
        if version:
            return str(version)
    return None


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine or "amd64")


def api_versions(index: ResourceIndex, server_address: str) -> dict:
    """`/api`: the core group's versions."""
    return {"kind": "APIVersions", "versions": index.core_versions(),
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def api_group_list(index: ResourceIndex) -> dict:
    """`/apis`: every named group with its versions, preferred (first registered) first."""
    groups = []
    for group, versions in index.groups().items():
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(index: ResourceIndex, group: str, version: str) -> dict:
    """`/api/v1` or `/apis/<group>/<version>`: the resources of one group version."""
    resources = [_resource_entry(s) for s in index.resources(group, version)]
    if not group:
        resources.extend(dict(sub) for sub in _POD_SUBRESOURCES)
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


def _resource_entry(served: Served) -> dict:
    kind = served.kind
    entry = {"name": kind.plural, "singularName": kind.singular, "namespaced": kind.namespaced,
             "kind": kind.kind, "verbs": list(READ_VERBS)}
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    return entry
