"""Knobs for ambient mode (ztunnel, istio-cni, waypoints, the ambient east-west gateway).

A cluster with default `AmbientKnobs` (enabled=False) renders exactly as before. An ambient
cluster is installed as istio.io's "Install ambient multi-primary on different networks"
describes it (istioctl `profile: ambient` plus `AMBIENT_ENABLE_MULTI_NETWORK`, the namespace
`sample` labelled `istio.io/dataplane-mode=ambient`, its Services labelled `istio.io/global=true`,
the east-west gateway made by `samples/multicluster/gen-eastwest-gateway.sh --ambient`); each
knob turns one part of that away. `ambient_objects` and `ambient_ztunnel` render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AUTO = "<auto>"  # the value a correct install would have (the same sentinel as model.AUTO)

#: Address kinds of the ambient east-west gateway's `status.addresses`.
IP, HOSTNAME, PENDING, NONE = "ip", "hostname", "pending", "none"


@dataclass
class WaypointSpec:
    """A waypoint (`istioctl waypoint apply --name waypoint --for service -n sample`)."""

    name: str = "waypoint"
    namespace: str = "sample"
    present: bool = True
    ready: bool = True             # False: its pod is not Ready (Programmed stays True)
    programmed: bool = True        # False: the Gateway is not Programmed (no address)
    global_label: bool = True      # istio.io/global=true on the waypoint's Service


@dataclass
class AmbientEastWestSpec:
    """The ambient east-west gateway: a Gateway of class istio-east-west, HBONE on 15008."""

    present: bool = True
    name: str = "istio-eastwestgateway"
    protocol: str = "HBONE"
    tls_mode: str = "Terminate"
    network_label: str | None = AUTO   # AUTO → the cluster's network; None → no label
    address: str = IP                  # ip | hostname (an AWS-style LB name) | pending | none


@dataclass
class AmbientKnobs:
    enabled: bool = False
    namespaces: tuple[str, ...] = ("sample",)     # labelled istio.io/dataplane-mode=ambient
    multi_network: bool = True         # istiod env AMBIENT_ENABLE_MULTI_NETWORK=true
    ztunnel_network: bool = True       # ztunnel env NETWORK (ztunnel chart value `network`)
    ztunnel_unready_nodes: tuple[int, ...] = ()   # node indexes whose ztunnel crash-loops
    cni_unready_nodes: tuple[int, ...] = ()       # node indexes whose istio-cni agent is down
    not_captured: tuple[str, ...] = ()            # Deployments whose pods were not redirected
    global_services: tuple[str, ...] = ("helloworld", "sleep")  # labelled istio.io/global=true
    waypoint: WaypointSpec | None = None
    waypoint_for: tuple[str, ...] = ()            # Services labelled istio.io/use-waypoint
    eastwest: AmbientEastWestSpec = field(default_factory=AmbientEastWestSpec)


def ambient_namespace(spec, namespace: str) -> bool:
    """Whether a cluster labels `namespace` for ambient mode."""
    return spec.ambient.enabled and namespace in spec.ambient.namespaces
