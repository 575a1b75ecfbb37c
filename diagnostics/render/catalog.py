"""`meshbot catalog`: every finding id with its severity, texts and the checks that emit it,
and (json, markdown) every check with its description, the first line of its docstring."""

from __future__ import annotations

import json

import diagnostics.checks  # noqa: F401 - registers the checks
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
            "symptom": e.symptom, "title": e.title, "summary": e.summary, "cause": e.cause,
            "fix": list(e.fix), "commands": list(e.commands), "why": e.why, "docs": e.docs,
            "params": dict(e.params), "checks": checks}


def _checks() -> list[CheckSpec]:
    return sorted(REGISTRY.values(), key=lambda spec: spec.name)


def _check_dict(spec: CheckSpec) -> dict:
    return {"name": spec.name, "title": spec.title, "description": spec.description,
            "findings": list(spec.emits)}


def render_catalog(output: str = "text") -> str:
    entries = list(default_catalog().entries.values())
    emitters = _emitters()
    if output == "json":
        data = {"schema": "meshbot.catalog/v1",
                "findings": [_as_dict(e, emitters.get(e.id, [])) for e in entries],
                "checks": [_check_dict(spec) for spec in _checks()]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output == "markdown":
        return _markdown(entries, emitters)
    width = max(len(e.id) for e in entries)
    lines = [f"{e.id.ljust(width)}  {e.severity:<7}  {e.title}"
             f"{'' if e.id in emitters else '  (not checked yet)'}" for e in entries]
    return "\n".join(lines) + "\n"


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
