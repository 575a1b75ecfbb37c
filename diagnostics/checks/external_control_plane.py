"""`control-plane` step 3: how external (and primary-remote) control planes are wired.

An external istiod (`EXTERNAL_ISTIOD=true`) runs in one cluster and serves others
(docs/istio-surface.md §3.1, §4.4; the external control plane install guide):

- its config cluster is read through the config-type secret `istio-kubeconfig` (key `config`),
  and its `CLUSTER_ID` is that cluster's id;
- a load balancer (usually an ingress or east-west gateway) must expose its xDS/CA port 15012
  and its webhook port 15017 to the clusters it serves;
- every other cluster it reads through a remote secret must name it (its CLUSTER_ID, or `*`) in
  `topology.istio.io/controlPlaneClusters` on its system namespace, or istiod does not lead it:
  webhook CA bundles and `istio-ca-root-cert` ConfigMaps there are never written;
- the injection URLs of the remote installs (`/inject/cluster/<id>/net/<network>`) must write a
  `/` inside a name as `--slash--`, since the injector splits the path on `/`.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import (ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_GATEWAYS, ISTIO_SECRETS,
                                ISTIO_SERVICES, MUTATING_WEBHOOKS, NAMESPACES)
from diagnostics.model import Finding, Step
from diagnostics.views.control_plane import (ControlPlane, cluster_for_id, control_plane_of,
                                             hook_path, injector_hooks, peer_secrets,
                                             values_cluster_name)
from diagnostics.views.mesh import (CONTROL_PLANE_CLUSTERS, gateway_addresses, injector_values,
                                    install_value)
from diagnostics.views.istiod_secretless import withheld_secrets
from diagnostics.views.remote_access import inspect_kubeconfig, secret_kubeconfig_text
from diagnostics.views.secrets import CONFIG_KEY, secret_keys
from diagnostics.workloads import name_of, namespace_of

TITLE = "External and remote control plane wiring"
XDS_PORT, WEBHOOK_PORT = 15012, 15017
SLASH = "--slash--"


# ------------------------------------------------------------------------------ injection URL


def inject_segments(path: str) -> list[str] | None:
    """The key/value segments after `/inject/`; None for a bare `/inject` or the `:ENV:` form."""
    parts = path.rstrip("/").split("/", 2)
    if len(parts) < 3 or parts[1] != "inject" or parts[2].startswith(":ENV:"):
        return None
    return parts[2].split("/")


def unescaped_slash(path: str, names: list[str]) -> str | None:
    """Why an injection path carries a name with a raw `/`, or None.

    `names` are the cluster id and network the install meant (they may contain `/`). The
    injector reads the segments as key/value pairs, so a raw slash shows as an odd number of
    segments, or as an intended name appearing unescaped in the path.
    """
    segments = inject_segments(path)
    if segments is None:
        return None
    for name in names:
        if "/" in name and f"/{name}" in path:
            decoded = dict(zip(segments[::2], segments[1::2]))
            return (f"{name!r} is written with a raw '/' (the injector reads cluster="
                    f"{decoded.get('cluster', '?')!r}, net={decoded.get('net', '(none)')!r}); "
                    f"write it {name.replace('/', SLASH)!r}")
    if len(segments) % 2:
        return (f"{len(segments)} path segments after /inject/ do not form key/value pairs: a "
                f"cluster or network name contains a raw '/' (the last segment "
                f"{segments[-1]!r} is dropped)")
    return None


def _url_findings(ctx: CheckContext, cluster: str, evidence: list[str]) -> list[Finding]:
    values = injector_values(ctx.get(ISTIO_CONFIGMAPS, cluster))
    names = [str(v) for v in (values_cluster_name(values),
                              install_value(values, "global", "network")) if v]
    findings = []
    for cfg, hook in injector_hooks(ctx.get(MUTATING_WEBHOOKS, cluster)):
        path = hook_path(hook)
        if inject_segments(path) is None:
            continue
        client = hook.get("clientConfig") or {}
        url = str(client.get("url") or path)
        problem = unescaped_slash(path, names)
        if problem is None:
            evidence.append(f"injection path of {hook.get('name')} ({name_of(cfg)}): {path}")
            continue
        line = f"injection {'URL' if client.get('url') else 'path'} {url} of webhook " \
               f"{hook.get('name')} ({name_of(cfg)}): {problem}"
        evidence.append(line)
        if not any(f.params.get("url") == url for f in findings):
            findings.append(ctx.finding("injection-url-unescaped-slash", cluster=cluster,
                                        resource=f"MutatingWebhookConfiguration {name_of(cfg)}",
                                        evidence=[line], url=url))
    return findings


# ------------------------------------------------------------------------------ control planes


def _control_planes(ctx: CheckContext) -> dict[str, ControlPlane]:
    out = {}
    for cluster, pods in ctx.available(ISTIOD_PODS).items():
        secrets = ctx.available(ISTIO_SECRETS).get(cluster, [])
        cp = control_plane_of(cluster, pods, secrets)
        if cp is not None:
            out[cluster] = cp
    return out


def _install_names(ctx: CheckContext, cps: dict[str, ControlPlane]) -> dict[str, str | None]:
    """Each cluster's install clusterName; a cluster hosting an external istiod has none of its
    own (its values name the config cluster it serves)."""
    configmaps = ctx.available(ISTIO_CONFIGMAPS)
    return {c: None if c in cps and cps[c].config_elsewhere
            else values_cluster_name(injector_values(configmaps.get(c, [])))
            for c in ctx.cluster_names}


def _led_remotes(ctx: CheckContext, cp: ControlPlane, names: dict[str, str | None]) -> list[str]:
    """Clusters an external istiod reads through remote secrets (not its config cluster)."""
    secrets = peer_secrets(ctx.available(ISTIO_SECRETS).get(cp.cluster, []))
    config = cluster_for_id(cp.cluster_id, names)
    found = []
    for key in sorted({k for s in secrets for k in secret_keys(s)}):
        remote = cluster_for_id(key, names)
        if remote and remote not in (config, cp.cluster) and remote not in found:
            found.append(remote)
    return found


def _annotation(ctx: CheckContext, cluster: str) -> list[str] | None:
    ns = ctx.info(cluster).istio_namespace
    namespace = next((n for n in ctx.get(NAMESPACES, cluster) if name_of(n) == ns), None)
    raw = (((namespace or {}).get("metadata") or {}).get("annotations") or {}).get(
        CONTROL_PLANE_CLUSTERS)
    return None if raw is None else [v.strip() for v in str(raw).split(",") if v.strip()]


def _exposure(ctx: CheckContext, cluster: str) -> list[str]:
    """Load balancers and Gateways that expose istiod's 15012 and 15017 to other clusters."""
    out = []
    for svc in ctx.get(ISTIO_SERVICES, cluster):
        ports = {int(p.get(k) or 0) for p in (svc.get("spec") or {}).get("ports") or []
                 for k in ("port", "targetPort") if str(p.get(k) or "").isdigit()}
        if {XDS_PORT, WEBHOOK_PORT} <= ports and gateway_addresses(svc):
            out.append(f"Service {namespace_of(svc)}/{name_of(svc)} exposes {XDS_PORT} and "
                       f"{WEBHOOK_PORT} at {', '.join(gateway_addresses(svc))}")
    for gw in ctx.available(ISTIO_GATEWAYS).get(cluster, []):
        ports = {int((s.get("port") or {}).get("number") or 0)
                 for s in (gw.get("spec") or {}).get("servers") or []}
        if {XDS_PORT, WEBHOOK_PORT} <= ports:
            out.append(f"Gateway {namespace_of(gw)}/{name_of(gw)} routes {XDS_PORT} and "
                       f"{WEBHOOK_PORT}")
    return out


