"""Naming what a proxy receives: which pod or gateway, in which cluster, stands behind an address.

A proxy's endpoint list is addresses; an engineer needs "local pod helloworld-v1 in cluster1"
or "cluster2's east-west gateway". These indexes are built from the objects of every cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from diagnostics import yaml_text
from diagnostics.facts import PodNetworks
from diagnostics.inputs import TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS
from diagnostics.parse.envoy import Endpoint
from diagnostics.workloads import labels_of, name_of, namespace_of, proxy_container

if TYPE_CHECKING:
    from diagnostics.checking import CheckContext

NETWORK_LABEL = "topology.istio.io/network"


@dataclass(frozen=True)
class Where:
    """What stands behind an endpoint address."""

    kind: str  # "pod" | "gateway" | "unknown"
    cluster: str | None
    name: str | None
    network: str | None = None


def target_pod_index(ctx: CheckContext) -> dict[str, Where]:
    """The endpoint pods of the command's namespace in every cluster, by IP: built once per
    diagnosis for the five checks that locate a client's endpoints (10,000 pods a cluster on
    big meshes). Do not change the index returned.

    From the namespace's EndpointSlices (each endpoint's addresses and pod) and its pods'
    network labels (TARGET_POD_NETWORKS), not from whole pods: istiod builds a service's
    endpoints from those slices, so every pod a client can receive is in one."""
    return ctx.derived(("target-pod-index",), (TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS),
                       lambda: pod_index(ctx.available(TARGET_ENDPOINTSLICES),
                                         ctx.available(TARGET_POD_NETWORKS)))


def pod_index(slices_by_cluster: dict[str, list[dict]],
              networks_by_cluster: dict[str, PodNetworks]) -> dict[str, Where]:
    out = {}
    for cluster, slices in slices_by_cluster.items():
        known = networks_by_cluster.get(cluster)
        networks = known.networks if known else {}
        for sl in slices:
            for ep in sl.get("endpoints") or []:
                ref = ep.get("targetRef") or {}
                if ref.get("kind", "Pod") != "Pod" or not ref.get("name"):
                    continue
                name = ref["name"]
                where = Where("pod", cluster, name, networks.get(name))
                for address in ep.get("addresses") or []:
                    out[address] = where
    return out


def gateway_addresses(svc: dict) -> list[str]:
    """External addresses of a Service: load-balancer ingress IPs/hostnames and externalIPs."""
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    addrs = [i.get("ip") or i.get("hostname") for i in
             (status.get("loadBalancer") or {}).get("ingress") or []]
    return [a for a in addrs + list(spec.get("externalIPs") or []) if a]


def is_eastwest_gateway(svc: dict) -> bool:
    """A Service istiod treats as a network gateway: labelled with a network, or named so."""
    labels = labels_of(svc)
    return NETWORK_LABEL in labels or labels.get("istio") == "eastwestgateway" \
        or "eastwest" in name_of(svc)


def gateway_index(services_by_cluster: dict[str, list[dict]]) -> dict[str, Where]:
    out = {}
    for cluster, services in services_by_cluster.items():
        for svc in services:
            if not is_eastwest_gateway(svc):
                continue
            for addr in gateway_addresses(svc):
                out[addr] = Where("gateway", cluster, f"{namespace_of(svc)}/{name_of(svc)}",
                                  labels_of(svc).get(NETWORK_LABEL))
    return out


def locate(ep: Endpoint, pods: dict[str, Where], gateways: dict[str, Where]) -> Where:
    if ep.address in pods:
        return pods[ep.address]
    if ep.address in gateways:
        return gateways[ep.address]
    return Where("unknown", ep.origin_cluster, None)


def endpoint_kind(ep: Endpoint, where: Where, client_cluster: str) -> str:
    """What `describe_endpoint` says of an endpoint but its address and pod: endpoints of one
    kind are counted together in a long list (diagnostics/views/listing.py)."""
    return f"{_what(ep, where, client_cluster, kind=True)}: {_state(ep)}"


def describe_endpoint(ep: Endpoint, where: Where, client_cluster: str) -> str:
    return f"{ep.target} {_what(ep, where, client_cluster, kind=False)}: {_state(ep)}"


def _what(ep: Endpoint, where: Where, client_cluster: str, kind: bool) -> str:
    if where.kind == "pod":
        side = "local" if where.cluster == client_cluster else "remote"
        return f"at {side} pods of {where.cluster}" if kind else \
            f"{side} pod {where.name} ({where.cluster})"
    if where.kind == "gateway":
        return ("at " if kind else "") + f"east-west gateway {where.name} of {where.cluster}"
    origin = f" from {ep.origin_cluster}" if ep.origin_cluster else ""
    return f"at unknown addresses{origin}" if kind else f"unknown address{origin}"


def _state(ep: Endpoint) -> str:
    # Envoy load-balances to UNKNOWN like HEALTHY; istiod sends gateway endpoints without status.
    health = "no health status (used as healthy)" if ep.health == "UNKNOWN" else ep.health
    return health + (f", priority {ep.priority}" if ep.priority else "") \
        + (f", {ep.locality}" if ep.locality else "")


# --- who is who: networks, proxies and install values -------------------------------------------
# Shared by the primary-remote, network and reachability checks (and the commands that reuse
# them): each answers "what does istiod believe about this object" from the object itself.

ISTIO_META_NETWORK = "ISTIO_META_NETWORK"
PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"
CONTROL_PLANE_CLUSTERS = "topology.istio.io/controlPlaneClusters"
INJECTOR_CONFIGMAP = "istio-sidecar-injector"


def looks_like_eastwest_gateway(svc: dict) -> bool:
    """An east-west gateway Service even when its network label is missing: istioctl's
    generator labels it `istio=eastwestgateway`, the Helm chart `istio=eastwest`."""
    return is_eastwest_gateway(svc) or "eastwest" in labels_of(svc).get("istio", "")


def _proxy_metadata(raw: object) -> dict:
    """`proxyMetadata` of a ProxyConfig given as YAML/JSON text (env PROXY_CONFIG, annotation)."""
    try:
        cfg = yaml_text.load(raw) if isinstance(raw, str) else raw
    except yaml.YAMLError:
        return {}
    meta = cfg.get("proxyMetadata") if isinstance(cfg, dict) else None
    return meta if isinstance(meta, dict) else {}


def proxy_env(pod: dict, name: str, mesh_proxy_metadata: dict | None = None) -> str | None:
    """A proxy's environment variable as the agent sees it: the container env, the pod's
    ProxyConfig (env PROXY_CONFIG, annotation proxy.istio.io/config), then the mesh default."""
    container = proxy_container(pod) or {}
    value = proxy_config = None
    for e in container.get("env") or []:  # two names of ~30, on each of 10,000 pods: no dict
        if e.get("name") == name:
            value = e.get("value")  # the last of a repeated name wins, as the kubelet's does
        if e.get("name") == "PROXY_CONFIG":
            proxy_config = e.get("value")
    if value:
        return value
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    for raw in (proxy_config, annotations.get(PROXY_CONFIG_ANNOTATION)):
        value = _proxy_metadata(raw).get(name) if raw else None
        if value:
            return str(value)
    value = (mesh_proxy_metadata or {}).get(name)
    return str(value) if value else None


def injector_values(configmaps: list[dict]) -> dict:
    """The injector's Helm values (`istio-sidecar-injector[-<rev>]` ConfigMap, key `values`):
    network, cluster name, remotePilotAddress, istiodRemote — what the install meant to be."""
    for cm in sorted(configmaps, key=name_of):
        if not name_of(cm).startswith(INJECTOR_CONFIGMAP):
            continue
        try:
            values = json.loads((cm.get("data") or {}).get("values") or "{}")
        except ValueError:
            continue
        if isinstance(values, dict):
            return values
    return {}


def install_value(values: dict, *path: str) -> object:
    """`values[path[0]][path[1]]...`, or None when any step is missing."""
    for key in path:
        if not isinstance(values, dict):
            return None
        values = values.get(key)
    return values


def mesh_config(configmaps: list[dict]) -> dict:
    """The `mesh` document of the `istio[-<rev>]` ConfigMap (meshConfig)."""
    return _configmap_yaml(configmaps, "mesh")


def mesh_networks(configmaps: list[dict]) -> dict:
    """The `meshNetworks` document of the `istio[-<rev>]` ConfigMap (legacy network config)."""
    return _configmap_yaml(configmaps, "meshNetworks")


def _is_mesh_configmap(cm: dict) -> bool:
    """`istio` or a revision's `istio-<rev>`; not the injector's or the root-cert ConfigMap."""
    name = name_of(cm)
    return name == "istio" or (name.startswith("istio-") and not name.startswith(
        (INJECTOR_CONFIGMAP, "istio-ca-root-cert", "istio-leader", "istio-namespace-controller")))


def _configmap_yaml(configmaps: list[dict], key: str) -> dict:
    candidates = sorted((cm for cm in configmaps if _is_mesh_configmap(cm)),
                        key=lambda cm: (name_of(cm) != "istio", name_of(cm)))
    for cm in candidates:
        try:
            doc = yaml_text.load((cm.get("data") or {}).get(key) or "")
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict):
            return doc
    return {}


def registry_networks(mesh_networks_doc: dict) -> dict[str, str]:
    """cluster id → network from meshNetworks `fromRegistry` entries."""
    out = {}
    for net, cfg in ((mesh_networks_doc or {}).get("networks") or {}).items():
        for ep in (cfg or {}).get("endpoints") or []:
            if isinstance(ep, dict) and ep.get("fromRegistry"):
                out[str(ep["fromRegistry"])] = str(net)
    return out


def workload_ref(pod: dict) -> str:
    """The pod's owner as kubectl spells it (`deployment/sleep`), for rollout commands."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    owner = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not owner:
        return f"pod/{name_of(pod)}"
    kind, name = str(owner.get("kind", "")).lower(), str(owner.get("name", ""))
    pod_hash = labels_of(pod).get("pod-template-hash")
    if kind == "replicaset" and pod_hash and name.endswith(f"-{pod_hash}"):
        return f"deployment/{name[:-len(pod_hash) - 1]}"
    return f"{kind}/{name}"


