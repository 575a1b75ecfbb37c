"""A report as terminal text, shaped like the Slack answer: the verdict, then every step that
needs attention in full (evidence, findings with cause, fix, commands and why), then one line
per step that passed or was skipped. `verbose` shows every step in full, in order.

Lines wrap to the terminal's width with a hanging indent; words are never broken, so a name or
URL longer than the width stays whole (the terminal wraps it). Commands wrap at spaces outside
quotes with a shell continuation (` \\`), so a wrapped command still pastes and runs.
"""

from __future__ import annotations

import textwrap

from diagnostics.model import RenderedFinding, Report, Step
from diagnostics.render.grouping import FindingGroup, group_findings
from diagnostics.render.steps import RunbookStep, runbook_steps

_VERDICT = {"problem": ("✖", "PROBLEM", "31"), "healthy": ("✔", "HEALTHY", "32"),
            "expected": ("ℹ", "EXPECTED", "36"), "inconclusive": ("?", "INCONCLUSIVE", "33")}
STATUS_MARK = {"pass": "✔", "fail": "✖", "warn": "!", "skip": "–", "error": "?"}
_STATUS_COLOR = {"pass": "32", "fail": "31", "warn": "33", "skip": "90", "error": "33"}
_SEVERITY = {"error": "31", "warning": "33", "info": "36"}
DEFAULT_WIDTH = 80
MIN_WIDTH = 40


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self(text, "1")


class _Out:
    """Lines being written, each wrapped to the width with a hanging indent."""

    def __init__(self, width: int, style: _Style):
        self.width, self.s = max(MIN_WIDTH, width), style
        self.lines: list[str] = []

    def para(self, text: str, indent: int = 0, hang: int = 2, code: str | None = None) -> None:
        """`text` wrapped; continuation lines indented `hang` more than the first."""
        first, rest = " " * indent, " " * (indent + hang)
        for i, line in enumerate(text.splitlines() or [""]):
            wrapped = textwrap.wrap(line, self.width, initial_indent=first if i == 0 else rest,
                                    subsequent_indent=rest, break_long_words=False,
                                    break_on_hyphens=False) or [""]
            self.lines += [self.s(w, code) if code else w for w in wrapped]

    def command(self, cmd: str, indent: int) -> None:
        """A shell command after `$ `, wrapped with ` \\` continuations."""
        for n, line in enumerate(cmd.splitlines()):
            lead = " " * indent + (self.s("$", "90") + " " if n == 0 else "  ")
            self.lines += wrap_command(line, self.width, lead, " " * (indent + 4))

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")


def wrap_command(cmd: str, width: int, lead: str, cont: str) -> list[str]:
    """`cmd` in lines of at most `width` (but for words longer than that), split at spaces
    outside quotes, every line but the last ending in ` \\`."""
    words = _shell_words(cmd)
    lines: list[str] = []
    current = lead
    visible = len(_plain(lead))
    for word in words:
        extra = len(word) + (0 if current in (lead, cont) else 1)
        if current not in (lead, cont) and visible + extra + 2 > width:
            lines.append(current + " \\")
            current, visible = cont + word, len(cont) + len(word)
            continue
        current += ("" if current in (lead, cont) else " ") + word
        visible += extra
    lines.append(current)
    return lines


