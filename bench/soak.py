"""Does the bot process stay flat across consecutive diagnoses of a big mesh?

Serves a generated mesh with `meshbot replay` in its own process and, in this process, runs
`--runs` diagnoses the way the bot does (the facts cache and the report cache over the
in-process store, the Answerer; every ask a Re-run, so each one diagnoses), cycling through the
mesh-wide commands. Prints this process's RSS (VmRSS) and peak (VmHWM) after every `--every`
diagnoses, and the objects Python's collector tracks (what meshbot holds, apart from how the
allocators keep freed memory): after the first few, neither should grow.

    .venv/bin/python bench/soak.py [--pods 10000] [--runs 100] [--every 10] [--json]
        [--malloc-arenas 2] [--allocator malloc|pymalloc] [--isolated]

glibc's malloc arenas are limited as meshbot's image limits them (Dockerfile: MALLOC_ARENA_MAX=2;
the process re-executes itself with it): with a thread pool of 64 and glibc's default of eight
arenas a core, freed memory stays in arenas other threads do not reuse, and RSS measures that
rather than meshbot. `--malloc-arenas 0` keeps glibc's default. `--allocator malloc` runs
with PYTHONMALLOC=malloc instead of Python's own allocator, which the image keeps: a megabyte
arena of Python's stays resident while anything made amid a diagnosis lives on in it (a
pooled connection's last response, a new pool thread, the last report, the facts cache),
where glibc's malloc returns freed pages wherever they are, at a cost in CPU. `cpu_s` is
this process's CPU since the first diagnosis began (the replay runs in another).
`--isolated` runs each diagnosis in a child process, as a bot configured with
`diagnosis.isolated` (unset: on) does: RSS and `cpu_s` are then the bot's
process alone, the children's work not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.mesh_scale import COMMANDS, Point, served_mesh  # noqa: E402

TABLE_COMMANDS = COMMANDS[:4]  # why-local-only, proxy-status, check ns/sample, digest


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def soak(kubeconfig: Path, runs: int, every: int, as_json: bool,
               isolate: bool = False) -> None:
    from diagnostics.config import Config
    from diagnostics.reports import ReportCache
    from diagnostics.sources.caching import CachingSource
    from diagnostics.sources.factory import live_source
    from diagnostics.store.memory import MemoryStore
    from handlers.commands import parse
    from handlers.run import Answerer

    store = MemoryStore()
    source = CachingSource(live_source(Config(), kubeconfig=str(kubeconfig), timeout=120),
                           store, 30)
    isolated = None
    if isolate:  # as `diagnosis.isolated: true` runs the bot: each diagnosis in a child
        from bot.isolated import IsolatedDiagnoses, SourceSpec

        isolated = IsolatedDiagnoses(SourceSpec(Config(), None, 120.0,
                                                kubeconfig=str(kubeconfig)), workers=1)
    answerer = Answerer(source, ReportCache(store, 60), timeout=120, isolated=isolated)
    requests = [parse(c, terminal=False) for c in TABLE_COMMANDS]
    started = _cpu_s()
    try:
        for i in range(1, runs + 1):
            report = await answerer.answer(requests[(i - 1) % len(requests)], fresh=True)
            if i % every == 0 or i == 1:
                rss, peak = memory_mb()
                objects = len(gc.get_objects())  # what meshbot holds, whatever RSS says
                cpu = _cpu_s() - started
                row = {"diagnoses": i, "rss_mb": round(rss), "peak_mb": round(peak),
                       "python_objects": objects, "cpu_s": round(cpu, 1), "last": report.command,
                       "verdict": report.verdict}
                print(json.dumps(row) if as_json else
                      f"  after {i:3d} diagnoses: RSS {rss:6.0f} MB (peak {peak:6.0f} MB), "
                      f"{objects:,} Python objects, {cpu:.1f} s CPU", flush=True)
    finally:
        if isolated is not None:
            isolated.close()
        await source.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--clusters", type=int, default=2)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--meshes", type=Path, help="keep generated meshes here and reuse them")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--isolated", action="store_true",
                    help="each diagnosis in a child process (config diagnosis.isolated)")
    ap.add_argument("--malloc-arenas", type=int, default=2,
                    help="MALLOC_ARENA_MAX, as the image sets it (0: glibc's default)")
    ap.add_argument("--allocator", choices=("pymalloc", "malloc"), default="pymalloc",
                    help="Python's own (as the image runs) or PYTHONMALLOC=malloc")
    args = ap.parse_args()
    wanted = {"MALLOC_ARENA_MAX": str(args.malloc_arenas) if args.malloc_arenas else None,
              "PYTHONMALLOC": "malloc" if args.allocator == "malloc" else None}
    if any(os.environ.get(k) != v for k, v in wanted.items()):  # both read once, at start
        env = {k: v for k, v in os.environ.items() if k not in wanted}
        env.update({k: v for k, v in wanted.items() if v})
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    point = Point(args.pods, args.clusters)
    with served_mesh(point, 0.1, args.meshes, 0) as (replay, _):
        if not args.json:
            print(f"{args.runs} diagnoses of a {point.pods}-pod x {point.clusters}-cluster "
                  f"mesh, cycling {', '.join(TABLE_COMMANDS)}")
        asyncio.run(soak(replay.kubeconfig, args.runs, args.every, args.json, args.isolated))


if __name__ == "__main__":
    main()
