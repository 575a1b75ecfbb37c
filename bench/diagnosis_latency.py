"""How long a live diagnosis takes when every API request costs real latency.

Serves a snapshot with `meshbot replay --latency-ms`, runs a command through the live source
(the kubernetes client over HTTP, port-forwards to istiod included) and prints wall time, API
calls, and the number of latency rounds the time amounts to. A design that fetches each input
once, concurrently, needs a few rounds whatever the call count; a sequential one needs one per
call.

    .venv/bin/python bench/diagnosis_latency.py [--snapshot DIR] [--latency-ms 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diagnostics.config import Config  # noqa: E402
from diagnostics.engine import diagnose  # noqa: E402
from diagnostics.replay.runner import start_replay  # noqa: E402
from diagnostics.snapshot import Snapshot  # noqa: E402
from diagnostics.sources.factory import live_source  # noqa: E402
from handlers.commands import parse  # noqa: E402


async def measure(snapshot: Path, command: str, latency_ms: float, runs: int) -> None:
    servers = await start_replay(Snapshot.open(snapshot), latency_ms=latency_ms)
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as fh:
        yaml.safe_dump(servers.kubeconfig(), fh)
    source = live_source(Config(), kubeconfig=fh.name, timeout=30)
    request = parse(command, terminal=False)
    times, calls = [], 0
    try:
        for _ in range(runs):
            started = time.perf_counter()
            report = await diagnose(request.plan(), source, timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            calls = report.api_calls
    finally:
        await source.close()
        await servers.close()
        Path(fh.name).unlink(missing_ok=True)
        Path(fh.name).unlink(missing_ok=True)
    median = statistics.median(times)
    print(f"command          : {command}")
    print(f"snapshot         : {snapshot.relative_to(REPO) if snapshot.is_relative_to(REPO) else snapshot}"
          f" ({len(servers.urls)} clusters)")
    print(f"latency/request  : {latency_ms:.0f} ms")
    print(f"API calls        : {calls}")
    print(f"wall time        : median {median:.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms"
          f" over {runs} runs")
    print(f"latency rounds   : {median / latency_ms:.1f} (sequential would be {calls})")
    print(f"verdict          : {report.verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, default=REPO / "examples" / "demo-mesh")
    ap.add_argument("--command", default="why-local-only helloworld -n sample")
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(measure(args.snapshot.resolve(), args.command, args.latency_ms, args.runs))


if __name__ == "__main__":
    main()