def _plain(text: str) -> str:
    """Text without ANSI colour codes (for measuring)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("\033[", i):
            i = text.find("m", i) + 1 or len(text)
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _shell_words(cmd: str) -> list[str]:
    """Split at spaces outside single and double quotes, keeping the quotes."""
    words, word, quote = [], "", ""
    for ch in cmd:
        if quote:
            word += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            word += ch
            quote = ch
        elif ch == " ":
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
    if word:
        words.append(word)
    return words


def command_line(report: Report) -> str:
    """The command that produced the report, as it would be typed again."""
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


def clusters_line(report: Report, read_times: bool = False) -> str:
    """The clusters read (with `read_times`, how long each took, when the report was just
    diagnosed: what `ping` is asked for), the API calls and the time the answer took."""
    parts = []
    for c in report.clusters:
        seconds = report.read_seconds_by_cluster.get(c.name) if read_times else None
        took = f" {seconds * 1000:.0f} ms" if seconds is not None and c.reachable else ""
        parts.append(c.label + ("" if c.reachable else " (unreachable)") + took)
    cached = " · cached" if report.cached else ""
    return (f"clusters: {', '.join(parts) or 'none'} · {report.api_calls} API calls · "
            f"{report.duration_ms:.0f} ms{cached}")


def render_text(report: Report, *, color: bool = False, width: int = DEFAULT_WIDTH,
                verbose: bool = False) -> str:
    """The report for a terminal `width` columns wide."""
    s = _Style(color)
    out = _Out(width, s)
    verbose = verbose or report.command == "ping"  # a ping is asked for what each cluster said
    mark, label, code = _VERDICT[report.verdict]
    out.lines.append(f"{s(mark + ' ' + label, code)}  {s.bold(command_line(report))}")
    out.para(report.summary, hang=0)
    out.para(clusters_line(report, read_times=report.command == "ping"), hang=2, code="90")
    steps = runbook_steps(report)
    shown = steps if verbose else [st for st in steps if st.notable]
    for step in shown:
        out.blank()
        _full_step(out, step, verbose)
    rest = [] if verbose else [st for st in steps if not st.notable]
    if rest:
        out.blank()
        for step in rest:
            _step_line(out, step)
    if report.errors:
        out.blank()
        out.lines.append(s.bold("Could not read"))
        for e in report.errors:
            out.para(f"{e.cluster} ({e.source}): {e.message}", indent=2, hang=2)
    if not verbose and any(st.runs for st in steps):
        out.para("-v/--verbose shows the evidence of every step; -o json the whole report.",
                 code="90")
    return "\n".join(out.lines) + "\n"


def _step_head(step: RunbookStep, quiet: list[Step]) -> str:
    """`✖ 9. Remote secrets — cluster1`; runs that need no attention are named at the end
    (`(✔ cluster2)`), their evidence left to -v."""
    where = f" — {step.cluster}" if step.cluster else ""
    rest = f" ({', '.join(f'{STATUS_MARK[r.status]} {step.run_label(r)}' for r in quiet)})" \
        if quiet else ""
    return f"{STATUS_MARK[step.status]} {step.number}. {step.title}{where}{rest}"


def _head(out: _Out, text: str, mark_code: str, indent: int = 0) -> None:
    """A heading wrapped like prose; on a terminal its first word coloured, the rest bold."""
    lines = textwrap.wrap(text, out.width, initial_indent=" " * indent,
                          subsequent_indent=" " * (indent + 3), break_long_words=False,
                          break_on_hyphens=False) or [text]
    if out.s.color:
        first, _, rest = lines[0][indent:].partition(" ")
        lines[0] = " " * indent + out.s(first, mark_code) + " " + out.s.bold(rest)
    out.lines += lines


def _step_line(out: _Out, step: RunbookStep) -> None:
    """One line for a step that passed or was skipped, cut to the width (-v shows it all)."""
    s = out.s
    note = step.note()
    text = f"{step.number}. {step.title}" + (f" — {note}" if note else "")
    if len(text) > out.width - 2:
        text = text[: out.width - 3] + "…"
    status = step.status
    out.lines.append(f"{s(STATUS_MARK[status], _STATUS_COLOR[status])} {text}")


def _full_step(out: _Out, step: RunbookStep, verbose: bool) -> None:
    """A step with its evidence (every run's, or in the default view only the runs that need
    attention, the others named in its head line) and its findings."""
    single = len(step.runs) == 1
    shown = [r for r in step.runs if single or verbose or r.status in ("fail", "warn", "error")
             or r.findings]
    quiet = [r for r in step.runs if r not in shown]
    _head(out, _step_head(step, quiet), _STATUS_COLOR[step.status])
    for run in shown:
        if single:
            _evidence(out, run.evidence, indent=2)
        else:
            _evidence(out, run.evidence, indent=4, run=run, label=step.run_label(run))
    seen = {line for run in step.runs for line in run.evidence}
    for group in group_findings(step.findings):
        _finding(out, group.head, seen, verbose)
        _more(out, group)


def _evidence(out: _Out, lines: list[str], indent: int, run: Step | None = None,
              label: str = "") -> None:
    """Evidence lines as the checks wrote them (their own indentation kept), wrapped; a
    `run`'s mark and `label` start the first line (a cluster's run under its step)."""
    for n, line in enumerate(lines or [""]):
        stripped = line.lstrip(" ")
        depth = indent + len(line) - len(stripped)
        if n == 0 and run is not None:
            first = len(out.lines)
            out.para(f"  {STATUS_MARK[run.status]} {label}: {stripped}", indent=0, hang=depth)
            mark = STATUS_MARK[run.status]
            out.lines[first] = out.lines[first].replace(
                mark, out.s(mark, _STATUS_COLOR[run.status]), 1)
        else:
            out.para(stripped, indent=depth, hang=2)


def _more(out: _Out, group: FindingGroup) -> None:
    if not group.more:
        return
    out.para(group.more_heading(), indent=2)
    for line in group.member_lines():
        if line.startswith("  $ "):
            out.command(line[4:], indent=6)
        else:
            out.para(line, indent=4)


def _finding(out: _Out, f: RenderedFinding, shown: set[str], verbose: bool) -> None:
    """A finding: what it is, the cause, evidence the step did not already show, the fix with
    its commands, and why the fix works."""
    s = out.s
    where = " · ".join(x for x in (f.cluster, f.resource) if x)
    _head(out, f"{f.severity.upper()} {f.id}" + (f" · {where}" if where else ""),
          _SEVERITY[f.severity], indent=2)
    out.para(f.title, indent=2, code="1" if s.color else None)
    out.para(f"Cause: {f.cause}", indent=2)
    stated = " ".join(f.fix)  # a destructive fix states the evidence it rests on
    extra = f.evidence if verbose else [e for e in f.evidence
                                        if e not in shown and e not in stated]
    if extra:
        out.lines.append("  Evidence:")
        for line in extra:
            out.para(f"- {line}", indent=4)
    if f.fix:
        out.lines.append("  Fix:")
        for n, text in enumerate(f.fix, 1):
            out.para(f"{n}. {text}", indent=2, hang=3)
    for cmd in f.commands:
        out.command(cmd, indent=2)
    out.para(f"Why it works: {f.why}", indent=2)
    out.lines.append(s(f"  Docs: {f.docs}", "90"))  # a URL is never broken
