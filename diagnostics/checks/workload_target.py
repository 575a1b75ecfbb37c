"""check, step 1: what the target is in each cluster (its workloads, pods and Services).

`check` looks the workload up in every cluster where it exists (or those named by
`--cluster`). For `ns/<name>` this step is the namespace's summary: one line per workload.
"""

from __future__ import annotations

import difflib

from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.facts import PodLogs
from diagnostics.inputs import (NAMESPACES, TARGET_DEPLOYMENTS, TARGET_EVENTS, TARGET_LOGS,
                                TARGET_POD_NAMES, TARGET_REPLICASETS, TARGET_SERVICES)
from diagnostics.model import Finding, Step
from diagnostics.targets import PodState, Target, Workload
from diagnostics.views.workload import TARGET_INPUTS, optional_get, short, target_in
from diagnostics.workloads import PROXY_CONTAINER, name_of, namespace_of

SUMMARY_LIMIT = 40


def _ports(svc: dict) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    head = "headless, " if (svc.get("spec") or {}).get("clusterIP") == "None" else ""
    return head + ", ".join(f"{p.get('port')}/{p.get('name') or p.get('protocol', 'TCP')}"
                            for p in ports)


def workload_line(w: Workload) -> str:
    pods = w.pods
    if not pods:
        failed = [c.get("message") for rs in w.replicasets
                  for c in (rs.get("status") or {}).get("conditions") or []
                  if c.get("type") == "ReplicaFailure" and c.get("status") == "True"]
        return f"{w.ref}: no pods" + (" (ReplicaSet cannot create them)" if failed else "")
    states = [w.state(p) for p in pods]
    ready = w.counted([p for p, s in zip(pods, states) if s.ready])
    sidecars = w.counted(w.sidecar_pods)
    restarts = sum(s.restarts * w.weight(p) for p, s in zip(pods, states))
    phases = sorted({s.phase for s in states})
    waiting = sorted(set().union(*(s.waiting for s in states)))
    count = w.count
    parts = [f"{count} pod{'s' if count != 1 else ''} ({'/'.join(phases)})",
             f"{ready} ready", f"sidecar in {sidecars}"]
    if restarts:
        parts.append(f"{restarts} restarts")
    if waiting:
        parts.append("waiting: " + ", ".join(waiting))
    return f"{w.ref}: " + ", ".join(parts)


@check("workload-target", title="Target workload",
       inputs=TARGET_INPUTS + (TARGET_EVENTS, NAMESPACES, TARGET_LOGS, TARGET_POD_NAMES),
       emits=("workload-not-found", "workload-no-pods", "workload-pods-not-ready"))
def workload_target(ctx: CheckContext) -> list[Step]:
    """Resolve the target in every examined cluster: deployment → ReplicaSets → pods (or the
    pods' pod-template-hash and the Deployment's selector when ReplicaSets cannot be read),
    service → selected pods, namespace → every workload, with pod and Service status; a
    target that exists nowhere, and a Deployment that wants pods and has none, are findings."""
    title = f"Target {_label(ctx)}"
    steps, found, missing, unsure, unread, empty = [], [], [], [], [], []
    for cluster in ctx.focus:
        try:
            target = target_in(ctx, cluster)
        except Unavailable as exc:
            steps.append(ctx.unavailable_step(title, cluster, exc))
            unread.append(cluster)
            continue
        if not target.found:
            if _empty_namespace(ctx, cluster):
                empty.append(cluster)
            else:
                (unsure if _absence_unsure(ctx, cluster) else missing).append(cluster)
            continue
        findings, evidence, incomplete = _empty_deployments(ctx, cluster, target)
        findings += _unready_pods(ctx, cluster, target,
                                  optional_get(ctx, TARGET_LOGS, cluster, {}) or {})
        step = ctx.step(title, cluster, _overview(target) + evidence, findings)
        step.incomplete = incomplete
        steps.append(step)
        found.append(step)
    if not found and empty:
        steps.append(_runs_nothing(ctx, title, empty, missing))
    elif not found and (missing or unsure):
        steps.append(_not_found(ctx, title, missing, unsure + unread))
    else:
        if empty:
            found[0].evidence.append(f"exists in {', '.join(empty)} and runs nothing there")
        if missing:
            found[0].evidence.append(f"not present in {', '.join(missing)}")
    return steps


