"""`why-local-only` and `proxy-status`: whether each cluster's istiod serves at all.

The same judgement as control-plane's istiod-health (views/istiod_health.py), and the same
finding, from the istiod pods alone, which every diagnosis reads anyway.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import ISTIOD_PODS
from diagnostics.model import Step
from diagnostics.views.istiod_health import SERVING, health_step


@check("istiod-serving", title="istiod serving", inputs=(ISTIOD_PODS,),
       emits=("istiod-unhealthy",))
def istiod_serving(ctx: CheckContext) -> list[Step]:
    """Whether each cluster's istiod replicas serve, from their pods alone. Every answer that
    rests on istiod's view (why-local-only, proxy-status) depends on it: with a cluster's only
    istiod crash-looping its proxies get no configuration, its debug endpoints cannot be read,
    and those commands answered "inconclusive" where the cause was in the pod's status all
    along. The istiod pods are read by every diagnosis anyway; istiod-health (control-plane,
    the digest) adds the Deployment, the events and the nodes that say why. A step only where
    an istiod does not serve (or could not be judged): these answers are read on one screen."""
    steps = per_cluster(ctx, SERVING, ctx.focus, lambda c: health_step(ctx, c, detailed=False))
    # where every istiod serves, the answer needs no step of it (control-plane shows them all)
    return steps if any(s.status not in ("pass", "skip") for s in steps) else []
