"""`GET /api/v1/namespaces/<ns>/pods/<pod>/log`: container logs from `logs/<ns>/<pod>/<c>.log`,
and with `previous=true` (the run before the last restart) from `<c>.previous.log`.

The container is resolved and validated the way the API server does (with its error wording,
which kubectl shows as is). A container whose log file is absent answers 404 "not captured",
never an empty body: a reader must be able to tell "the container logged nothing" from "the
snapshot did not record it".
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnostics.replay.responses import bad_request, not_captured
from diagnostics.snapshot import ClusterSnapshot, read_tail


def _names(containers: list[dict] | None) -> list[str]:
    return [str(c.get("name")) for c in containers or [] if c.get("name")]


def _go_list(names: list[str]) -> str:
    """Go's %v of a []string, which the API server's messages embed."""
    return "[" + " ".join(names) + "]"


def resolve_container(pod: dict, requested: str | None) -> str:
    """The container a log request is for; 400 with the API server's message when ambiguous."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    containers, inits = _names(spec.get("containers")), _names(spec.get("initContainers"))
    if not requested:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: " \
                  f"{_go_list(containers)}"
        if inits:
            message += f" or one of the init containers: {_go_list(inits)}"
        raise bad_request(message)
    if requested not in containers + inits + _names(spec.get("ephemeralContainers")):
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def read_log(cluster: ClusterSnapshot, pod: dict, query: Mapping[str, str]) -> bytes:
    """The log body for a pod, honouring `container`, `previous`, `tailLines` and `limitBytes`."""
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    container = resolve_container(pod, query.get("container"))
    previous = query.get("previous") in ("true", "1")
    path = cluster.log_file(ns, name, container, previous)
    if not path.is_file():
        which = "previous log" if previous else "log"
        raise not_captured(f"the {which} of container {container} in pod {ns}/{name}")
    data = read_tail(path, _non_negative(query, "tailLines"))  # bounded: never the whole file
    limit = _non_negative(query, "limitBytes")
    return data[:limit] if limit else data


def _non_negative(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid {key} {raw!r}: not an integer") from None
    if value < 0:
        raise bad_request(f"{key}: Invalid value: {value}: must be greater than or equal to 0")
    return value