def _empty_namespace(ctx: CheckContext, cluster: str) -> bool:
    """A namespace target that the cluster has, holding no pod, Service or ReplicaSet: it
    exists (calling it missing, with itself among the similar names, sent people hunting for
    a typo), there is only nothing in it to check."""
    if ctx.args["kind"] != "ns":
        return False
    namespaces = optional_get(ctx, NAMESPACES, cluster, []) or []
    return any(name_of(n) == ctx.args["name"] for n in namespaces)


def _runs_nothing(ctx: CheckContext, title: str, empty: list[str], missing: list[str]) -> Step:
    """The answer for a namespace that exists and runs nothing in any cluster read: a warning
    (the question was likely meant for another namespace), no finding of absence."""
    lines = [f"{_label(ctx)} exists in {', '.join(empty)} and runs nothing there: no pod, "
             "Service or ReplicaSet, so there is nothing to check"]
    if missing:
        lines.append(f"not present in {', '.join(missing)}")
    return ctx.step(title, None, lines, status="warn")


#: Of a workload's pods that are not Ready, how many the finding names.
UNREADY_NAMED = 3


def _unready_pods(ctx: CheckContext, cluster: str, target: Target,
                  logs: dict[str, PodLogs]) -> list[Finding]:
    """A symptom finding for each workload with pods that are not Ready: the answer for a
    crash-looping service was "healthy" when no mesh pitfall explained it. It yields to any
    cause the later steps find (a symptom); alone, it points at the application's own log."""
    findings = []
    for w in target.workloads:
        unready = [p for p in w.pods if not w.state(p).ready]
        if not unready:
            continue
        ranked = sorted(unready, key=lambda p: (-w.state(p).restarts, name_of(p)))
        first = ranked[0]
        state = _unready_state(w, ranked)
        line = (f"{w.ref}: {w.counted(unready)} of {w.count} pods not Ready ({state}): "
                + ", ".join(name_of(p) for p in ranked[:UNREADY_NAMED])
                + (f" and {len(ranked) - UNREADY_NAMED} more" if len(ranked) > UNREADY_NAMED
                   else ""))
        container = _troubled_container(first)
        starting = all(_starting(w.state(p)) for p in unready)
        findings.append(ctx.finding(
            "workload-pods-not-ready", cluster=cluster, resource=f"Pod {target.namespace}/"
            f"{name_of(first)}", evidence=[line, *_last_words(logs, first, container)],
            severity="warning" if starting else None, workload=w.ref,
            namespace=target.namespace, pods=str(w.count), unready=str(w.counted(unready)),
            state=state, pod=name_of(first), container=container))
    return findings


#: What the kubelet says of a container on its way up, not failing (yet).
STARTING = frozenset({"ContainerCreating", "PodInitializing"})


def _starting(state: PodState) -> bool:
    """A pod being created or started, never restarted: a rollout in progress is a warning,
    not a problem."""
    return not state.restarts and not state.failed_inits and state.waiting <= STARTING and \
        (state.phase == "Pending" or bool(state.waiting))


#: Of a crashed container's previous run, how many of its last lines the finding quotes.
LAST_LINES = 3


def _last_words(logs: dict[str, PodLogs], pod: dict, container: str) -> list[str]:
    """The last lines of the container's previous run (where it crashed), else of its current
    one, as read for this check (redacted at capture); nothing when none was read."""
    fact = logs.get(name_of(pod))
    if fact is None:
        return []
    for which, texts in (("previous run", fact.previous), ("log", fact.logs)):
        lines = [line for line in (texts.get(container) or "").splitlines() if line.strip()]
        if lines:
            return [f"last lines of {container}'s {which}:"] + [
                "  " + short(line, 200) for line in lines[-LAST_LINES:]]
    return []


