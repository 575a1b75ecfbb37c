"""The namespace a mesh-wide command is narrowed to (`proxy-status -n <ns>`), looked up first.

An empty answer about a namespace that exists nowhere reads like a healthy one: `proxy-status
-n sampel` would list no stale proxy because there is no proxy at all. The step finds the
namespace in the clusters read, as `check ns/<name>` finds its target, and when no cluster has
it the answer is a finding naming similar namespaces, not a silent pass.
"""

from __future__ import annotations

import difflib

from diagnostics.checking import CheckContext, check
from diagnostics.facts import Unavailable
from diagnostics.inputs import NAMESPACES
from diagnostics.model import Step
from diagnostics.workloads import name_of

LIST_COMMAND = "kubectl get namespaces --context=<context of each cluster>"


@check("namespace-presence", title="The namespace asked about", inputs=(NAMESPACES,),
       emits=("namespace-not-found",))
def namespace_presence(ctx: CheckContext) -> list[Step]:
    """Find the namespace a mesh-wide command is narrowed to in every cluster read; when none
    has it, a finding names the namespaces that resemble it."""
    namespace = ctx.args.get("namespace")
    if not namespace:
        return []  # every namespace is examined: nothing to look up
    title = f"Namespace {namespace}"
    having, lacking, unread, names = [], [], [], set()
    for cluster in ctx.cluster_names:
        try:
            present = {name_of(n) for n in ctx.get(NAMESPACES, cluster)}
        except Unavailable as exc:
            unread.append(f"{cluster}: could not list namespaces ({exc.reason})")
            continue
        names |= present
        (having if namespace in present else lacking).append(cluster)
    evidence = [f"namespace {namespace} present in {', '.join(having)}"] if having else []
    evidence += [f"namespace {namespace} not present in {', '.join(lacking)}"] if lacking else []
    evidence += unread
    if having:
        return [ctx.step(title, None, evidence, status="pass")]
    if unread:  # it may be where it could not be looked for: no verdict of absence
        step = ctx.step(title, None, evidence, status="error")
        step.incomplete = True
        return [step]
    similar = difflib.get_close_matches(namespace, sorted(names), n=3, cutoff=0.6)
    finding = ctx.finding("namespace-not-found", cluster=None, resource=f"Namespace/{namespace}",
                          evidence=[f"namespace {namespace} not present in "
                                    f"{', '.join(lacking)}"],
                          similar=", ".join(similar) or "none found",
                          list_command=LIST_COMMAND)
    return [ctx.step(title, None, evidence + [f"similar names: {', '.join(similar) or 'none'}"],
                     [finding])]
