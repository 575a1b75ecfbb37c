"""ztunnel's admin `GET /config_dump` (port 15000) and its log, as every version prints them.

The dump is ztunnel's `ConfigDump` (istio/ztunnel src/admin.rs): its proxy state flattened
(`workloads`, `services`, `policies`, `stagedServices`), `config` (ztunnel's own settings:
`network`, `clusterId`, `localNode`, `xdsAddress`), `version` (`istioVersion`), `certificates`
and, from the in-pod workload manager, `workloadState` keyed by pod UID (src/inpod/admin.rs):
the pods ztunnel has set up a proxy for. Since ztunnel 1.23 (istio/ztunnel#1083) `workloads`
and `services` are lists; 1.22 (istio/ztunnel#923) printed them as maps keyed by
`<network>/<address>`; before that the stores were flattened under their internal names
(`by_uid`, `by_addr`, `by_vip`, `by_host`). All of them read the same here, as istioctl's
`unmarshalListOrMap` reads them (istioctl/pkg/writer/ztunnel/configdump/configdump.go).

A workload's `networkGateway`/`waypoint` is a `GatewayAddress` serialized as
`{"destination": "<network>/<ip>" | "<namespace>/<hostname>", "hboneMtlsPort": 15008}`
(src/state/workload.rs). A remote network's workloads of a global service reach a client as one
coalesced "split horizon" workload whose uid is `<network>/SplitHorizonWorkload/<gateway>/<svc>`
(istio/istio pilot/pkg/serviceregistry/ambient/helpers.go).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from diagnostics.parse.keys import get_any

SPLIT_HORIZON = "/SplitHorizonWorkload/"


def _list_or_map(value: Any) -> list[dict]:
    """A store printed as a list (1.23+) or as a map of objects (1.22 and older)."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        out: list[dict] = []
        for v in value.values():
            if isinstance(v, dict):
                out.append(v)
            elif isinstance(v, list):  # by_host: hostname -> [service, ...]
                out += [x for x in v if isinstance(x, dict)]
        return out
    return []


@dataclass(frozen=True)
class GatewayRef:
    """Where ztunnel sends traffic for a workload: its network gateway or its waypoint."""

    destination: str  # `<network>/<ip>` or `<namespace>/<hostname>`
    port: int | None = None

    @property
    def target(self) -> str:
        """The address or hostname, without its network or namespace."""
        return self.destination.split("/", 1)[-1]

    @property
    def is_address(self) -> bool:
        return bool(re.fullmatch(r"[0-9a-fA-F:.]+", self.target))

    def describe(self) -> str:
        return f"{self.destination}:{self.port}" if self.port else self.destination


