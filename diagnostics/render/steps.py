"""Runbook steps as people read them: grouped, numbered and titled once for every renderer.

A check runs once per cluster (or once for the whole mesh); its consecutive runs form one
runbook step. Slack and the terminal both number steps from here, so "step 5" is the same step
in a thread, in `meshbot mesh ...` and in the Details view, and neither renderer needs to know
the check registry.

Every renderer splits an answer the same way: the steps that need attention (a run failed,
warned or could not be evaluated, or a by-design finding explains the symptom) are shown in full
with their findings; the others (passed, skipped) get one line each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostics.checking import REGISTRY
from diagnostics.model import RenderedFinding, Report, Step

STATUS_ORDER = ("error", "fail", "warn", "skip", "pass")  # most alarming first
NOTABLE = frozenset({"error", "fail", "warn"})
STATUS_WORD = {"pass": "passed", "fail": "failed", "warn": "warning", "skip": "skipped",
               "error": "could not be evaluated"}
NOTE_LIMIT = 100  # characters of a skipped step's reason on its one line


def worst_status(steps: list[Step]) -> str:
    """The status a group of steps shows: the most alarming of its members."""
    return min((s.status for s in steps), key=STATUS_ORDER.index)


@dataclass
class RunbookStep:
    """One numbered step: the runs of one check (one per cluster, or one for the mesh) and the
    findings worth showing with it."""

    number: int
    title: str
    runs: list[Step]
    findings: list[RenderedFinding] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst_status(self.runs)

    @property
    def cluster(self) -> str | None:
        """The cluster of a step that ran once, in one cluster."""
        return self.runs[0].cluster if len(self.runs) == 1 else None

    @property
    def notable(self) -> bool:
        """Shown in full: something failed, warned or could not be evaluated, or a by-design
        finding explains the symptom."""
        return self.status in NOTABLE or any(f.by_design for f in self.findings)

    def run_label(self, run: Step) -> str:
        """How a run is introduced under its step: its cluster, and its own title where the
        runs' titles differ (`cluster2: East-west gateway of network network2`)."""
        head = run.cluster or "mesh"
        return f"{head}: {run.title}" if run.title != self.title else head

    def note(self) -> str:
        """What the one line of a step that needs no attention says after its title: where it
        was skipped and why (a skipped run's last evidence line says why)."""
        skipped = [r for r in self.runs if r.status == "skip"]
        if not skipped:
            return ""
        reason = _cut(skipped[0].evidence[-1]) if skipped[0].evidence else "not evaluated"
        where = ", ".join(r.cluster for r in skipped if r.cluster)
        return f"skipped in {where}: {reason}" if where else f"skipped: {reason}"


def _cut(text: str, limit: int = NOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def runbook_steps(report: Report) -> list[RunbookStep]:
    """The report's steps grouped into numbered runbook steps, in command order."""
    out: list[RunbookStep] = []
    for number, group in enumerate(_groups(report), 1):
        runs = [report.steps[i] for i in group]
        findings: list[RenderedFinding] = []
        for i in group:
            step = report.steps[i]
            findings += [f for f in report.step_findings(i)
                         if (step.status in NOTABLE or f.by_design) and f not in findings]
        out.append(RunbookStep(number, _title(runs), runs, findings))
    return out


def _groups(report: Report) -> list[list[int]]:
    """Consecutive steps of one check (its per-cluster runs) form one runbook step."""
    groups: list[list[int]] = []
    for i, step in enumerate(report.steps):
        prev = report.steps[i - 1] if i else None
        if prev is not None and step.check and prev.check == step.check:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _title(runs: list[Step]) -> str:
    """The runs' common title, or the check's own title when each run names its subject."""
    title = runs[0].title
    if any(r.title != title for r in runs):
        spec = REGISTRY.get(runs[0].check)
        return spec.title if spec else title
    return title


def first_fix(report: Report) -> str | None:
    """The first thing to do: the first fix step of the most likely cause, past the statement
    of what a destructive fix rests on (that evidence is in the steps)."""
    if not report.findings:
        return None
    finding = report.findings[0]
    fix = finding.fix[1:] if finding.basis and len(finding.fix) > 1 else finding.fix
    return fix[0] if fix else None
