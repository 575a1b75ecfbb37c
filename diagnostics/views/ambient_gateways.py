"""The ambient east-west gateway as istiod judges it, and what istiod and ztunnel say about a
network's gateway at runtime.

A peer istiod turns a Gateway into a network's ambient gateway only when it has class
`istio-east-west`, the `topology.istio.io/network` label, an address of type IPAddress or
Hostname in `status.addresses`, and a listener with protocol HBONE and TLS mode Terminate
(istio/istio pilot/pkg/serviceregistry/ambient/networks.go remoteK8sGatewayToNetworkGateways);
anything else is skipped without a word. At runtime istiod logs `No network gateway found for
network <net>` (ambient/multicluster.go) and ztunnel fails requests with `unknown network
gateway` or `no valid routing destination for workload` (istio/ztunnel src/state.rs,
src/proxy/outbound.rs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diagnostics.facts import PerReplica, ZtunnelFact
from diagnostics.parse.log_framing import parse_log
from diagnostics.parse.ztunnel import log_errors, parse_dump
from diagnostics.views.ambient import EASTWEST_CLASS, GATEWAY_NAME, class_of, programmed
from diagnostics.views.gateways import describe_gateway
from diagnostics.views.mesh import NETWORK_LABEL, gateway_addresses
from diagnostics.workloads import labels_of, name_of, namespace_of

HBONE = "HBONE"
NO_GATEWAY = re.compile(r"No network gateway found for network (\S+)")


def is_ambient_eastwest(svc: dict) -> bool:
    """A Service Istio made for an istio-east-west Gateway (or a waypoint): no sidecar-mode
    (15443) east-west gateway, whatever its network label says."""
    labels = labels_of(svc)
    return labels.get("gateway.networking.k8s.io/gateway-class-name") in (EASTWEST_CLASS,
                                                                           "istio-waypoint") \
        or labels.get("gateway.istio.io/managed") in ("istio.io-eastwest-controller",
                                                       "istio.io-mesh-controller")


def ambient_eastwest_gateways(gateways: list[dict]) -> list[dict]:
    return [g for g in gateways if class_of(g) == EASTWEST_CLASS]


def service_of(gw: dict, services: list[dict]) -> dict | None:
    """The Service Istio's controller made for the Gateway (named like it, labelled with it)."""
    return next((s for s in services if namespace_of(s) == namespace_of(gw)
                 and labels_of(s).get(GATEWAY_NAME) == name_of(gw)), None)


def _cluster_ip(svc: dict | None) -> str | None:
    return ((svc or {}).get("spec") or {}).get("clusterIP")


@dataclass
class GatewayJudgement:
    """What a peer istiod would make of one ambient east-west Gateway."""

    gateway: dict
    problems: list[str] = field(default_factory=list)
    pending: bool = False  # only address is the ClusterIP: the LoadBalancer has none
    lines: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems and not self.pending


def judge(gw: dict, network: str | None, svc: dict | None, cluster: str) -> GatewayJudgement:
    """Check one istio-east-west Gateway the way remoteK8sGatewayToNetworkGateways does."""
    out = GatewayJudgement(gw)
    ref = f"Gateway {namespace_of(gw)}/{name_of(gw)} in {cluster} (class {class_of(gw)})"
    label = labels_of(gw).get(NETWORK_LABEL)
    if not label:
        out.problems.append(f"no {NETWORK_LABEL} label")
    elif network and label != network:
        out.problems.append(f"label {NETWORK_LABEL}={label}, but its cluster is on {network}")
    listeners = [lst for lst in (gw.get("spec") or {}).get("listeners") or []
                 if isinstance(lst, dict)]
    hbone = [lst for lst in listeners if lst.get("protocol") == HBONE]
    terminate = [lst for lst in hbone if (lst.get("tls") or {}).get("mode") == "Terminate"]
    if not hbone:
        shown = ", ".join(f"{lst.get('name')} {lst.get('protocol')}/{lst.get('port')}"
                          for lst in listeners) or "none"
        out.problems.append(f"no HBONE listener (listeners: {shown})")
    elif not terminate:
        mode = (hbone[0].get("tls") or {}).get("mode") or "unset"
        out.problems.append(f"HBONE listener {hbone[0].get('name')} has TLS mode {mode}, "
                            "not Terminate")
    addresses = [a for a in (gw.get("status") or {}).get("addresses") or []
                 if isinstance(a, dict) and a.get("type") in ("IPAddress", "Hostname")]
    ok, condition = programmed(gw)
    if not addresses:
        out.problems.append(f"no address in status.addresses ({condition})")
    elif svc is not None and not gateway_addresses(svc) and \
            all(a.get("value") == _cluster_ip(svc) for a in addresses):
        out.pending = True
    shown = ", ".join(f"{a.get('type')} {a.get('value')}" for a in addresses) or "none"
    out.lines.append(f"{ref}: {NETWORK_LABEL}={label or '(missing)'}, listeners "
                     + (", ".join(f"{lst.get('name')} {lst.get('protocol')}/{lst.get('port')} "
                                  f"TLS {(lst.get('tls') or {}).get('mode', '-')}"
                                  for lst in listeners) or "none")
                     + f", status.addresses {shown}, {condition}")
    return out


