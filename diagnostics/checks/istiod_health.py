"""`control-plane` step 1: istiod's health in each cluster.

Every istiod pod with its version (image tag), node, restarts, requests and limits; a pod that
does not serve gets `istiod-unhealthy` with the precise reason (Pending and the scheduler's
words, CrashLoopBackOff with the last exit, OOMKilled with the memory limit, not Ready with the
failing probe) and its node's pressure conditions. The webhooks that call istiod are the next
step (webhooks.py).
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES
from diagnostics.model import Step
from diagnostics.views.istiod_health import HEALTH, health_step


@check("istiod-health", title="istiod pods, versions and resources",
       inputs=(ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES),
       emits=("istiod-unhealthy",))
def istiod_health(ctx: CheckContext) -> list[Step]:
    """Every istiod pod's state, version and resources; why a pod that does not serve fails."""
    return per_cluster(ctx, HEALTH, ctx.focus, lambda c: health_step(ctx, c, detailed=True))
