"""How long `meshbot mesh help` takes from start to its first byte of output.

Starts the CLI `--runs` times in fresh processes (`python -m bot.cli`, as the `meshbot` script
does) and prints the median and the fastest start-to-first-byte time, with the process's CPU,
then the slowest imports of one run (`python -X importtime`). Target: at most 200 ms; a command
imports only what it uses (Slack, the kubernetes client, pydantic and the checks wait for a
diagnosis). Modules load from bytecode, as in an installed meshbot (bench/mesh_scale.py
compile_bytecode).

    .venv/bin/python bench/cli_startup.py [--runs 20] [--client-root DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mesh_scale import compile_bytecode  # noqa: E402

ARGV = ["mesh", "help"]


def first_byte(client_root: Path) -> tuple[float, float]:
    """(seconds to the first byte on stdout, CPU seconds of the whole process)."""
    env = dict(os.environ, PYTHONPATH=str(client_root))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *ARGV], cwd=client_root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    select.select([proc.stdout], [], [])
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return elapsed, usage.ru_utime + usage.ru_stime


def slowest_imports(client_root: Path, count: int = 8) -> list[tuple[int, str]]:
    env = dict(os.environ, PYTHONPATH=str(client_root))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot.cli", *ARGV],
                          cwd=client_root, env=env, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--client-root", type=Path, default=REPO)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    compile_bytecode(args.client_root)
    runs = [first_byte(args.client_root) for _ in range(args.runs)]
    times, cpu = [r[0] * 1000 for r in runs], [r[1] * 1000 for r in runs]
    result = {"command": " ".join(ARGV), "first_byte_ms_median": round(statistics.median(times)),
              "first_byte_ms_min": round(min(times)), "cpu_ms_median": round(statistics.median(cpu)),
              "runs": args.runs}
    if args.json:
        print(json.dumps(result))
        return
    print(f"meshbot {' '.join(ARGV)}: first byte after {result['first_byte_ms_median']} ms "
          f"(median of {args.runs}; fastest {result['first_byte_ms_min']} ms), "
          f"CPU {result['cpu_ms_median']} ms")
    print("slowest imports (cumulative µs):")
    for micros, name in slowest_imports(args.client_root):
        print(f"  {micros:8d}  {name}")


if __name__ == "__main__":
    main()