@dataclass(frozen=True)
class RemoteIntent:
    """A cluster installed (or annotated) to be served by another cluster's control plane."""

    cluster: str
    primaries: tuple[str, ...]  # clusters meant to serve it, best guess first (may be empty)
    signs: tuple[str, ...]  # evidence lines: what says it is meant to be a remote


def annotated_control_planes(system_namespace: dict | None) -> list[str] | None:
    """The cluster ids `topology.istio.io/controlPlaneClusters` names (None: no annotation)."""
    annotations = ((system_namespace or {}).get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(CONTROL_PLANE_CLUSTERS)
    return None if raw is None else [v.strip() for v in str(raw).split(",") if v.strip()]


def remote_intent(cluster: str, mesh: list[str], system_namespace: dict | None,
                  values: dict, secrets_held: dict[str, set[str]]) -> RemoteIntent | None:
    """Whether `cluster` is meant to be a remote (primary-remote or external control plane).

    Only the install's own statements count: the `controlPlaneClusters` annotation on its system
    namespace naming another cluster (or `*`), or injector values of the remote profile
    (`istiodRemote.enabled`, `remotePilotAddress`). A peer holding the cluster's remote secret
    is true of multi-primary meshes too, so it only names the primary. A cluster whose own istiod
    holds remote secrets for those control planes is wired as a primary and is not a remote.
    `secrets_held` maps each cluster to the keys of its `istio/multiCluster` secrets.
    """
    signs: list[str] = []
    named = annotated_control_planes(system_namespace)
    others = [c for c in mesh if c != cluster]
    primaries = [c for c in (named or []) if c in others]
    if named and (primaries or "*" in named):
        ns = ((system_namespace or {}).get("metadata") or {}).get("name", "")
        signs.append(f"namespace {ns} is annotated {CONTROL_PLANE_CLUSTERS}={','.join(named)}")
    remote_values = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (
        ("istiodRemote.enabled", install_value(values, "istiodRemote", "enabled")),
        ("global.remotePilotAddress", install_value(values, "global", "remotePilotAddress")))
        if v not in (None, "", False)]
    if remote_values:
        signs.append("injector values of the remote profile: " + ", ".join(remote_values))
    if not signs:
        return None
    holders = [c for c in others if cluster in secrets_held.get(c, set())]
    primaries += [c for c in holders if c not in primaries]
    if primaries and all(p in secrets_held.get(cluster, set()) for p in primaries):
        return None  # it reads its control planes' clusters itself: a primary among primaries
    signs += [f"{c} holds a remote secret for {cluster}" for c in holders]
    return RemoteIntent(cluster, tuple(primaries), tuple(signs))
