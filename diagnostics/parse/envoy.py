"""Endpoints and clusters out of Envoy-shaped JSON, in every casing Istio emits.

istiod's /debug/config_dump speaks protojson camelCase, Envoy's own admin API snake_case, and
`istioctl ... -o json` re-marshals to camelCase again; a parser that knows one casing silently
sees nothing in the others. Every lookup here accepts both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

_CAMEL = re.compile(r"_([a-z])")


@lru_cache(maxsize=512)  # a few dozen field names, asked for every endpoint of a big mesh
def _camel(snake: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), snake)


def field(obj: Any, snake: str, default: Any = None) -> Any:
    """`obj[snake]` or its camelCase twin."""
    if not isinstance(obj, dict):
        return default
    if snake in obj:
        return obj[snake]
    return obj.get(_camel(snake), default)


@dataclass(frozen=True)
class Endpoint:
    """One load-balancing endpoint of one Envoy cluster, as a proxy receives it."""

    address: str
    port: int
    health: str
    priority: int
    locality: str
    weight: int | None
    workload: str | None  # "<name>;<namespace>;<canonical svc>;<rev>;<cluster id>"
    tls_mode: str | None

    @property
    def origin_cluster(self) -> str | None:
        """The cluster id istiod says the endpoint came from (last field of `workload`)."""
        if not self.workload:
            return None
        parts = self.workload.split(";")
        return parts[4] or None if len(parts) >= 5 else None

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}" if self.port else self.address


def outbound_cluster_name(service_fqdn: str, port: int, subset: str = "") -> str:
    return f"outbound|{port}|{subset}|{service_fqdn}"


def _typed_configs(config_dump: Any, type_suffix: str) -> Iterator[dict]:
    for cfg in field(config_dump, "configs", []) or []:
        if isinstance(cfg, dict) and str(cfg.get("@type", "")).endswith(type_suffix):
            yield cfg


def load_assignments(config_dump: Any) -> Iterator[dict]:
    """Every ClusterLoadAssignment in a config_dump (full dump with EDS, or `types=eds`)."""
    for eds in _typed_configs(config_dump, "EndpointsConfigDump"):
        for key in ("dynamic_endpoint_configs", "static_endpoint_configs"):
            for entry in field(eds, key, []) or []:
                cla = field(entry, "endpoint_config")
                if isinstance(cla, dict):
                    yield cla
    yield from _typed_configs(config_dump, "ClusterLoadAssignment")


def _locality(raw: Any) -> str:
    if not isinstance(raw, dict):
        return ""
    parts = [raw.get("region", ""), raw.get("zone", ""), field(raw, "sub_zone", "")]
    return "/".join(parts).rstrip("/")


def endpoints_of(cla: dict) -> Iterator[Endpoint]:
    """The endpoints of one ClusterLoadAssignment."""
    for group in field(cla, "endpoints", []) or []:
        priority = int(group.get("priority", 0) or 0)
        locality = _locality(group.get("locality"))
        for lb in field(group, "lb_endpoints", []) or []:
            address = field(lb.get("endpoint"), "address") or {}
            sock = field(address, "socket_address") or {}
            meta = field(field(lb, "metadata"), "filter_metadata") or {}
            yield Endpoint(
                address=str(sock.get("address") or (address.get("pipe") or {}).get("path", "")),
                port=int(field(sock, "port_value", 0) or 0),
                health=str(field(lb, "health_status", "UNKNOWN") or "UNKNOWN"),
                priority=priority,
                locality=locality,
                weight=_int_or_none(field(lb, "load_balancing_weight")),
                workload=(meta.get("istio") or {}).get("workload"),
                tls_mode=field(meta.get("envoy.transport_socket_match") or {}, "tls_mode"),
            )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, dict):  # some marshallers keep the UInt32Value wrapper
        value = value.get("value")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def eds_endpoints(config_dump: Any, cluster_name: str) -> list[Endpoint] | None:
    """Endpoints sent for one Envoy cluster; None when the dump has no such cluster."""
    for cla in load_assignments(config_dump):
        if field(cla, "cluster_name") == cluster_name:
            return list(endpoints_of(cla))
    return None


def active_clusters(config_dump: Any) -> dict[str, dict]:
    """Envoy clusters (CDS) by name: what istiod would send, with outlier detection etc."""
    out = {}
    for cds in _typed_configs(config_dump, "ClustersConfigDump"):
        for key in ("dynamic_active_clusters", "static_clusters"):
            for entry in field(cds, key, []) or []:
                cluster = entry.get("cluster") if isinstance(entry, dict) else None
                if isinstance(cluster, dict) and cluster.get("name"):
                    out[cluster["name"]] = cluster
    return out
