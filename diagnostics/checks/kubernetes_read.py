"""`ping`: proof that meshbot can read every cluster, cheaply.

Listing namespaces is the smallest read that needs working credentials and a reachable API
server; with the cluster identity reads every diagnosis makes, it shows each cluster answers.
The time each cluster took is the report's (`read_seconds_by_cluster`), shown by the renderers.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import NAMESPACES
from diagnostics.model import Step
from diagnostics.workloads import name_of

TITLE = "Kubernetes API reads"
SHOWN = 4  # namespaces named in the evidence; the count says the rest


@check("kubernetes-read", title=TITLE, inputs=(NAMESPACES,))
def kubernetes_read(ctx: CheckContext) -> list[Step]:
    """List the namespaces of every cluster read: each one that answers proves meshbot's
    credentials and the way to its API server work."""
    def one(cluster: str) -> Step:
        names = sorted(name_of(n) for n in ctx.get(NAMESPACES, cluster))
        more = f", … ({len(names)} in all)" if len(names) > SHOWN else ""
        listed = ", ".join(names[:SHOWN]) + more
        return ctx.step(TITLE, cluster, [f"{len(names)} namespaces listed "
                                         f"({listed or 'none'})"])
    return per_cluster(ctx, TITLE, ctx.focus, one)
