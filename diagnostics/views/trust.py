"""What the trust checks share: the clusters whose inputs could not be read, and the one
mesh-wide step comparing every cluster's answer.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, Unavailable
from diagnostics.model import Finding, Step


def unread_lines(cluster: str, exc: Unavailable) -> str:
    return f"{cluster}: {'could not read' if exc.captured else 'not captured'} ({exc.reason})"


def across_clusters_step(ctx: CheckContext, title: str, evidence: list[str], findings: list[Finding],
                     unread: list[Unavailable]) -> Step:
    """The one step comparing every cluster; a cluster that could not be read makes it
    incomplete (and so, without a finding, not a pass: see CheckContext.settle)."""
    step = ctx.step(title, None, evidence, findings)
    step.incomplete = bool(unread)
    return step
