"""The finding catalog: one YAML file holds every id with its severity, texts and fix.

Checks emit ids and parameters; this module turns them into the titles, causes, fix steps and
commands a person reads. Templates are `str.format` fields. A parameter a check did not supply
renders as `<name>` so a production answer is never lost to a template slip; with
MESHBOT_STRICT_TEMPLATES=1 (the test suite sets it) it raises instead.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping


from diagnostics import yaml_text
from diagnostics.model import Finding, RenderedFinding

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
# Commands that delete, recreate or overwrite something that exists: a fix holding one is
# printed only with the evidence it rests on (the finding's `basis`), never on an inference.
DESTRUCTIVE = re.compile(
    r"kubectl\s+delete\b|--overwrite\b|kubectl\s+patch\b"
    r"|(create\s+secret|create-remote-secret)[^|]*\|\s*kubectl\s+apply"
    r"|kubectl\s+apply\b[^\n]*remote-secret")
BASIS = "basis"  # the finding parameter listing the evidence lines destructive steps rest on
SCHEMA = "meshbot.catalog/v1"
_FIELDS = ("title", "summary", "cause", "why")
_LIST_FIELDS = ("fix", "commands")


class CatalogError(Exception):
    """The catalog file is malformed, or a finding refers to an unknown id."""


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    severity: str
    rank: int
    by_design: bool
    symptom: bool  # states the symptom itself; shown only when no specific cause was found
    title: str
    summary: str
    cause: str
    fix: tuple[str, ...]
    commands: tuple[str, ...]
    why: str
    docs: str
    params: Mapping[str, str]
    guard: str = ""  # what must have been read before a destructive command may be printed
    # About the mesh's shape (a link between clusters, a network's gateway, the trust clusters
    # share): an answer with one gets the topology picture in Slack (bot/pictures.py).
    topology: bool = False

    @property
    def destructive(self) -> bool:
        return any(DESTRUCTIVE.search(c) for c in self.commands)

    def placeholders(self) -> set[str]:
        """Every template field this entry uses (for the catalog meta-tests)."""
        texts = [getattr(self, f) for f in _FIELDS] + list(self.fix) + list(self.commands)
        texts.append(self.guard)
        fmt = string.Formatter()
        return {name for t in texts for _, name, _, _ in fmt.parse(t) if name}


class _Params(dict):
    """Template parameters; a missing one renders visibly, or raises in strict mode."""

    def __init__(self, values: Mapping[str, Any], strict: bool):
        super().__init__({k: _text(v) for k, v in values.items()})
        self.strict = strict

    def __missing__(self, key: str) -> str:
        if self.strict:
            raise KeyError(key)
        return f"<{key}>"


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)


class Catalog:
    """Loaded catalog entries by id, and the ids that went away (`retired`: id → why)."""

    def __init__(self, entries: dict[str, CatalogEntry], retired: dict[str, str] | None = None):
        self.entries = entries
        self.retired = dict(retired or {})

    def __contains__(self, finding_id: str) -> bool:
        return finding_id in self.entries

    def entry(self, finding_id: str) -> CatalogEntry:
        try:
            return self.entries[finding_id]
        except KeyError:
            raise CatalogError(f"finding id {finding_id!r} is not in the catalog") from None

    def render(self, finding: Finding) -> RenderedFinding:
        e = self.entry(finding.id)
        strict = os.environ.get("MESHBOT_STRICT_TEMPLATES") == "1"
        basis = [str(b) for b in finding.params.get(BASIS) or []]
        params = _Params({"cluster": finding.cluster or "",
                          **{k: v for k, v in finding.params.items() if k != BASIS}}, strict)
        try:
            fill = lambda t: t.format_map(params)  # noqa: E731 - tiny local helper
            fix, commands = _guarded(e, [fill(s) for s in e.fix],
                                     [fill(c) for c in e.commands], fill(e.guard), basis)
            return RenderedFinding(
                id=e.id, severity=finding.severity or e.severity,  # type: ignore[arg-type]
                cluster=finding.cluster, resource=finding.resource,
                title=fill(e.title), summary=fill(e.summary), cause=fill(e.cause),
                evidence=list(finding.evidence), fix=fix, commands=commands,
                why=fill(e.why), docs=e.docs, rank=e.rank, by_design=e.by_design,
                basis=basis if e.destructive else [],
            )
        except KeyError as exc:
            raise CatalogError(f"{finding.id}: template parameter {exc} not supplied") from None


def _guarded(e: CatalogEntry, fix: list[str], commands: list[str], guard: str,
             basis: list[str]) -> tuple[list[str], list[str]]:
    """A fix that deletes or overwrites, stated with the evidence it rests on; without that
    evidence, only the way to confirm it (read-only commands) and no step that destroys."""
    if not e.destructive:
        return fix, commands
    if basis:
        return [f"What these steps change rests on what meshbot read: {'; '.join(basis)}.",
                *fix], commands
    safe = [c for c in commands if not DESTRUCTIVE.search(c)]
    return [f"meshbot could not confirm {guard}, so it gives no step that deletes, recreates "
            "or overwrites anything: confirm it first with the commands below, then ask "
            "again."], safe


def parse_catalog(data: Any, source: str = str(CATALOG_PATH)) -> Catalog:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise CatalogError(f"{source}: expected schema {SCHEMA}")
    entries = {}
    for fid, raw in (data.get("findings") or {}).items():
        try:
            entries[fid] = CatalogEntry(
                id=fid, severity=raw["severity"], rank=int(raw["rank"]),
                by_design=bool(raw.get("by_design", False)),
                symptom=bool(raw.get("symptom", False)),
                title=raw["title"], summary=raw["summary"], cause=raw["cause"],
                fix=tuple(raw.get("fix") or ()), commands=tuple(raw.get("commands") or ()),
                why=raw["why"], docs=raw["docs"], params=dict(raw.get("params") or {}),
                guard=str(raw.get("guard") or ""),
                topology=bool(raw.get("topology", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogError(f"{source}: entry {fid!r}: missing or bad field {exc}") from None
        if entries[fid].severity not in ("error", "warning", "info"):
            raise CatalogError(f"{source}: entry {fid!r}: bad severity {entries[fid].severity!r}")
        if entries[fid].destructive and not entries[fid].guard:
            raise CatalogError(f"{source}: entry {fid!r}: a command deletes or overwrites, so "
                               "the entry needs a `guard` (what must have been read first)")
    retired = data.get("retired") or {}
    if not isinstance(retired, dict):
        raise CatalogError(f"{source}: retired: must map each retired id to why it went away")
    return Catalog(entries, {str(k): str(v) for k, v in retired.items()})


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog, parsed once per process."""
    with CATALOG_PATH.open(encoding="utf-8") as fh:
        # libyaml's parser when present: 130 kB of YAML in 7 ms instead of 80 (every CLI
        # diagnosis pays it); the same safe constructor either way
        return parse_catalog(yaml_text.load(fh))
