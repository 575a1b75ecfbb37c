"""Parsing Kubernetes API paths into what they address.

The API server's URL grammar is small and regular; parsing it once into a `ResourcePath` keeps
the handlers free of string slicing and makes the ambiguous cases explicit (documented below).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourcePath:
    """`/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]`.

    `plural` is None for the group-version discovery document itself.
    """

    group: str
    version: str
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_api_path(path: str) -> ResourcePath | None:
    """Parse an `/api/v1/...` or `/apis/<g>/<v>/...` path; None when it is not one.

    `/api/v1/namespaces/<ns>/<plural>` is read as a namespaced list (not as a subresource of the
    Namespace object), which is what every client of this server means by it.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    return _parse_rest(group, version, rest)


def _parse_rest(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    if not rest:
        return ResourcePath(group, version)
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    else:
        ns = None
    if len(rest) > 3:
        return None
    plural, name, sub = (rest + [None, None])[:3]
    return ResourcePath(group, version, plural, ns, name, sub)
