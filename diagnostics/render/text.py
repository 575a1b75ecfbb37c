"""A report as terminal text: verdict first, then the steps, then the findings with their fixes."""

from __future__ import annotations

from diagnostics.model import RenderedFinding, Report, Step
from diagnostics.render.grouping import FindingGroup, group_findings

_VERDICT = {"problem": ("✖", "PROBLEM", "31"), "healthy": ("✔", "HEALTHY", "32"),
            "expected": ("ℹ", "EXPECTED", "36"), "inconclusive": ("?", "INCONCLUSIVE", "33")}
_STATUS = {"pass": ("✔", "32"), "fail": ("✖", "31"), "warn": ("!", "33"), "skip": ("–", "90"),
           "error": ("?", "33")}
_SEVERITY = {"error": "31", "warning": "33", "info": "36"}


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self(text, "1")


def command_line(report: Report) -> str:
    args = dict(report.args)
    words = [report.command]
    if "kind" in args and "name" in args:  # check: kubectl's kind/name
        words.append(f"{args.pop('kind')}/{args.pop('name')}")
        if args.get("namespace") == report.args["name"] and report.args["kind"] == "ns":
            args.pop("namespace")
    for key in ("service", "kind", "name"):
        if key in args:
            words.append(str(args.pop(key)))
    if "namespace" in args:
        words += ["-n", str(args.pop("namespace"))]
    if "from" in args:
        words += ["--from", str(args.pop("from"))]
    return " ".join(words)


def render_text(report: Report, *, color: bool = False) -> str:
    s = _Style(color)
    mark, label, code = _VERDICT[report.verdict]
    reach = ", ".join(c.label + ("" if c.reachable else " (unreachable)")
                      for c in report.clusters)
    cached = " · cached" if report.cached else ""
    out = [f"{s(mark + ' ' + label, code)}  {s.bold(command_line(report))}",
           report.summary,
           s(f"clusters: {reach} · {report.api_calls} API calls · {report.duration_ms:.0f} ms{cached}",
             "90"),
           "", s.bold("Steps")]
    for i, step in enumerate(report.steps, 1):
        out += _step(s, i, step)
    if report.findings:
        out += ["", s.bold("Findings (most likely cause first)")]
        for i, group in enumerate(group_findings(report.findings), 1):
            out += _finding(s, i, group.head) + _more(group)
    if report.errors:
        out += ["", s.bold("Could not read")]
        out += [f"  {e.cluster} ({e.source}): {e.message}" for e in report.errors]
    return "\n".join(out) + "\n"


def _step(s: _Style, i: int, step: Step) -> list[str]:
    mark, code = _STATUS[step.status]
    where = f" [{step.cluster}]" if step.cluster else ""
    ids = f"  → {', '.join(f.id for f in step.findings)}" if step.findings else ""
    lines = [f"{i:>2} {s(mark, code)} {step.title}{where}{s(ids, '90')}"]
    lines += [f"     {line}" for line in step.evidence]
    return lines


def _more(group: FindingGroup) -> list[str]:
    if not group.more:
        return []
    return [f"    {group.more_heading()}"] + [f"      {line}" for line in group.member_lines()]


def _finding(s: _Style, i: int, f: RenderedFinding) -> list[str]:
    where = " ".join(x for x in (f"[{f.cluster}]" if f.cluster else "", f.resource or "") if x)
    lines = [f"{i:>2}. {s(f.severity.upper(), _SEVERITY[f.severity])} {s.bold(f.id)} {where}",
             f"    {s.bold(f.title)}",
             f"    Cause: {f.cause}"]
    if f.evidence:
        lines.append("    Evidence:")
        lines += [f"      - {e}" for e in f.evidence]
    if f.fix:
        lines.append("    Fix:")
        lines += [f"      {n}. {step}" for n, step in enumerate(f.fix, 1)]
    for cmd in f.commands:
        lines += [f"      {s('$', '90')} {line}" if n == 0 else f"        {line}"
                  for n, line in enumerate(cmd.splitlines())]
    lines.append(f"    Why it works: {f.why}")
    lines.append(f"    Docs: {f.docs}")
    return lines
