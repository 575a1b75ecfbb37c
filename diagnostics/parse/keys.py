"""Key lookups that ignore spelling: Go field names, protojson camelCase and snake_case.

istiod's debug bodies mix all three across versions (`cluster_id`, `clusterId`, `ClusterID`);
normalising keys once keeps every parser from guessing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_NON_ALNUM = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=8192)  # a few hundred distinct keys, looked up millions of times in big meshes
def norm_key(key: str) -> str:
    """`cluster_id`, `clusterId`, `ClusterID` → `clusterid`."""
    return _NON_ALNUM.sub("", key.lower())


def keyed(obj: Any) -> dict[str, Any]:
    """`obj`'s values by normalised key (a later spelling of the same key wins), built once per
    object: parsers that read several fields of each of 10,000 syncz entries normalise its keys
    once, not once per field."""
    if not isinstance(obj, dict):
        return {}
    return {norm_key(str(key)): value for key, value in obj.items()}


def pick(view: dict[str, Any], *names: str, skip_empty: bool = False) -> Any:
    """The first of `names` present in a `keyed` view; None if absent (see get_any)."""
    for name in names:
        value = view.get(norm_key(name))
        if value is None or (skip_empty and value == ""):
            continue
        return value
    return None


def get_any(obj: Any, *names: str, skip_empty: bool = False) -> Any:
    """The value of the first of `names` present in `obj` under any spelling; None if absent.

    With `skip_empty`, empty strings count as absent (Go's zero value for a field left unset).
    """
    return pick(keyed(obj), *names, skip_empty=skip_empty)
