"""Remote secrets as istiod reads them: which Secrets are remote or config-type, their keys,
the peer a secret was made for, and what the install says about being a remote."""

from __future__ import annotations

from diagnostics.checking import CheckContext
from diagnostics.inputs import ISTIO_CONFIGMAPS, ISTIO_SECRETS, NAMESPACES
from diagnostics.views.mesh import RemoteIntent, injector_values, install_value, remote_intent
from diagnostics.workloads import labels_of, name_of


MULTICLUSTER_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"


def is_remote_secret(secret: dict) -> bool:
    return labels_of(secret).get(MULTICLUSTER_LABEL) == "true"


def secret_keys(secret: dict) -> list[str]:
    return sorted(set(secret.get("data") or {}) | set(secret.get("stringData") or {}))


CONFIG_SECRET, CONFIG_KEY = "istio-kubeconfig", "config"


def is_config_secret(secret: dict) -> bool:
    """The config-type secret of an external control plane (`create-remote-secret --type=config`):
    it names the cluster istiod reads as its own (config) cluster, not a remote one."""
    return name_of(secret) == CONFIG_SECRET or secret_keys(secret) == [CONFIG_KEY]


def meant_for(secret: dict, peer: str) -> bool:
    """Whether a secret was evidently created for `peer` (istioctl's name or annotation)."""
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return annotations.get(CLUSTER_ANNOTATION) == peer or \
        name_of(secret) == f"istio-remote-secret-{peer}"


def made_for(secret: dict) -> str | None:
    """The cluster id a remote secret was created for, where it says so: its annotation
    (`networking.istio.io/cluster`), else istioctl's name `istio-remote-secret-<id>`."""
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CLUSTER_ANNOTATION):
        return str(annotations[CLUSTER_ANNOTATION])
    name = name_of(secret)
    return name.removeprefix("istio-remote-secret-") if name.startswith("istio-remote-secret-") \
        else None


def secrets_held(ctx: CheckContext) -> dict[str, set[str]]:
    """Each readable cluster → the keys of its labelled secrets (the clusters its istiod reads)."""
    return {c: {k for s in secrets if is_remote_secret(s) for k in secret_keys(s)}
            for c, secrets in ctx.available(ISTIO_SECRETS).items()}


def remote_intent_of(ctx: CheckContext, cluster: str) -> RemoteIntent | None:
    """Whether the cluster's install says it is a remote (see mesh_view.remote_intent); callers
    declare NAMESPACES, ISTIO_CONFIGMAPS and ISTIO_SECRETS. Unreadable inputs count as silent."""
    istio_ns = ctx.info(cluster).istio_namespace
    namespace = next((n for n in ctx.available(NAMESPACES).get(cluster, [])
                      if name_of(n) == istio_ns), None)
    values = injector_values(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    return remote_intent(cluster, ctx.cluster_names, namespace, values, secrets_held(ctx))


def config_cluster_of(ctx: CheckContext, host: str, secrets: list[dict],
                      istiod_pods: list[dict]) -> tuple[str, dict] | None:
    """(cluster, secret) when the istiod in `host` reads a cluster of the mesh as its config
    cluster through a config-type secret: named by istiod's CLUSTER_ID or the secret's
    annotation, as a cluster name or an install's clusterName. Callers declare ISTIO_CONFIGMAPS."""
    secret = next((s for s in secrets if is_config_secret(s)), None)
    if secret is None:
        return None
    ids = [str(e.get("value")) for p in istiod_pods[:1]
           for c in (p.get("spec") or {}).get("containers") or [] if c.get("name") == "discovery"
           for e in c.get("env") or [] if e.get("name") == "CLUSTER_ID"]
    ids.append(((secret.get("metadata") or {}).get("annotations") or {}).get(CLUSTER_ANNOTATION))
    installs = ctx.available(ISTIO_CONFIGMAPS)
    for cid in filter(None, ids):
        if cid in ctx.cluster_names and cid != host:
            return cid, secret
        named = [c for c, cms in installs.items() if c != host and install_value(
            injector_values(cms), "global", "multiCluster", "clusterName") == cid]
        if named:
            return named[0], secret
    return None
