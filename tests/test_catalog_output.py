"""`meshbot catalog` as a user runs it: every check is listed with its description."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import diagnostics.checks  # noqa: F401 - registers every check
from diagnostics.checking import REGISTRY

REPO = Path(__file__).resolve().parents[1]

FINDING_KEYS = {"id", "severity", "rank", "by_design", "symptom", "topology", "title", "summary",
                "cause", "fix", "commands", "why", "docs", "params", "checks"}


def meshbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_json_lists_every_check_with_its_description_and_keeps_the_findings_shape():
    proc = meshbot("catalog", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "meshbot.catalog/v1"
    assert all(set(f) == FINDING_KEYS for f in data["findings"])
    assert all(isinstance(name, str) for f in data["findings"] for name in f["checks"])
    checks = {c["name"]: c for c in data["checks"]}
    assert set(checks) == set(REGISTRY)
    for name, spec in REGISTRY.items():
        assert checks[name] == {"name": name, "title": spec.title,
                                "description": spec.description, "findings": list(spec.emits)}
    assert checks["root-of-trust"]["description"] == (
        "Compare root certificates across clusters by fingerprint, and watch their expiry.")


def test_markdown_has_a_checks_table_with_descriptions():
    proc = meshbot("catalog", "--output", "markdown")
    assert proc.returncode == 0, proc.stderr
    head, _, table = proc.stdout.partition("\n## Checks\n")
    assert head.startswith("# meshbot finding catalog") and table
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(REGISTRY)
    assert ("| `trust-domain` | Trust domain across clusters | Compare meshConfig.trustDomain "
            "across clusters, honouring trustDomainAliases. | `trust-domain-mismatch` |") in rows
    for spec in REGISTRY.values():
        row = next(r for r in rows if r.startswith(f"| `{spec.name}` |"))
        assert spec.description.replace("|", "\\|") in row


def test_text_output_is_still_one_line_per_finding():
    proc = meshbot("catalog")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(" " in line for line in lines)
    assert any(line.startswith("root-cert-mismatch ") for line in lines)
