"""check: what the target's container logs say about start-up order and HTTP/1.0.

`app-starts-before-proxy`: with a classic sidecar (istio-proxy a regular container) and
`holdApplicationUntilProxyStarts` off (pod annotation `proxy.istio.io/config`, meshConfig
`defaultConfig`, or the injected postStart hook that waits for the proxy), the app starts next to
a proxy that has no configuration yet; connection errors in the first lines of the app's log,
often with restarts, show it lost that race. An app that crashed on them usually starts cleanly
on its restart, so the log of the run before the restart is searched first. Native sidecars
start before the app and cannot lose the race.

`http10-upstream-426`: Envoy refuses HTTP/1.0 with 426 Upgrade Required (details
`http1.low_version` / `low_version`). In the target's sidecar access log an outbound 426 means
the target is the HTTP/1.0 client (the classic nginx `proxy_pass`); an inbound one (the pod's own
address as downstream local address) means a client calling the target does.
"""

from __future__ import annotations

import re

from diagnostics.checks.base import CheckContext, check
from diagnostics.checks.workload_common import (TARGET_INPUTS, TARGET_LOGS, app_containers,
                                                container_status, log_line, mesh_settings,
                                                native_sidecar,
                                                optional_get, owner_ref, per_target,
                                                pod_proxy_config, proxy_container)
from diagnostics.facts import PodLogs
from diagnostics.inputs import ISTIO_CONFIGMAPS
from diagnostics.model import Finding, Step
from diagnostics.parse.access_log import AccessLogEntry, parse_access_log
from diagnostics.targets import Target, Workload, workload_of
from diagnostics.workloads import PROXY_CONTAINER, has_sidecar, name_of, namespace_of, pod_ip

HOLD = "holdApplicationUntilProxyStarts"
NOT_VISIBLE = "app logs not available: start-up errors are not visible"
#: Lines at the top of the app's log that count as "at start".
START_LINES = 25
_CONNECT_ERROR = re.compile(
    r"connection refused|ECONNREFUSED|connect: connection reset|ECONNRESET|no route to host|"
    r"EHOSTUNREACH|upstream connect error|failed to connect|could not connect|unable to connect|"
    r"connection timed out|dial tcp [^ ]+: (?:i/o timeout|connect:)",
    re.IGNORECASE)


# ------------------------------------------------------------------------------ start-up order


def hold_setting(pod: dict, mesh: dict) -> str | None:
    """Where holdApplicationUntilProxyStarts is on for this pod; None when it is off."""
    if pod_proxy_config(pod).get(HOLD) is True:
        return "annotation proxy.istio.io/config"
    proxy = proxy_container(pod) or {}
    post = (((proxy.get("lifecycle") or {}).get("postStart") or {}).get("exec") or {})
    if "wait" in [str(a) for a in post.get("command") or []]:
        return "istio-proxy postStart hook (pilot-agent wait)"
    if ((mesh.get("defaultConfig") or {}).get(HOLD)) is True:
        return "meshConfig.defaultConfig"
    return None


def start_errors(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()][:START_LINES]
    return [log_line(line) for line in lines if _CONNECT_ERROR.search(line)]


@check("workload-startup", title="App start-up before the proxy",
       inputs=TARGET_INPUTS + (TARGET_LOGS, ISTIO_CONFIGMAPS), emits=("app-starts-before-proxy",))
def workload_startup(ctx: CheckContext) -> list[Step]:
    """Connection errors at the start of an app container's log next to a classic sidecar with
    holdApplicationUntilProxyStarts off."""
    title = "App start-up before the proxy"

    def body(cluster: str, target: Target) -> Step | None:
        logs: dict[str, PodLogs] = optional_get(ctx, TARGET_LOGS, cluster, {}) or {}
        mesh = mesh_settings(ctx, cluster)
        evidence, findings = [], []
        for w in target.workloads:
            sidecars = [p for p in w.pods if has_sidecar(p)]
            if not sidecars:
                continue
            if all(native_sidecar(p) for p in sidecars):
                evidence.append(f"{w.ref}: native sidecar, the app starts after the proxy is ready")
                continue
            hold = hold_setting(sidecars[0], mesh)
            if hold:
                evidence.append(f"{w.ref}: {HOLD} is on ({hold})")
                continue
            found = _race(ctx, cluster, w, [p for p in sidecars if not native_sidecar(p)], logs)
            if isinstance(found, Finding):
                findings.append(found)
                evidence.append(f"{w.ref}: {found.evidence[0]}")
            else:
                evidence.append(f"{w.ref}: {HOLD} off; {found}")
        if not evidence:
            return None
        if not findings and all(NOT_VISIBLE in line or ": " + HOLD + " is on" in line
                                or "native sidecar" in line for line in evidence) \
                and any(NOT_VISIBLE in line for line in evidence):
            return ctx.step(title, cluster, evidence, status="skip")
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)


def _race(ctx: CheckContext, cluster: str, w: Workload, pods: list[dict],
          logs: dict[str, PodLogs]) -> Finding | str:
    read = 0
    for pod in pods:
        fact = logs.get(name_of(pod))
        if fact is None:
            continue
        for c in app_containers(pod):
            name = c.get("name", "")
            runs = _runs(fact, name)
            read += bool(runs)
            found = _first_errors(runs)
            if found is None:
                continue
            errors, which = found
            st = container_status(pod, name)
            lines = [f"{name_of(pod)} container {name}: {len(errors)} connection errors in the "
                     f"first lines of {which}",
                     f"classic sidecar (istio-proxy is a regular container), {HOLD} off"]
            if st.get("restartCount"):
                last = ((st.get("lastState") or {}).get("terminated") or {})
                code = f", last exit code {last['exitCode']}" if "exitCode" in last else ""
                n = st['restartCount']
                lines.append(f"{name} restarted {n} time{'s' if n != 1 else ''}{code}")
            lines += [f"log: {e}" for e in errors[:3]]
            return ctx.finding("app-starts-before-proxy", cluster=cluster,
                               resource=f"Pod {namespace_of(pod)}/{name_of(pod)}", evidence=lines,
                               basis=lines, pod=name_of(pod), namespace=namespace_of(pod),
                               workload=owner_ref(w, pod), container=name)
    return "no connection errors at the start of the app's log" if read else NOT_VISIBLE


def _first_errors(runs: list[tuple[str, str]]) -> tuple[list[str], str] | None:
    """The start-up connection errors of the first run that has some, and which run it was."""
    for which, text in runs:
        errors = start_errors(text)
        if errors:
            return errors, which
    return None


def _runs(fact: PodLogs, container: str) -> list[tuple[str, str]]:
    """The container's logs to search, the run that crashed first: after a crash at start-up
    the current run often starts cleanly, and only `kubectl logs --previous` shows the race."""
    runs = []
    if container in fact.previous:
        runs.append(("the log of its run before the last restart", fact.previous[container]))
    if container in fact.logs:
        runs.append(("its log", fact.logs[container]))
    return runs


# ------------------------------------------------------------------------------ HTTP/1.0


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
            if not any(has_sidecar(p) for p in target.pods):
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
        workload = workload_of(client, []) if client is not None else f"pod/{client_name}"
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
