"""`meshbot catalog`: every finding id with its severity, texts and the checks that emit it,
and (json, markdown) every check with its description, the first line of its docstring.
`meshbot catalog <id>` shows one finding in full, in any of the formats."""

from __future__ import annotations

import difflib
import json

from diagnostics.catalog import CatalogEntry, default_catalog
from diagnostics.checking import CheckSpec, REGISTRY


def _emitters() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in REGISTRY.values():
        for fid in spec.emits:
            out.setdefault(fid, []).append(spec.name)
    return out


def _as_dict(e: CatalogEntry, checks: list[str]) -> dict:
    return {"id": e.id, "severity": e.severity, "rank": e.rank, "by_design": e.by_design,
            "symptom": e.symptom, "topology": e.topology, "title": e.title, "summary": e.summary,
            "cause": e.cause, "fix": list(e.fix), "commands": list(e.commands), "why": e.why,
            "docs": e.docs, "params": dict(e.params), "checks": checks}


def _checks() -> list[CheckSpec]:
    return sorted(REGISTRY.values(), key=lambda spec: spec.name)


def _check_dict(spec: CheckSpec) -> dict:
    return {"name": spec.name, "title": spec.title, "description": spec.description,
            "findings": list(spec.emits)}


class UnknownFinding(Exception):
    """`meshbot catalog <id>` named no finding of the catalog; the message suggests one."""


def render_catalog(output: str = "text", finding_id: str | None = None) -> str:
    entries = list(default_catalog().entries.values())
    emitters = _emitters()
    if finding_id is not None:
        entries = [_one(entries, finding_id)]
    if output == "json":
        if finding_id is not None:
            return json.dumps(_as_dict(entries[0], emitters.get(finding_id, [])), indent=2,
                              ensure_ascii=False) + "\n"
        data = {"schema": "meshbot.catalog/v1",
                "findings": [_as_dict(e, emitters.get(e.id, [])) for e in entries],
                "checks": [_check_dict(spec) for spec in _checks()]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output == "markdown":
        return _markdown(entries, emitters)
    if finding_id is not None:
        return _entry_text(entries[0], emitters.get(finding_id, []))
    width = max(len(e.id) for e in entries)
    lines = [f"{e.id.ljust(width)}  {e.severity:<7}  {e.title}"
             f"{'' if e.id in emitters else '  (not checked yet)'}" for e in entries]
    return "\n".join(lines) + "\n"


def _one(entries: list[CatalogEntry], finding_id: str) -> CatalogEntry:
    for e in entries:
        if e.id == finding_id:
            return e
    close = difflib.get_close_matches(finding_id[:60], [e.id for e in entries], n=1)
    hint = f"; did you mean {close[0]}?" if close else "; `meshbot catalog` lists them"
    raise UnknownFinding(f"no finding {finding_id[:60]!r} in the catalog{hint}")


def _entry_text(e: CatalogEntry, checks: list[str]) -> str:
    """One finding as a terminal shows it: its texts as templates, `{param}` placeholders
    explained after them."""
    out = [f"{e.id} ({e.severity}): {e.title}", "", f"Cause: {e.cause}", "", "Fix:"]
    out += [f"  {n}. {step}" for n, step in enumerate(e.fix, 1)]
    out += [f"  $ {cmd}" for cmd in e.commands]
    out += ["", f"Why it works: {e.why}", f"Docs: {e.docs}",
            f"Checks: {', '.join(checks) or 'none yet'}"]
    if e.params:
        out += ["", "Parameters:"] + [f"  {{{k}}}: {v}" for k, v in e.params.items()]
    return "\n".join(out) + "\n"


def _markdown(entries: list[CatalogEntry], emitters: dict[str, list[str]]) -> str:
    out = ["# meshbot finding catalog", "", "| id | severity | title | checks |", "|---|---|---|---|"]
    out += [f"| `{e.id}` | {e.severity} | {e.title} | {', '.join(emitters.get(e.id, [])) or '—'} |"
            for e in entries]
    for e in entries:
        out += ["", f"## `{e.id}` ({e.severity})", "", e.cause, "", "**Fix**", ""]
        out += [f"{n}. {step}" for n, step in enumerate(e.fix, 1)]
        if e.commands:
            out += ["", "```sh", *e.commands, "```"]
        out += ["", f"**Why it works:** {e.why}", "", f"Docs: {e.docs}"]
    out += ["", "## Checks", "", "| check | title | what it does | findings |", "|---|---|---|---|"]
    out += [f"| `{c.name}` | {_cell(c.title)} | {_cell(c.description)} | "
            f"{', '.join(f'`{fid}`' for fid in c.emits) or '—'} |" for c in _checks()]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"
