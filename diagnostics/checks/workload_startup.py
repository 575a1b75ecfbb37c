"""check: what the target's container logs say about start-up order (HTTP/1.0 clients are
workload_http10.py's).

`app-starts-before-proxy`: with a classic sidecar (istio-proxy a regular container) and
`holdApplicationUntilProxyStarts` off (pod annotation `proxy.istio.io/config`, meshConfig
`defaultConfig`, or the injected postStart hook that waits for the proxy), the app starts next to
a proxy that has no configuration yet; connection errors in the first lines of the app's log,
often with restarts, show it lost that race. An app that crashed on them usually starts cleanly
on its restart, so the log of the run before the restart is searched first. Native sidecars
start before the app and cannot lose the race.
"""

from __future__ import annotations

import re

from diagnostics.checking import CheckContext, check
from diagnostics.facts import PodLogs
from diagnostics.inputs import ISTIO_CONFIGMAPS, TARGET_LOGS
from diagnostics.model import Finding, Step
from diagnostics.targets import Target, Workload
from diagnostics.views.workload import (TARGET_INPUTS, app_containers, container_status, log_line,
                                        mesh_settings, native_sidecar, optional_get, owner_ref,
                                        per_target, pod_proxy_config, proxy_container)
from diagnostics.workloads import name_of, namespace_of, pods_where

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
            sidecars = w.sidecar_pods
            if not sidecars:
                continue
            classic = pods_where(sidecars, lambda pod: not native_sidecar(pod))
            if not classic:
                evidence.append(f"{w.ref}: native sidecar, the app starts after the proxy is ready")
                continue
            hold = hold_setting(sidecars[0], mesh)
            if hold:
                evidence.append(f"{w.ref}: {HOLD} is on ({hold})")
                continue
            found = _race(ctx, cluster, w, classic, logs)
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


