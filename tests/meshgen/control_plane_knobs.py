"""Knobs for a cluster's control plane (the `control-plane` and `remote-clusters` faults).

Plain data plus pure helpers on a ClusterSpec, with defaults that change nothing: a cluster
with default `ControlPlaneKnobs` renders exactly as before. `control_plane_faults` turns them
into objects; `topology` and `istiod_view` ask the helpers here which istiod replicas serve and
which cluster id each istiod and proxy uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IstiodFault = Literal["pending", "crashloop", "oomkilled"]
WebhookState = Literal["ok", "absent", "dangling"]
SLASH = "--slash--"


@dataclass
class ControlPlaneKnobs:
    # The Istio cluster id (istiod CLUSTER_ID, values clusterName) when it is not the cluster's
    # name: a copy-pasted clusterName (collision), or an id with a `/`. A cluster hosting an
    # external istiod carries its config cluster's id here (the external istiod's CLUSTER_ID).
    istio_id: str | None = None
    # This cluster runs an external istiod (EXTERNAL_ISTIOD=true) whose config cluster is the
    # named cluster, read through the config-type secret istio-kubeconfig.
    external_for: str | None = None
    istiod_fault: IstiodFault | None = None   # one istiod replica does not serve
    istiod_fault_replica: int = -1            # which replica (index into the Deployment's pods)
    injection_webhook: WebhookState = "ok"    # absent, or left pointing at a removed revision
    validation_webhook: WebhookState = "ok"
    control_plane_annotation: bool = True     # remote: controlPlaneClusters on its namespace
    # A revisioned install (`--set revision=1-28-1`): istiod-<rev>, istio-<rev> and
    # istio-sidecar-injector-<rev> ConfigMaps, webhooks per revision, namespaces labelled
    # istio.io/rev=<rev>, and the `default` revision tag pointing at it (istioctl tag set).
    revision: str | None = None
    # external control plane: the auth its config-type secret's kubeconfig uses (token, or a
    # method istiod refuses, such as exec)
    config_secret_auth: str = "token"
    slash_escaped: bool = True                # remote: `/` in its id written --slash-- in the URL


def revision(spec) -> str:
    """The install's revision as it labels things (`istio.io/rev`): `default` when unset."""
    return spec.cp.revision or "default"


def rev_suffix(spec) -> str:
    """`-<rev>` for a revisioned install's object names (istiod-<rev>), else ``."""
    return f"-{spec.cp.revision}" if spec.cp.revision else ""


def istiod_host(spec) -> str:
    return f"istiod{rev_suffix(spec)}.istio-system.svc"


def cluster_id(spec) -> str:
    """The id this cluster's istiod and install use (CLUSTER_ID, clusterName)."""
    return spec.cp.istio_id or spec.id


def injection_path(spec) -> str:
    """The injection path of a remote install: `/inject/cluster/<id>/net/<network>`."""
    cid = cluster_id(spec)
    if spec.cp.slash_escaped:
        cid = cid.replace("/", SLASH)
    return f"/inject/cluster/{cid}/net/{spec.network.replace('/', SLASH)}"


def inject_env(path: str) -> dict[str, str]:
    """The env the injector derives from an injection path (`parseInjectEnvs`): key/value
    segments, `--slash--` decoded in values, an odd last key dropped."""
    parts = path.rstrip("/").split("/", 2)
    if len(parts) < 3:
        return {}
    segments = parts[2].split("/")
    env = {}
    for i in range(0, len(segments) - 1, 2):
        key = {"cluster": "ISTIO_META_CLUSTER_ID", "net": "ISTIO_META_NETWORK"}.get(
            segments[i], segments[i].upper())
        env[key] = segments[i + 1].replace(SLASH, "/")
    return env


def is_remote_install(spec) -> bool:
    return spec.role == "remote" and not spec.local_istiod


def proxy_cluster_id(spec) -> str:
    """The ISTIO_META_CLUSTER_ID injected proxies of the cluster carry."""
    if spec.cp.external_for:
        return spec.id  # its own gateways belong to another (unexamined) control plane
    if is_remote_install(spec):
        return inject_env(injection_path(spec)).get("ISTIO_META_CLUSTER_ID", "")
    return cluster_id(spec)


def faulty_istiod(spec, pods: list) -> object | None:
    """The istiod pod that does not serve, if the cluster has an istiod fault."""
    if not spec.cp.istiod_fault:
        return None
    mine = [p for p in pods if p.role == "istiod"]
    return mine[spec.cp.istiod_fault_replica] if mine else None


def mark_istiod_faults(spec, pods: list) -> list:
    """A faulty istiod pod is not Ready, so it gets no proxies; a Pending one has no address."""
    bad = faulty_istiod(spec, pods)
    if bad is not None:
        bad.ready = bad.app_ready = False
        if spec.cp.istiod_fault == "pending":
            bad.ip = ""
    return pods