def _unready_state(w: Workload, pods: list[dict]) -> str:
    """What the pods' statuses say, in kubectl's words: waiting reasons, restarts, phases."""
    states = [w.state(p) for p in pods]
    waiting = sorted(set().union(*(s.waiting for s in states)))
    restarts = sum(s.restarts for s in states)
    parts = waiting or sorted({s.phase for s in states if s.phase != "Running"}) or \
        ["Running, readiness failing"]
    return ", ".join(parts) + (f"; {restarts} restarts" if restarts else "")


def _troubled_container(pod: dict) -> str:
    """The container whose log tells most: the one that restarted most or waits, else the
    first app container."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ranked = sorted(statuses, key=lambda st: (-int(st.get("restartCount") or 0),
                                              not (st.get("state") or {}).get("waiting")))
    if ranked and (ranked[0].get("restartCount") or (ranked[0].get("state") or {}).get(
            "waiting")):
        return str(ranked[0].get("name") or "")
    apps = [c for c in (pod.get("spec") or {}).get("containers") or []
            if c.get("name") != PROXY_CONTAINER]
    return str((apps or [{}])[0].get("name") or PROXY_CONTAINER)


def _absence_unsure(ctx: CheckContext, cluster: str) -> bool:
    """Whether the kind the target is of could not be listed, so its absence proves nothing
    (a Deployment whose pods were not found is also looked for among the Deployments)."""
    inp = {"deploy": TARGET_DEPLOYMENTS, "svc": TARGET_SERVICES}.get(ctx.args["kind"])
    return inp is not None and optional_get(ctx, inp, cluster) is None


def _not_found(ctx: CheckContext, title: str, missing: list[str], unsure: list[str]) -> Step:
    where = ", ".join(missing) or "no cluster"
    line = f"{_where(ctx)} not found in {where}"
    if unsure:  # it may be where it could not be looked for: no verdict of absence
        step = ctx.step(title, None, [line, f"could not look in {', '.join(unsure)}"],
                        status="error")
        step.incomplete = True
        return step
    similar = _similar(ctx, missing)
    finding = ctx.finding("workload-not-found", cluster=None, resource=_label(ctx),
                          evidence=[line], where=_where(ctx),
                          similar=", ".join(similar) or "none found",
                          list_command=_list_command(ctx))
    return ctx.step(title, None, [line, f"similar names: {', '.join(similar) or 'none'}"],
                    [finding])


def _where(ctx: CheckContext) -> str:
    """`deploy/x in namespace sample`, or `namespace sample` for a namespace target."""
    if ctx.args["kind"] == "ns":
        return _label(ctx)
    return f"{_label(ctx)} in namespace {ctx.args['namespace']}"


_PLURAL = {"pod": "pods", "deploy": "deployments", "svc": "services", "ns": "namespaces"}


def _list_command(ctx: CheckContext) -> str:
    kind = ctx.args["kind"]
    if kind == "ns":
        return "kubectl get namespaces --context=<context of each cluster>"
    return (f"kubectl get {_PLURAL[kind]} -n {ctx.args['namespace']} --context=<context of "
            "each cluster>")


def _similar(ctx: CheckContext, clusters: list[str]) -> list[str]:
    """Names of the target's kind, in the clusters searched, that resemble the one asked."""
    kind, names = ctx.args["kind"], set()
    for cluster in clusters:
        if kind == "ns":
            names |= {name_of(n) for n in optional_get(ctx, NAMESPACES, cluster, []) or []}
            continue
        if kind == "pod":  # the pod was read by name: the others' names where it is missing
            names |= set(optional_get(ctx, TARGET_POD_NAMES, cluster, []) or [])
            continue
        inp = {"deploy": TARGET_DEPLOYMENTS, "svc": TARGET_SERVICES}[kind]
        names |= {name_of(o) for o in optional_get(ctx, inp, cluster, []) or []
                  if namespace_of(o) == ctx.args["namespace"]}
    names.discard(ctx.args["name"])  # where it exists it was found, or is an empty namespace
    return difflib.get_close_matches(ctx.args["name"], sorted(names), n=3, cutoff=0.6)


