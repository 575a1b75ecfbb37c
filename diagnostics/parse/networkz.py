"""istiod's `/debug/networkz`: the east-west gateways one replica knows, per network.

The body is `[]model.NetworkGateway` marshalled without json tags, so keys are Go field names:
`Network`, `Cluster`, `Addr`, `Port` in every version, plus `HBONEPort` and `ServiceAccount`
since 1.23 (docs/istio-surface.md §1.3, §8). istiod answers the literal `null` when it knows
no gateway at all, which in sidecar mode means remote endpoints go out as raw pod IPs (§4.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from diagnostics.parse.keys import get_any


def _get(obj: Any, *names: str) -> Any:
    return get_any(obj, *names, skip_empty=True)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class NetworkGateway:
    """One gateway istiod will send clients of other networks to."""

    network: str
    cluster: str
    address: str
    port: int
    hbone_port: int = 0
    service_account: str = ""  # "<namespace>/<name>" when istiod reports one (1.23+)

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}" if self.port else self.address

    def describe(self) -> str:
        hbone = f", HBONE {self.hbone_port}" if self.hbone_port else ""
        return f"{self.network} → {self.target} ({self.cluster}{hbone})"


def _service_account(raw: Any) -> str:
    if isinstance(raw, dict):
        ns, name = _get(raw, "Namespace") or "", _get(raw, "Name") or ""
        return f"{ns}/{name}" if name else ""
    return str(raw or "")


def _gateway(entry: Any) -> NetworkGateway | None:
    address = _get(entry, "Addr", "Address")
    if not address:
        return None
    return NetworkGateway(str(_get(entry, "Network") or ""), str(_get(entry, "Cluster") or ""),
                          str(address), _int(_get(entry, "Port")),
                          _int(_get(entry, "HBONEPort", "hbone_port")),
                          _service_account(_get(entry, "ServiceAccount")))


def parse_networkz(body: Any) -> list[NetworkGateway]:
    """The gateways of a networkz body; `null`, `[]` and a JSON string of either give `[]`."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body) if body.strip() else None
    if isinstance(body, dict):  # tolerate a wrapped form such as {"gateways": [...]}
        body = _get(body, "gateways", "NetworkGateways")
    return [g for g in map(_gateway, body or []) if g is not None] \
        if isinstance(body, list) else []


def networks_known(body: Any) -> set[str]:
    """The networks a replica has at least one gateway for."""
    return {g.network for g in parse_networkz(body) if g.network}
