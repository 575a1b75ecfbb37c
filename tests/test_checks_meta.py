"""Meta-tests that keep check declarations and the catalog honest (as Istio does for analyzers).

- every id a check may emit is in the catalog, and every catalog template parameter is declared;
- every catalog id is produced by some scenario, or is explicitly pending (and then produced by
  none, so the pending list can only shrink);
- a check reads only what it declares (enforced at run time) and reads everything it declares
  in some scenario;
- package boundaries: only bot/ knows Slack; diagnostics/ never imports bot/ or handlers/.
"""

from __future__ import annotations

import ast
import asyncio
from functools import lru_cache
from pathlib import Path

import pytest

import diagnostics.checks  # noqa: F401 - registers every check
from diagnostics.catalog import default_catalog
from diagnostics.checking import REGISTRY
from handlers.commands import COMMANDS
from tests.scenario_support import PENDING_IDS, run_snapshot, scenarios

REPO = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def scenario_runs() -> tuple[set[str], dict[str, set]]:
    """(ids produced, inputs read per check) over every scenario, via the snapshot source."""
    produced, _pairs, reads = _runs()
    return produced, reads


@lru_cache(maxsize=1)
def _runs() -> tuple[set[str], set[tuple[str, str]], dict[str, set]]:
    """(ids produced, (check, id) pairs produced, inputs read per check) over every scenario."""
    produced: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    reads: dict[str, set] = {}

    def observe(per_check):
        for name, inputs in per_check.items():
            reads.setdefault(name, set()).update(inputs)

    async def run_all():
        for sc in scenarios():
            report = await run_snapshot(sc, observe_reads=observe)
            produced.update(f.id for f in report.findings)
            for step in report.steps:
                produced.update(f.id for f in step.findings)
                pairs.update((step.check, f.id) for f in step.findings)

    asyncio.run(run_all())
    return produced, pairs, reads


def test_every_id_a_check_declares_is_produced_by_that_check_in_some_scenario():
    """An id is not enough: the check that declares it must be the one seen producing it, so
    a declaration copied to a second check, or a check that lost the branch emitting an id,
    fails here even when another check still produces the id."""
    _, pairs, _ = _runs()
    declared = {(name, fid) for name, spec in REGISTRY.items() for fid in spec.emits}
    never = sorted(declared - pairs - {(c, i) for c, i in declared if i in PENDING_IDS})
    assert not never, f"(check, id) pairs no scenario produces: {never}"


def test_retired_ids_stay_retired_and_published_ids_never_vanish():
    """Ids are a contract (C3): one that goes away moves to the catalog's `retired:` section,
    never simply disappears, and a retired id is never emitted again."""
    catalog = default_catalog()
    emitted = {fid for spec in REGISTRY.values() for fid in spec.emits}
    assert not set(catalog.retired) & set(catalog.entries)
    assert not set(catalog.retired) & emitted, "a check emits a retired id"
    published = set((REPO / "tests" / "published_ids.txt").read_text().split())
    vanished = published - set(catalog.entries) - set(catalog.retired)
    assert not vanished, f"published ids neither in the catalog nor retired: {vanished}"
    assert set(catalog.entries) <= published, "add new ids to tests/published_ids.txt"


def test_every_emittable_id_is_in_the_catalog():
    catalog = default_catalog()
    for spec in REGISTRY.values():
        missing = [fid for fid in spec.emits if fid not in catalog]
        assert not missing, f"check {spec.name} may emit ids missing from catalog.yaml: {missing}"


def test_catalog_templates_use_exactly_the_declared_params():
    for entry in default_catalog().entries.values():
        used, declared = entry.placeholders(), set(entry.params)
        assert used <= declared, f"{entry.id}: undeclared params {used - declared}"
        assert declared <= used, f"{entry.id}: declared but unused params {declared - used}"