def _empty_deployments(ctx: CheckContext, cluster: str, target: Target
                       ) -> tuple[list[Finding], list[str], bool]:
    """Deployments of the target that want pods and have none: why, when it can be read."""
    findings, evidence, incomplete = [], [], False
    events = optional_get(ctx, TARGET_EVENTS, cluster)
    rs_read = optional_get(ctx, TARGET_REPLICASETS, cluster) is not None
    for w in target.workloads:
        if w.kind != "deployment" or w.pods or w.wanted == 0:
            continue
        if w.wanted is None:
            evidence.append(f"{w.ref} has no pods; how many it wants cannot be told: its "
                            "Deployment was not read")
            incomplete = True
            continue
        reasons = _refusals(w, events or [])
        if reasons:
            reason = reasons[0]  # the ReplicaSet's own condition first: the shortest account
        elif rs_read or events is not None:
            reason = "no ReplicaFailure condition or FailedCreate event records a refusal"
        else:
            evidence.append(f"{w.ref} wants {w.wanted} pods and none was found; why cannot be "
                            "told: neither its ReplicaSets nor the namespace's events were read")
            incomplete = True
            continue
        wanted = f"{w.wanted} replica{'s' if w.wanted != 1 else ''}"
        line = f"{w.ref} wants {wanted} and has no pod: {reason}"
        evidence.append(line)
        findings.append(ctx.finding("workload-no-pods", cluster=cluster, resource=w.ref,
                                    evidence=[line], workload=w.ref, namespace=target.namespace,
                                    replicas=wanted, reason=reason))
    return findings, evidence, incomplete


def _refusals(w: Workload, events: list[dict]) -> list[str]:
    """ReplicaFailure messages of the Deployment's ReplicaSets, then its FailedCreate events."""
    out = [f"ReplicaSet {name_of(rs)}: {c.get('message') or c.get('reason')}"
           for rs in w.replicasets for c in (rs.get("status") or {}).get("conditions") or []
           if c.get("type") == "ReplicaFailure" and c.get("status") == "True"]
    prefix = f"{w.name}-"
    for ev in events:
        ref = ev.get("involvedObject") or ev.get("regarding") or {}
        if ev.get("reason") == "FailedCreate" and ref.get("kind") == "ReplicaSet" \
                and str(ref.get("name", "")).startswith(prefix):
            out.append(f"event FailedCreate on ReplicaSet {ref.get('name')}: "
                       f"{ev.get('message') or ev.get('note') or ''}")
    return out


def _label(ctx: CheckContext) -> str:
    kind, name = ctx.args["kind"], ctx.args["name"]
    return f"namespace {name}" if kind == "ns" else f"{kind}/{name}"


def _overview(target: Target) -> list[str]:
    lines = []
    if target.kind == "ns":
        lines.append(f"namespace {target.name}: {len(target.workloads)} workloads, "
                     f"{target.count} pods, {target.sidecar_count} with a sidecar, "
                     f"{len(target.services)} Services")
        lines += [f"  {workload_line(w)}" for w in target.workloads[:SUMMARY_LIMIT]]
        if len(target.workloads) > SUMMARY_LIMIT:
            lines.append(f"  … {len(target.workloads) - SUMMARY_LIMIT} more workloads")
        return lines
    lines += [workload_line(w) for w in target.workloads]
    if not target.workloads:
        lines.append("no pods selected")
    for svc in target.services:
        lines.append(f"Service {name_of(svc)}: {_ports(svc)}")
    return lines