@check("external-control-plane", title=TITLE,
       inputs=(ISTIOD_PODS, ISTIO_SECRETS, NAMESPACES, ISTIO_CONFIGMAPS, MUTATING_WEBHOOKS,
               ISTIO_SERVICES, ISTIO_GATEWAYS),
       emits=("control-plane-clusters-annotation-missing", "injection-url-unescaped-slash",
              "remote-kubeconfig-invalid"))
def external_control_plane(ctx: CheckContext) -> list[Step]:
    """Check the config secret, exposure and leadership annotations of external control planes,
    and the injection URLs of remote installs."""
    cps = _control_planes(ctx)
    names = _install_names(ctx, cps)
    return per_cluster(ctx, TITLE, ctx.focus, lambda c: _step(ctx, c, cps, names))


def _step(ctx: CheckContext, cluster: str, cps: dict[str, ControlPlane],
          names: dict[str, str | None]) -> Step:
    evidence: list[str] = []
    findings: list[Finding] = []
    status = None
    cp = cps.get(cluster)
    # external istiods whose Secrets this install does not read: their config-type secret and
    # the remotes they read through remote secrets are not checked
    blind = {c: w.reason for c, x in cps.items() if x.external
             for w in [withheld_secrets(ctx, c)] if w is not None}
    if cp is not None:
        evidence += cp.signs
        if cp.external and cluster in blind:
            evidence.append(f"not checked: {blind[cluster]}; so neither the kubeconfig of its "
                            "config-type secret nor the remote clusters it reads through remote "
                            "secrets (and whether they name it) could be checked")
        elif cp.external:
            findings += _config_cluster(ctx, cp, names, evidence)
            exposed = _exposure(ctx, cluster)
            evidence += exposed
            if not exposed:
                evidence.append(f"no load balancer in {ctx.info(cluster).istio_namespace} exposes "
                                f"{XDS_PORT} and {WEBHOOK_PORT}: proxies and API servers of the "
                                "clusters it serves cannot reach this istiod")
                status = "warn"
            for remote in _led_remotes(ctx, cp, names):
                marks = _annotation(ctx, remote)
                ok = marks is not None and (cp.cluster_id in marks or "*" in marks)
                evidence.append(f"leads remote {remote} only if it names {cp.cluster_id}: "
                                + ("it does" if ok else "it does not (see that cluster)"))
        else:
            evidence.append(f"istiod in {cluster} runs as a primary (EXTERNAL_ISTIOD unset): "
                            "remote clusters need no controlPlaneClusters annotation for it")
    else:
        findings += _as_remote(ctx, cluster, cps, names, evidence)
        unsure = [c for c in blind if cluster_for_id(cps[c].cluster_id, names) != cluster]
        evidence += [f"whether the external istiod in {c} reads {cluster}: not checked (this "
                     "install reads no Secrets)" for c in unsure]
    findings += _url_findings(ctx, cluster, evidence)
    if status and findings:
        status = None
    step = ctx.step(TITLE, cluster, evidence, findings, status=status)
    step.incomplete = bool(blind) and (cluster in blind or cp is None) and not findings
    return step