def test_every_catalog_id_is_produced_by_a_scenario_or_explicitly_pending():
    produced, _ = scenario_runs()
    ids = set(default_catalog().entries)
    assert PENDING_IDS <= ids, f"pending ids not in catalog: {PENDING_IDS - ids}"
    never = ids - produced - PENDING_IDS
    assert not never, f"catalog ids no scenario produces (add a scenario or mark pending): {never}"
    landed = produced & PENDING_IDS
    assert not landed, f"these ids are produced now: remove them from PENDING_IDS: {landed}"


def test_pending_ids_have_no_emitting_check_yet():
    emitted = {fid for spec in REGISTRY.values() for fid in spec.emits}
    assert not (emitted & PENDING_IDS), "a check emits a pending id: move it out of PENDING_IDS"


def test_every_declared_input_is_read_in_some_scenario():
    _, reads = scenario_runs()
    used_checks = {name for spec in COMMANDS.values() for name in _checks_of(spec)}
    for name in used_checks:
        declared = set(REGISTRY[name].inputs)
        unread = declared - reads.get(name, set())
        assert not unread, (f"check {name} declares inputs no scenario made it read: "
                            f"{[i.describe() for i in unread]} (declaration wrong, or scenarios "
                            "insufficient)")


def _checks_of(spec) -> list[str]:
    return list(spec.checks)


def test_every_check_is_used_by_a_command_and_described():
    used = {name for spec in COMMANDS.values() for name in _checks_of(spec)}
    for name, spec in REGISTRY.items():
        assert spec.description, f"check {name} needs a docstring"
        assert name in used, f"check {name} is registered but no command runs it"


def _imports(package: str) -> set[tuple[str, str]]:
    out = set()
    for path in (REPO / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out.update((str(path.relative_to(REPO)), a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                out.add((str(path.relative_to(REPO)), node.module))
    return out


@pytest.mark.parametrize("package, forbidden", [
    ("diagnostics", ("bot", "handlers", "slack_bolt", "slack_sdk")),
    ("handlers", ("bot", "slack_bolt", "slack_sdk")),
])
def test_package_boundaries(package: str, forbidden: tuple[str, ...]):
    bad = [(f, m) for f, m in _imports(package) if m.split(".")[0] in forbidden]
    assert not bad, f"{package}/ must not import {forbidden}: {bad}"


def test_each_check_module_registers_the_check_it_is_named_for():
    """The registry finds a check by its module's name (diagnostics/checking.py Registry): each
    module of diagnostics/checks/ holds exactly the check named for it."""
    import pkgutil

    by_module: dict[str, list[str]] = {}
    for name, spec in REGISTRY.items():
        by_module.setdefault(spec.func.__module__, []).append(name)
    modules = {m.name for m in pkgutil.iter_modules(diagnostics.checks.__path__)}
    assert {f"diagnostics.checks.{m}" for m in modules} == set(by_module)
    for module, names in by_module.items():
        assert [n.replace("-", "_") for n in names] == [module.rsplit(".", 1)[1]], module
    from diagnostics.checking import _CHECK_NAME  # the names the registry loads by

    assert all(_CHECK_NAME.fullmatch(name) for name in REGISTRY)


def test_a_plan_imports_only_the_checks_it_runs():
    """A diagnosis loads the modules of its own checks, not the 42 (0.03 s of every terminal
    diagnosis); an unknown name is no check, whatever it spells."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom diagnostics.checking import REGISTRY\n"
            "from handlers.commands import parse\n"
            "plan = parse(['proxy-status'], terminal=False).plan()\n"
            "unknown = [n in REGISTRY for n in ('nonesuch', '../bot', 'views.proxies', '')]\n"
            "print(json.dumps([[s.name for s in plan.checks], unknown,"
            " sorted(m for m in sys.modules if m.startswith('diagnostics.checks.'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=True)
    names, unknown, loaded = json.loads(done.stdout.splitlines()[-1])
    assert names and unknown == [False] * 4
    assert loaded == sorted(f"diagnostics.checks.{n.replace('-', '_')}" for n in names)
