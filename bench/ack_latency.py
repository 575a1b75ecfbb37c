"""How fast `meshbot serve` acknowledges slash commands, idle and while diagnoses run.

Slack gives an app 3 seconds to acknowledge; meshbot's target is tens of milliseconds, whatever
else it is doing. This starts `meshbot serve` (HTTP mode) as its own process on a snapshot (by
default a generated mesh with `--pods` helloworld pods per cluster, so diagnoses have real work),
with the report cache off so every ask diagnoses, against the fake Slack of tests/slackfake.
It then sends signed slash commands and prints ack latency percentiles:

- idle: one ask at a time, each answered before the next;
- under load: `--asks` asks every `--interval-ms`, mixing the heavy commands, so several
  diagnoses are always running while new commands arrive.

    .venv/bin/python bench/ack_latency.py [--pods 1000] [--asks 60] [--interval-ms 50]
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

from tests.bot_support import free_port, start_serve, stop_serve, wait_healthy  # noqa: E402
from tests.meshgen.render import write_snapshot  # noqa: E402
from tests.meshgen.scale import scaled_mesh  # noqa: E402
from tests.slackfake import slack_harness  # noqa: E402
from tests.slackfake.inbound import SignedClient  # noqa: E402

LOAD = ["why-local-only helloworld -n sample", "proxy-status", "check ns/sample", "digest",
        "remote-clusters"]


def answered(slack, count: int) -> bool:
    roots = [m for m in slack.api.messages("C0GENERAL") if m.bot_id and not m.is_reply]
    return len(roots) >= count and all("Diagnosing" not in m.all_text for m in roots[:count])


async def wait_answered(slack, count: int, timeout: float = 600) -> float:
    started = time.perf_counter()
    while not answered(slack, count):
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"only some of {count} asks were answered in {timeout:.0f} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def summary(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return (f"{name:11} n={len(latencies):3d}  p50 {statistics.median(latencies):6.1f} ms  "
            f"p95 {q[94]:6.1f} ms  max {max(latencies):6.1f} ms")


def send(url: str, secret: str, asks: list[tuple[str, str]], interval_ms: float) -> list[float]:
    """Send slash commands `interval_ms` apart from a thread with its own event loop, so the
    fake Slack's work (in this process's main loop) does not delay reading the acks."""
    async def go() -> list[float]:
        async with SignedClient(url, secret) as client:
            tasks = []
            for text, user in asks:
                tasks.append(asyncio.create_task(client.slash_command(text, user=user)))
                await asyncio.sleep(interval_ms / 1000)
            return [r.latency_ms for r in await asyncio.gather(*tasks)]
    return asyncio.run(go())


async def run(snapshot: Path, asks: int, interval_ms: float, config: Path) -> None:
    async with slack_harness(rate_limit_enabled=False) as slack:
        port = free_port()
        env = {**slack.env(), "MESHBOT_SNAPSHOT": str(snapshot), "MESHBOT_CONFIG": str(config),
               "MESHBOT_HTTP_PORT": str(port), "LOG_LEVEL": "WARNING"}
        proc = start_serve(env)
        try:
            await wait_healthy(port, proc, tries=1200)
            url, secret = f"http://127.0.0.1:{port}", slack.signing_secret
            idle = []
            for i in range(11):
                ask = [(LOAD[i % len(LOAD)], f"U0IDLE{i:03d}")]
                idle += await asyncio.to_thread(send, url, secret, ask, 0)
                await wait_answered(slack, i + 1)
            started = time.perf_counter()
            load = [(LOAD[i % len(LOAD)], f"U0LOAD{i:03d}") for i in range(asks)]
            loaded = await asyncio.to_thread(send, url, secret, load, interval_ms)
            drained = await wait_answered(slack, 11 + asks)
            total = time.perf_counter() - started
        finally:
            stop_serve(proc)
    print(f"first ask after start: {idle[0]:.1f} ms")
    print(summary("idle", idle[1:]))
    print(summary("under load", loaded))
    print(f"{asks} asks sent over {asks * interval_ms / 1000:.1f} s, all answered after "
          f"{total:.1f} s ({drained:.1f} s after the last ask)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=1000,
                    help="helloworld pods per cluster of the generated mesh (0: the demo mesh)")
    ap.add_argument("--asks", type=int, default=60)
    ap.add_argument("--interval-ms", type=float, default=50.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = REPO / "examples" / "demo-mesh"
        if args.pods:
            snapshot = Path(tmp) / "mesh"
            write_snapshot(scaled_mesh(args.pods, 0.1), snapshot)
        config = Path(tmp) / "meshbot.yaml"
        config.write_text(yaml.safe_dump({"cache": {"ttl_seconds": 0}}))
        print(f"snapshot: {'demo mesh' if not args.pods else f'{args.pods} pods per cluster'}, "
              "report cache off")
        asyncio.run(run(snapshot, args.asks, args.interval_ms, config))


if __name__ == "__main__":
    main()