def _text_address(raw: object) -> str:
    """An address as ztunnel prints it, or as istiod's ambientz does: the base64 of the
    address's text (pilot/pkg/xds/debug.go ambientz)."""
    text = str(raw or "")
    if text and not re.fullmatch(r"[0-9a-fA-F:.]+", text):
        try:
            decoded = base64.b64decode(text, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return text
        return decoded if re.fullmatch(r"[0-9a-fA-F:.]+", decoded) else text
    return text


def _gateway(raw: Any) -> GatewayRef | None:
    if not isinstance(raw, dict):
        return None
    dest = get_any(raw, "destination")
    if dest is None and (raw.get("address") or raw.get("hostname")):
        dest = raw  # protojson inlines the oneof (istiod's ambientz)
    if isinstance(dest, dict):
        host = dest.get("hostname") or {}
        addr = dest.get("address") or {}
        dest = (f"{host.get('namespace', '')}/{host.get('hostname', '')}" if host
                else f"{addr.get('network', '')}/{_text_address(addr.get('address'))}")
    port = get_any(raw, "hboneMtlsPort", "port")
    return GatewayRef(str(dest or ""), int(port) if isinstance(port, int) else None)


@dataclass(frozen=True)
class Workload:
    """One workload as ztunnel knows it."""

    uid: str
    name: str
    namespace: str
    addresses: tuple[str, ...]
    network: str = ""
    cluster_id: str = ""
    node: str = ""
    status: str = ""
    protocol: str = ""
    services: tuple[str, ...] = ()  # `<namespace>/<hostname>` (1.23+)
    network_gateway: GatewayRef | None = None
    waypoint: GatewayRef | None = None

    @property
    def split_horizon(self) -> bool:
        """The stand-in istiod sends for a remote network's workloads of a global service."""
        return SPLIT_HORIZON in self.uid

    @property
    def healthy(self) -> bool:
        return self.status.lower() != "unhealthy"

    def describe(self) -> str:
        where = f"network {self.network or '(none)'}, cluster {self.cluster_id or '?'}"
        if self.split_horizon:
            via = self.network_gateway.describe() if self.network_gateway else "no gateway"
            return f"{where}'s workloads through its east-west gateway {via}"
        addr = ", ".join(self.addresses) or "no address"
        gw = f", via {self.network_gateway.describe()}" if self.network_gateway else ""
        state = "" if self.healthy else ", Unhealthy"
        return f"{self.name or self.uid} {addr} ({where}{gw}{state})"


def _workload(raw: dict) -> Workload:
    addrs = get_any(raw, "workloadIps", "addresses") or []
    services = get_any(raw, "services") or []
    return Workload(
        uid=str(get_any(raw, "uid") or ""), name=str(get_any(raw, "name") or ""),
        namespace=str(get_any(raw, "namespace") or ""),
        addresses=tuple(_text_address(a) for a in addrs if isinstance(a, str)),
        network=str(get_any(raw, "network") or ""),
        cluster_id=str(get_any(raw, "clusterId") or ""),
        node=str(get_any(raw, "node") or ""), status=str(get_any(raw, "status") or ""),
        protocol=str(get_any(raw, "protocol", "tunnelProtocol") or ""),
        services=tuple(str(s) for s in services if isinstance(s, str)),  # a list, or the
        # keys of istiod's map<string, PortList> (ambientz)
        network_gateway=_gateway(get_any(raw, "networkGateway")),
        waypoint=_gateway(get_any(raw, "waypoint")))


@dataclass(frozen=True)
class Service:
    """One service as ztunnel knows it: its endpoints (workload uids), waypoint, balancing."""

    name: str
    namespace: str
    hostname: str
    vips: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    waypoint: GatewayRef | None = None
    lb_mode: str = ""  # Standard | Strict | Failover | Passthrough ("" when unset)
    lb_scopes: tuple[str, ...] = ()  # routing preferences: Network, Region, Zone, ...

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.hostname}"


def _service(raw: dict) -> Service:
    endpoints = get_any(raw, "endpoints") or {}
    uids = []
    for key, ep in (endpoints.items() if isinstance(endpoints, dict) else []):
        uid = get_any(ep, "workloadUid") if isinstance(ep, dict) else None
        uids.append(str(uid or str(key).split(":/", 1)[0]))
    lb = get_any(raw, "loadBalancer", "loadBalancing") or {}
    scopes = get_any(lb, "routingPreferences", "routingPreference") or []
    return Service(
        name=str(get_any(raw, "name") or ""), namespace=str(get_any(raw, "namespace") or ""),
        hostname=str(get_any(raw, "hostname") or ""),
        vips=tuple(str(v) for v in (get_any(raw, "vips", "addresses") or [])
                   if isinstance(v, str)),
        endpoints=tuple(sorted(uids)), waypoint=_gateway(get_any(raw, "waypoint")),
        lb_mode=str(get_any(lb, "mode") or ""),
        lb_scopes=tuple(str(s) for s in scopes if isinstance(s, str)))


