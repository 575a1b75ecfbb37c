"""From steps to an answer: which finding comes first, the verdict, and the one-line summary."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.catalog import Catalog
from diagnostics.model import (SEVERITY_ORDER, ClusterStatus, Finding, RenderedFinding,
                               SourceError, Step, Verdict)


@dataclass
class Conclusion:
    verdict: Verdict
    summary: str
    findings: list[RenderedFinding]
    step_refs: list[list[int]]  # per step, indexes of its findings in `findings`


def ordered_findings(steps: list[Step], catalog: Catalog
                     ) -> tuple[list[RenderedFinding], list[list[int]]]:
    """Render every finding once, most direct explanation first.

    Severity first (an error explains a failure better than a warning), then the catalog rank
    (specific causes rank before the general symptom they produce), then step order. Returns
    the findings and, for each step, where its findings ended up.
    """
    keyed, where = [], []
    positions: dict[tuple, int] = {}
    for index, step in enumerate(steps):
        refs = []
        for finding in step.findings:
            rendered = catalog.render(finding)
            key = (rendered.id, rendered.cluster, rendered.resource, rendered.title)
            if key not in positions:
                positions[key] = len(keyed)
                keyed.append(((SEVERITY_ORDER[rendered.severity], rendered.rank, index,
                               rendered.cluster or ""), rendered))
            refs.append(positions[key])
        where.append(refs)
    order = sorted(range(len(keyed)), key=lambda i: keyed[i][0])
    new_index = {old: new for new, old in enumerate(order)}
    return [keyed[i][1] for i in order], [[new_index[r] for r in refs] for refs in where]


def drop_explained_symptoms(steps: list[Step], catalog: Catalog) -> None:
    """A symptom finding ("the client sees only local endpoints") adds nothing once a specific
    cause is known; it stays only when meshbot found no cause, so the answer is never healthy."""
    def is_cause(f: Finding) -> bool:
        entry = catalog.entry(f.id)
        return not entry.symptom and (f.severity or entry.severity) == "error"

    if any(is_cause(f) for s in steps for f in s.findings):
        for step in steps:
            step.findings = [f for f in step.findings if not catalog.entry(f.id).symptom]


def conclude(steps: list[Step], clusters: list[ClusterStatus], errors: list[SourceError],
             catalog: Catalog) -> Conclusion:
    drop_explained_symptoms(steps, catalog)
    findings, refs = ordered_findings(steps, catalog)
    errors_found = [f for f in findings if f.severity == "error"]
    by_design = [f for f in findings if f.by_design]
    incomplete = any(s.incomplete for s in steps) or any(not c.reachable for c in clusters)
    if errors_found:
        verdict: Verdict = "problem"
        summary = errors_found[0].summary
        if len(errors_found) > 1:
            summary += f" ({len(errors_found) - 1} more problem{'s' if len(errors_found) > 2 else ''} below.)"
    elif by_design:
        verdict, summary = "expected", by_design[0].summary
    elif incomplete:
        verdict, summary = "inconclusive", _inconclusive_summary(steps, clusters, errors)
    else:
        verdict, summary = "healthy", _healthy_summary(steps, clusters)
    return Conclusion(verdict, summary, findings, refs)


def _names(clusters: list[ClusterStatus]) -> str:
    return ", ".join(c.name for c in clusters) or "no cluster"


def _healthy_summary(steps: list[Step], clusters: list[ClusterStatus]) -> str:
    warnings = sum(1 for s in steps if s.status == "warn")
    tail = f"; {warnings} warning{'s' if warnings != 1 else ''} below" if warnings else ""
    return f"No problem found across {_names(clusters)} ({len(steps)} steps checked{tail})."


def _inconclusive_summary(steps: list[Step], clusters: list[ClusterStatus],
                          errors: list[SourceError]) -> str:
    told = next((s.data["inconclusive"] for s in steps if s.incomplete
                 and s.data.get("inconclusive")), None)
    down = [c.name for c in clusters if not c.reachable]
    if told and not down:
        return told
    if down:
        reasons = {e.cluster: e.message for e in errors}
        parts = [f"{c} ({reasons[c]})" if c in reasons else c for c in down]
        return f"Could not diagnose fully: cannot reach {', '.join(parts)}."
    missing = sum(1 for s in steps if s.incomplete)
    return (f"No problem found, but {missing} step{'s' if missing != 1 else ''} could not read "
            f"what {'they' if missing != 1 else 'it'} needed; see below.")
