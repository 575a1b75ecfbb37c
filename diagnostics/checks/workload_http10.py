"""check: a client speaking HTTP/1.0 (nginx's default upstream) is answered 426 Upgrade
Required by Envoy unless the mesh accepts HTTP/1.0.

Envoy's 426 carries the details `http1.low_version` / `low_version`. In the target's sidecar
access log an outbound 426 means the target is the HTTP/1.0 client (the classic nginx
`proxy_pass`); an inbound one (the pod's own address as downstream local address) means a client
calling the target does.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.facts import PodLogs
from diagnostics.inputs import ISTIO_CONFIGMAPS, TARGET_LOGS
from diagnostics.model import Finding, Step
from diagnostics.parse.access_log import AccessLogEntry, parse_access_log
from diagnostics.targets import Target, Workload, workload_of
from diagnostics.views.workload import (TARGET_INPUTS, log_line, mesh_settings, optional_get,
                                        owner_ref, per_target)
from diagnostics.workloads import PROXY_CONTAINER, name_of, namespace_of, pod_ip


def is_http10_rejection(entry: AccessLogEntry) -> bool:
    return entry.code == 426 and ("HTTP/1.0" in entry.request or "low_version" in entry.details)


def _service_of(entry: AccessLogEntry, services: list[dict]) -> tuple[str, int | None]:
    """(service name, port) the request was for: authority, else the VIP it connected to."""
    host, _, port = entry.authority.partition(":")
    if host:
        name = host.split(".")[0]
        return name, int(port) if port.isdigit() else None
    addr, _, port = entry.downstream_local.rpartition(":")
    for svc in services:
        if (svc.get("spec") or {}).get("clusterIP") == addr:
            return name_of(svc), int(port) if port.isdigit() else None
    return (addr or "unknown"), int(port) if port.isdigit() else None


def _client_of(entry: AccessLogEntry, pods: list[dict]) -> dict | None:
    addr = entry.downstream_remote.rpartition(":")[0]
    return next((p for p in pods if pod_ip(p) == addr), None) if addr else None


@check("workload-http10", title="HTTP/1.0 clients (426)",
       inputs=TARGET_INPUTS + (TARGET_LOGS, ISTIO_CONFIGMAPS), emits=("http10-upstream-426",))
def workload_http10(ctx: CheckContext) -> list[Step]:
    """426 Upgrade Required for HTTP/1.0 requests in the sidecar access logs of the target's
    pods: outbound (the target is the HTTP/1.0 client) or inbound (a client of the target)."""
    title = "HTTP/1.0 clients (426)"

    def body(cluster: str, target: Target) -> Step | None:
        logs: dict[str, PodLogs] = optional_get(ctx, TARGET_LOGS, cluster, {}) or {}
        all_pods = optional_get(ctx, TARGET_INPUTS[0], cluster, []) or []
        evidence, findings, seen, read = [], [], set(), 0
        for w in target.workloads:
            for pod in w.pods:
                fact = logs.get(name_of(pod))
                if fact is None or PROXY_CONTAINER not in fact.logs:
                    continue
                read += 1
                rejected = [e for e in parse_access_log(fact.logs[PROXY_CONTAINER])
                            if is_http10_rejection(e)]
                if not rejected:
                    continue
                found = _http10(ctx, cluster, w, pod, rejected, target, all_pods, seen)
                evidence += [f"{name_of(pod)}: {len(rejected)} requests answered 426 "
                             "(HTTP/1.0)"] + ([f"  {found.evidence[1]}"] if found else [])
                if found:
                    findings.append(found)
        if not read:
            if not target.sidecar_pods:
                return None
            log_file = mesh_settings(ctx, cluster).get("accessLogFile")
            why = (f"access logging is on ({log_file}) but no sidecar log was readable"
                   if log_file else "access logging is off: meshConfig.accessLogFile is unset")
            return ctx.step(title, cluster, [f"no istio-proxy access log of the target's pods "
                                             f"({why})"], status="skip")
        if not evidence:
            evidence = [f"no 426 for HTTP/1.0 in the access logs of {read} sidecars"]
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)


def _http10(ctx: CheckContext, cluster: str, w: Workload, pod: dict,
            rejected: list[AccessLogEntry], target: Target, all_pods: list[dict],
            seen: set) -> Finding | None:
    last = rejected[-1]
    inbound = last.upstream_cluster.startswith("inbound|") or (
        bool(pod_ip(pod)) and last.downstream_local.rpartition(":")[0] == pod_ip(pod))
    service, port = _service_of(last, target.services)
    if inbound:
        client = _client_of(last, all_pods)
        who = client if client is not None else None
        client_name = name_of(client) if client is not None else \
            f"the client at {last.downstream_remote or 'an unknown address'}"
        workload = workload_of(client, {}) if client is not None else f"pod/{client_name}"
        if target.service is not None:
            service = name_of(target.service)
        direction = f"inbound to {name_of(pod)} from {client_name}"
    else:
        who, workload, client_name = pod, owner_ref(w, pod), name_of(pod)
        direction = f"outbound from {name_of(pod)}"
    key = (workload, service)
    if key in seen:
        return None
    seen.add(key)
    lines = [f"{len(rejected)} requests answered 426 Upgrade Required ({direction})",
             f"access log: {log_line(last.line, 260)}"]
    return ctx.finding("http10-upstream-426", cluster=cluster,
                       resource=f"Pod {namespace_of(who or pod)}/{client_name}", evidence=lines,
                       basis=lines, pod=client_name, namespace=namespace_of(pod), workload=workload,
                       service=service, port=port if port is not None else "<port>")