def _config_cluster(ctx: CheckContext, cp: ControlPlane, names: dict[str, str | None],
                    evidence: list[str]) -> list[Finding]:
    """The config cluster of an external istiod and the kubeconfig it is read through."""
    if not cp.config_elsewhere:
        evidence.append(f"config cluster: {cp.cluster} itself (no {CONFIG_KEY}-type secret)")
        return []
    config = cluster_for_id(cp.cluster_id, names)
    where = f"{config} (cluster id {cp.cluster_id})" if config else \
        f"cluster id {cp.cluster_id} (not a cluster of this mesh)"
    secret = cp.config_secret
    if secret is None:
        evidence.append(f"config cluster: {where}, through KUBECONFIG={cp.kubeconfig_env}; no "
                        f"Secret istio-kubeconfig in {ctx.info(cp.cluster).istio_namespace}")
        return []
    ref = f"{namespace_of(secret)}/{name_of(secret)}"
    view = inspect_kubeconfig(secret_kubeconfig_text(secret, CONFIG_KEY))
    evidence.append(f"config cluster: {where}, read through Secret {ref} (key {CONFIG_KEY}): "
                    + (f"server {view.server}, auth {', '.join(view.auth)}" if view.server
                       else "kubeconfig unusable"))
    if not view.problem:
        return []
    line = f"kubeconfig in {ref}: {view.problem}"
    evidence.append(line)
    peer = config or cp.cluster_id
    extra = {} if config else {"peer_context": f"<context of {cp.cluster_id}>"}
    id_line = ctx.id_basis(config) if config else None
    return [ctx.finding("remote-kubeconfig-invalid", cluster=cp.cluster, resource=f"Secret {ref}",
                        evidence=[line, *([id_line] if id_line else [])],
                        basis=[line, id_line] if id_line else [],
                        peer_cluster=peer, secret=name_of(secret),
                        server=view.server or "unknown", server_port=view.port or "<port>",
                        reason=view.problem, error="istiod reads its config cluster through it",
                        **extra)]


def _as_remote(ctx: CheckContext, cluster: str, cps: dict[str, ControlPlane],
               names: dict[str, str | None], evidence: list[str]) -> list[Finding]:
    """A cluster without istiod: which external istiods serve it, and whether it names them."""
    ns = ctx.info(cluster).istio_namespace
    marks = _annotation(ctx, cluster)
    evidence.append(f"no istiod in {cluster}; namespace {ns} "
                    + (f"is annotated {CONTROL_PLANE_CLUSTERS}={','.join(marks)}" if marks
                       is not None else f"has no {CONTROL_PLANE_CLUSTERS} annotation"))
    findings = []
    for cp in cps.values():
        if cluster_for_id(cp.cluster_id, names) == cluster and cp.config_elsewhere:
            evidence.append(f"{cluster} is the config cluster of the external istiod in "
                            f"{cp.cluster} (CLUSTER_ID={cp.cluster_id}): it is led without the "
                            "annotation")
            continue
        if cluster not in _led_remotes(ctx, cp, names):
            continue
        if not cp.external:
            evidence.append(f"istiod in {cp.cluster} reads {cluster} but runs without "
                            "EXTERNAL_ISTIOD: the annotation is not consulted")
            continue
        if marks is not None and (cp.cluster_id in marks or "*" in marks):
            evidence.append(f"names {cp.cluster_id}, the external istiod in {cp.cluster}")
            continue
        line = (f"the external istiod in {cp.cluster} (CLUSTER_ID={cp.cluster_id}) reads "
                f"{cluster} but {ns} does not name {cp.cluster_id} in {CONTROL_PLANE_CLUSTERS}")
        evidence.append(line)
        info = ctx.info(cp.cluster)
        findings.append(ctx.finding(
            "control-plane-clusters-annotation-missing", cluster=cluster,
            resource=f"Namespace {ns}", evidence=[line], basis=[evidence[0], line],
            peer_cluster=cp.cluster_id,
            peer_context=info.context_name, peer_istio_namespace=info.istio_namespace))
    return findings
