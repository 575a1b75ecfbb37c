"""How long meshbot's answers are to read: Slack messages and characters, terminal lines.

For every scenario under tests/scenarios (and the demo), diagnoses the snapshot and prints:
the Slack messages the bot posts for the answer (root and thread replies; files uploaded with
them counted apart), the characters of text in those messages (block text, what people read),
and the rows the terminal answer takes at 80 columns (`meshbot mesh ... --snapshot` in a real
process with COLUMNS=80, not a tty: each printed line takes ceil(width / 80) rows, so a line
that is too wide counts as the rows a terminal would wrap it into).

    .venv/bin/python bench/answer_size.py [--scenario demo ...] [--all]

Without --all only the demo and the five largest answers are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.answer_blocks import thread  # noqa: E402
from tests.scenario_support import Scenario, run_snapshot, scenarios  # noqa: E402

ANSI = "\033["


def display_width(line: str) -> int:
    """Terminal columns of a line: ANSI codes take none, wide characters two."""
    width, i = 0, 0
    while i < len(line):
        if line.startswith(ANSI, i):
            end = line.find("m", i)
            i = end + 1 if end >= 0 else len(line)
            continue
        ch = line[i]
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else \
            0 if unicodedata.combining(ch) else 1
        i += 1
    return width


def terminal_rows(text: str, columns: int = 80) -> int:
    return sum(max(1, -(-display_width(line) // columns)) for line in text.splitlines())


def block_chars(blocks: list[dict]) -> int:
    total = 0
    stack: list = [blocks]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    total += len(value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return total


def measure(scenario: Scenario) -> dict:
    report = asyncio.run(run_snapshot(scenario))
    words = [scenario.expected["command"], *[str(a) for a in scenario.expected.get("args", [])]]
    command = " ".join(words)
    messages = thread(report, command, "U0BENCH")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    cli = [sys.executable, "-m", "bot.cli", "mesh", *words, "--snapshot",
           str(scenario.snapshot_dir)]
    out = subprocess.run(cli, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return {"name": scenario.name, "messages": len(messages),
            "files": sum(len(m.files) for m in messages),
            "chars": sum(block_chars(m.blocks) for m in messages),
            "rows": terminal_rows(out.stdout), "lines": len(out.stdout.splitlines()),
            "widest": max((display_width(line) for line in out.stdout.splitlines()), default=0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    chosen = [s for s in scenarios() if not args.scenario or s.name in args.scenario]
    rows = [measure(s) for s in chosen]
    if not args.all and not args.scenario:
        largest = sorted(rows, key=lambda r: -r["chars"])[:5]
        rows = [r for r in rows if r["name"] == "demo"] + [r for r in largest if r["name"] != "demo"]
    print(f"{'scenario':<48} {'msgs':>4} {'files':>5} {'chars':>6} {'rows@80':>7} {'lines':>5} "
          f"{'widest':>6}")
    for r in rows:
        print(f"{r['name']:<48} {r['messages']:>4} {r['files']:>5} {r['chars']:>6} "
              f"{r['rows']:>7} {r['lines']:>5} {r['widest']:>6}")


if __name__ == "__main__":
    main()
