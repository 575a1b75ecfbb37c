"""How meshbot copes as a mesh grows: API calls, time, memory and Slack thread size per command.

Generates two-cluster meshes with the scenario generator (tests/meshgen) at growing sizes
(helloworld replicas per cluster; `--stale` makes that share of them out of sync so proxy-status
has offenders to list), serves each with `meshbot replay`, and runs every mesh-wide command
through the live source (the kubernetes client over HTTP, port-forwards to istiod included).

Printed per size and command: API calls (constant but for list pagination, one call per 500
objects), wall time, the peak Python heap while diagnosing (tracemalloc, a second run), and the
Slack answer: messages, the most blocks in one message (limit 50) and the largest message in
characters. Then meshbot's peak RSS (the measuring process; the generator and `meshbot replay`
run in other processes).

    .venv/bin/python bench/mesh_scale.py [--pods 10 500 2000] [--stale 0.1] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.answer_blocks import thread  # noqa: E402
from diagnostics.config import Config  # noqa: E402
from diagnostics.sources.factory import live_source  # noqa: E402
from handlers.commands import parse  # noqa: E402
from handlers.run import Answerer  # noqa: E402
from tests.meshgen.render import write_snapshot  # noqa: E402
from tests.meshgen.scale import scaled_mesh  # noqa: E402

COMMANDS = ["why-local-only helloworld -n sample", "proxy-status", "control-plane",
            "remote-clusters", "trust", "check ns/sample", "digest"]


def slack_size(report, command: str) -> tuple[int, int, int]:
    messages = thread(report, command, "U0BENCH")
    blocks = max(len(m.blocks) for m in messages)
    chars = max(len(json.dumps(m.blocks)) for m in messages)
    return len(messages), blocks, chars


def run_size(pods: int, stale: float, latency_ms: float) -> None:
    """Generate, serve with `meshbot replay` in its own process, measure in another: the RSS
    printed is meshbot's alone, and the API servers do not share its CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_snapshot(scaled_mesh(pods, stale), Path(tmp) / "mesh")
        generated = time.perf_counter() - started
        kubeconfig = Path(tmp) / "kubeconfig"
        replay = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "replay", str(Path(tmp) / "mesh"),
             "--latency-ms", str(latency_ms), "--kubeconfig-out", str(kubeconfig)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            clusters = [replay.stdout.readline().split()[0] for _ in range(2)]
            print(f"\n{pods} helloworld pods per cluster ({len(clusters)} clusters, "
                  f"{stale:.0%} stale; mesh generated in {generated:.1f} s)", flush=True)
            subprocess.run([sys.executable, __file__, "--measure", str(kubeconfig), *clusters],
                           cwd=REPO, check=True, timeout=900)
        finally:
            replay.terminate()
            replay.wait(timeout=30)


async def measure_all(kubeconfig: str, clusters: list[str]) -> None:
    config = Config.model_validate({"clusters": [
        {"name": c, "context": c, "kubeconfig": kubeconfig} for c in clusters]})
    source = live_source(config, timeout=60)
    answerer = Answerer(source, timeout=60)
    print(f"  {'command':38} {'calls':>5} {'wall ms':>8} {'heap MB':>8} "
          f"{'msgs':>4} {'blocks':>6} {'chars':>6}  verdict")
    try:
        for command in COMMANDS:
            await measure(answerer, command)
    finally:
        await source.close()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of meshbot: {peak_rss:.0f} MB")


async def measure(answerer: Answerer, command: str) -> None:
    request = parse(command, terminal=False)
    started = time.perf_counter()
    report = await answerer.answer(request)
    wall = (time.perf_counter() - started) * 1000
    tracemalloc.start()
    await answerer.answer(request)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    msgs, blocks, chars = slack_size(report, command)
    print(f"  {command:38} {report.api_calls:5d} {wall:8.0f} {peak / 2**20:8.1f} "
          f"{msgs:4d} {blocks:6d} {chars:6d}  {report.verdict}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, nargs="+", default=[10, 500, 2000])
    ap.add_argument("--stale", type=float, default=0.1, help="share of pods out of sync")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--measure", nargs="+", metavar="KUBECONFIG CLUSTER",
                    help=argparse.SUPPRESS)  # the measuring child process
    args = ap.parse_args()
    if args.measure:
        asyncio.run(measure_all(args.measure[0], args.measure[1:]))
        return
    for pods in args.pods:
        run_size(pods, args.stale, args.latency_ms)


if __name__ == "__main__":
    main()