def gateway_findings(ctx, cluster: str, gw: dict, network: str, svc: dict | None,
                     evidence: list[str], seen: list[str]) -> list:
    """The findings one ambient east-west Gateway earns (the calling check declares and emits
    `ambient-eastwest-gateway-invalid` and `eastwest-gateway-pending`); `seen` (what istiod and
    the clients show) backs each one."""
    judged = judge(gw, network, svc, cluster)
    evidence += judged.lines
    if judged.problems:
        return [ctx.finding("ambient-eastwest-gateway-invalid", cluster=cluster,
                            resource=f"Gateway {namespace_of(gw)}/{name_of(gw)}",
                            evidence=judged.lines + seen, gateway=name_of(gw),
                            istio_namespace=namespace_of(gw), network=network,
                            problems="; ".join(judged.problems))]
    if judged.pending and svc is not None:
        line = describe_gateway(svc, cluster)
        evidence.append(line)
        return [ctx.finding("eastwest-gateway-pending", cluster=cluster,
                            resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                            evidence=[line, *judged.lines, *seen], basis=[line],
                            gateway=name_of(svc), istio_namespace=namespace_of(svc),
                            network=network)]
    return []


# --- runtime --------------------------------------------------------------------------------


def istiod_missing_networks(logs: PerReplica | None) -> dict[str, list[str]]:
    """network → the lines where istiod said it found no gateway for it."""
    out: dict[str, list[str]] = {}
    for replica, text in (logs.values.items() if logs else ()):
        for rec in parse_log(text or ""):
            match = NO_GATEWAY.search(rec.msg)
            if match:
                out.setdefault(match.group(1).rstrip('",'), []).append(
                    f"istiod {replica} at {rec.time}: {rec.msg.strip()[:300]}")
    return out


def ztunnel_gateway_errors(facts: dict[str, ZtunnelFact]) -> list[str]:
    """A client ztunnel's log lines that say a network gateway cannot be used."""
    lines = []
    for fact in facts.values():
        if fact.missing or not isinstance(fact.value, str):
            continue
        errors = [e for e in log_errors(fact.value) if e.kind == "gateway"]
        if errors:
            who = name_of(fact.ztunnel or {}) or "ztunnel"
            lines.append(f"{who} (client {name_of(fact.pod)}): {len(errors)} × {errors[-1].text}")
    return lines


def received_networks(facts: dict[str, ZtunnelFact], service: str, namespace: str
                      ) -> dict[str, list[str]]:
    """network → how the client's ztunnel reaches the service's workloads there."""
    out: dict[str, list[str]] = {}
    for fact in facts.values():
        if fact.missing:
            continue
        dump = parse_dump(fact.value)
        svc = next((s for s in dump.services if s.name == service and s.namespace == namespace),
                   None)
        for w in dump.endpoints_of(svc) if svc else []:
            out.setdefault(w.network, []).append(w.describe())
    return out