@dataclass
class ZtunnelDump:
    """What one ztunnel holds: workloads, services, the pods it proxies, its own settings."""

    workloads: list[Workload] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    workload_state: dict[str, dict] = field(default_factory=dict)  # pod UID -> {state, info}
    network: str | None = None  # `config.network`; None when the dump has no config
    cluster_id: str | None = None
    version: str | None = None

    def service(self, hostname: str, namespace: str) -> Service | None:
        return next((s for s in self.services if s.hostname == hostname
                     and s.namespace == namespace), None)

    def endpoints_of(self, svc: Service) -> list[Workload]:
        """The service's workloads: its endpoints, and workloads that name it (1.23+)."""
        uids = set(svc.endpoints)
        return [w for w in self.workloads if w.uid in uids or svc.key in w.services]

    def proxies(self, pod_uid: str) -> str | None:
        """ztunnel's state for the pod (`Up`, `Pending`), None when it proxies no such pod."""
        entry = self.workload_state.get(pod_uid)
        if entry is None:
            return None
        return str(get_any(entry, "state") or "Up") if isinstance(entry, dict) else "Up"


def parse_dump(body: Any) -> ZtunnelDump:
    """A ztunnel config dump in any of its printed shapes; unknown keys are ignored."""
    if not isinstance(body, dict):
        return ZtunnelDump()
    workloads = _list_or_map(get_any(body, "workloads"))
    if not workloads:
        workloads = _list_or_map(get_any(body, "by_uid")) or _list_or_map(get_any(body, "by_addr"))
    services = _list_or_map(get_any(body, "services"))
    if not services:
        services = _list_or_map(get_any(body, "by_host")) or _list_or_map(get_any(body, "by_vip"))
    config = get_any(body, "config")
    version = get_any(body, "version")
    state = get_any(body, "workloadState")
    dump = ZtunnelDump(
        workloads=_unique(_workload(w) for w in workloads),
        services=_unique(_service(s) for s in services),
        workload_state={str(k): v for k, v in state.items()} if isinstance(state, dict) else {})
    if isinstance(config, dict):
        dump.network = str(get_any(config, "network") or "")
        dump.cluster_id = str(get_any(config, "clusterId") or "") or None
    if isinstance(version, dict):
        dump.version = str(get_any(version, "istioVersion", "version") or "") or None
    return dump


def _unique(items) -> list:
    """A map keyed by address lists a dual-stack workload twice: keep one of each."""
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# --- the log -------------------------------------------------------------------------------

#: What ztunnel's errors mean for a client's cross-cluster traffic (istio/ztunnel src/proxy.rs
#: `Error` display strings, src/xds/client.rs), most specific first.
LOG_KINDS: tuple[tuple[str, str], ...] = (
    ("unknown network gateway", "gateway"),
    ("no gateway address", "gateway"),
    ("no valid routing destination for workload", "gateway"),
    ("unknown waypoint", "waypoint"),
    ("no service or workload for hostname", "hostname"),
    ("no healthy upstream", "upstream"),
    ("maybe a networkpolicy is blocking hbone port 15008", "connect"),
    # Not `XDS client error: ... retrying`: ztunnel logs that on the stream istiod closes every
    # 30 minutes to rebalance (istio/ztunnel#400), no sign of trouble.
    ("xds client connection error", "xds"),
)
_QUOTED_ERROR = re.compile(r'error="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class LogError:
    """One line of a ztunnel log that reports a failure of one of the kinds above."""

    kind: str  # gateway | waypoint | hostname | upstream | connect | xds
    text: str  # the error itself (the `error=` field, else the line)
    line: str


def _error_text(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return str(obj.get("error") or obj.get("message") or obj.get("msg") or stripped)
    match = _QUOTED_ERROR.search(line)
    return match.group(1).replace('\\"', '"') if match else stripped


def log_errors(text: str) -> list[LogError]:
    """The failure lines of a ztunnel log (plain `tracing` text, Istio's tab-separated framing,
    JSON, or a message pasted alone), classified by what they say about routing. The phrases
    are ztunnel's error texts, which appear on failure lines only."""
    out = []
    for line in (text or "").splitlines():
        lowered = line.lower()
        for phrase, kind in LOG_KINDS:
            if phrase in lowered:
                out.append(LogError(kind, _error_text(line), line.strip()))
                break
    return out
