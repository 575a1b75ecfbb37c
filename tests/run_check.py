"""Run one check on one snapshot while working on it, and print its steps as the terminal does.

    python -m tests.run_check remote-secrets tests/scenarios/demo/snapshot
    python -m tests.run_check client-endpoints tests/scenarios/demo/snapshot \\
        why-local-only helloworld -n sample

The command words (after the snapshot) give the check its arguments, as `meshbot mesh` would;
without them the check runs as the first command that lists it does, with no arguments.
The inputs the check declares are fetched exactly as a diagnosis fetches them, and reading an
undeclared one raises, so what works here works in a diagnosis.
"""

from __future__ import annotations

import asyncio
import sys

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.checking import REGISTRY
from diagnostics.engine import diagnose
from diagnostics.render.text import render_text
from diagnostics.snapshot import Snapshot
from diagnostics.sources.snapshot import SnapshotSource
from handlers.base import Request
from handlers.commands import COMMANDS, parse


def _request(check: str, words: list[str]) -> Request:
    if not words:
        command = next(spec.name for spec in COMMANDS.values() if check in spec.checks)
        words = [command] + (["x"] if command == "why-local-only" else
                             ["ns/default"] if command == "check" else [])
    parsed = parse(words, terminal=True)
    if not isinstance(parsed, Request):
        raise SystemExit(f"{' '.join(words)} is not a diagnosis")
    parsed.checks = [check]
    return parsed


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in REGISTRY:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        print(f"checks: {', '.join(sorted(REGISTRY))}", file=sys.stderr)
        return 2
    check, snapshot, words = argv[0], argv[1], argv[2:]
    request = _request(check, words)
    report = asyncio.run(diagnose(request.plan(), SnapshotSource(Snapshot.open(snapshot))))
    sys.stdout.write(render_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
