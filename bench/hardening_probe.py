"""Issue 15's probes, from outside: `meshbot serve` as a process, the CLI, signed and unsigned
requests, slow sockets, planted secrets. Prints, per point, what was tried and how much held.

    .venv/bin/python bench/hardening_probe.py

Uses the fake Slack of tests/slackfake and `meshbot replay`; takes about a minute (it waits for
slow sockets to be closed).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.alert_routing import commands_for  # noqa: E402
from diagnostics.replay.runner import ReplayThread  # noqa: E402
from diagnostics.snapshot import Snapshot, SnapshotError  # noqa: E402
from tests.bot_support import (DEMO, free_port, roots, start_serve, stop_serve,  # noqa: E402
                               wait_healthy)
from tests.slackfake import slack_harness  # noqa: E402
from tests.slackfake.payloads import form_body  # noqa: E402
from tests.slackfake.signing import sign  # noqa: E402
from tests.test_alertmanager_size import alertmanager_body  # noqa: E402
from tests.test_capture import PLANTED, _everything_written, _needle, _planted_mesh  # noqa: E402

TOKEN = "probe-token"
CONFIG = {"permissions": {"restricted_commands": {"trust": ["S0ONCALL"], "digest": ["S0ONCALL"]}},
          "incidents": {"alertmanager_routes": [{"match": {"severity": "critical"},
                                                 "channel": "C0INCIDENT"}]}}
rows: list[tuple[str, str, int, int]] = []


def report(point: str, what: str, tried: int, held: int) -> None:
    rows.append((point, what, tried, held))
    print(f"{point:>3}  {held:>5}/{tried:<5} held  {what}", flush=True)


async def until(condition, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def timed_get(base: str, path: str = "/healthz") -> float:
    start = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(base + path) as r:
            assert r.status == 200
    return time.perf_counter() - start


# -- the serve process -------------------------------------------------------------------------


async def probe_serve(tmp: Path) -> None:
    config = tmp / "meshbot.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    async with slack_harness(rate_limit_enabled=False) as slack:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_serve({**slack.env(), "MESHBOT_HTTP_PORT": str(port), "LOG_FORMAT": "json",
                            "MESHBOT_SNAPSHOT": str(DEMO), "MESHBOT_CONFIG": str(config),
                            "MESHBOT_ALERTMANAGER_TOKEN": TOKEN})
        try:
            await wait_healthy(port, proc)
            client = slack.client(base)
            await gate(slack, client)
            await long_commands(slack, client)
            await unsigned(base)
            await huge_command(slack, client, base)
            await alert_groups(slack, base)
            await slow_clients(slack, client, base, port)
        finally:
            logs = stop_serve(proc)
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    refused = [e for e in lines if e.get("event") == "request_refused"]
    errors = [e for e in lines if e.get("level") in ("error", "critical")]
    report("7", f"log lines for all refused requests: {len(refused)} (at most one a minute); "
                f"error lines: {len(errors)}", 1, int(len(refused) <= 2 and not errors))


async def gate(slack, client) -> None:
    await client.slash_command("trust", user="U0ALICE")
    await until(lambda: [m for m in roots(slack) if "HEALTHY" in m.all_text])
    (root,) = roots(slack)
    before = len([m for m in slack.api.messages(include_replies=True) if m.bot_id])
    attempts = 0
    for _ in range(5):
        await client.slash_command("trust", user="U0BOB")
        await client.app_mention("<@U0MESHBOT> trust", user="U0BOB")
        for action in ("mesh_rerun", "mesh_details"):
            await client.click(channel="C0GENERAL", message_ts=root.ts, action_id=action,
                               user="U0BOB")
        attempts += 4
    await until(lambda: len(slack.api.ephemerals(user="U0BOB")) >= attempts, 20)
    await asyncio.sleep(1)
    after = len([m for m in slack.api.messages(include_replies=True) if m.bot_id])
    denials = [e for e in slack.api.ephemerals(user="U0BOB") if "restricted" in e.text]
    held = min(len(denials), attempts) if after == before and not slack.api.files() else 0
    report("1", "user outside the group: slash, mention, Re-run, Details x5 -> ephemeral denial, "
                "no report", attempts, held)


async def long_commands(slack, client) -> None:
    lengths = [2950, 3200, 3600, 3990]
    before = len(roots(slack))
    for length in lengths:
        text = "why-local-only helloworld -n sample"
        while len(text) + 19 <= length:
            text += " --cluster cluster1"
        await client.slash_command(text.ljust(length), user="U0ALICE")
    ok = await until(lambda: len([m for m in roots(slack)[before:]
                                  if "PROBLEM" in m.all_text]) == len(lengths), 60)
    refused = [c for c in slack.api.calls() if not c.ok]
    report("6", f"valid commands of {lengths[0]}-{lengths[-1]} characters answered, Slack "
                f"refusals: {len(refused)}", len(lengths), len(lengths) if ok and not refused else 0)


UNSIGNED = [("application/json", b"{not json"), ("application/json", b'["x"]'),
            ("application/x-www-form-urlencoded", b"payload=%7Bbroken"),
            ("application/x-www-form-urlencoded", b"\xff\xfe\x00"),
            ("text/plain", b"\r\n\x1b[31mforged")]


async def unsigned(base: str) -> None:
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        for i in range(200):
            content_type, body = UNSIGNED[i % len(UNSIGNED)]
            headers = {"Content-Type": content_type}
            if i % 2:
                headers.update({"X-Slack-Request-Timestamp": "soon" if i % 4 == 1 else "1",
                                "X-Slack-Signature": "v0=" + "0" * 64})
            async with http.post(base + "/slack/events", data=body, headers=headers) as r:
                statuses[r.status] = statuses.get(r.status, 0) + 1
    report("7", f"unsigned malformed bodies -> {statuses}", 200,
           sum(n for s, n in statuses.items() if s in (400, 401)))


async def huge_command(slack, client, base: str) -> None:
    body = form_body(slack.socket.payloads.slash_command("check svc/" + "a" * 600_000)).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": sign(slack.signing_secret, stamp, body)}
    latencies: list[float] = []

    async def health() -> None:
        for _ in range(50):
            latencies.append(await timed_get(base))
            await asyncio.sleep(0.01)

    async def big() -> dict:
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/slack/events", data=io.BytesIO(body),
                                 headers=headers) as r:
                return await r.json()

    answer, _ = await asyncio.gather(big(), health())
    short = "characters long" in answer.get("text", "") and len(answer["text"]) < 2000
    report("8", f"signed 600k-character command: short usage reply; /healthz meanwhile max "
                f"{max(latencies) * 1000:.0f} ms over {len(latencies)}", 1, int(short))


async def alert_groups(slack, base: str) -> None:
    sizes = [10_000, 24_000, 60_000]
    statuses = []
    for n in sizes:
        body = alertmanager_body(n, resolved=n // 10)
        body = body.replace(b'"groupKey":"', f'"groupKey":"{n}-'.encode(), 1)
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/alertmanager", data=io.BytesIO(body), headers={
                    "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as r:
                statuses.append((n, len(body) // 2**20, r.status, (await r.json())))
    posted = await until(lambda: len([m for m in slack.api.messages("C0INCIDENT")
                                      if m.bot_id and not m.is_reply]) >= len(sizes), 60)
    held = sum(1 for _, _, status, _ in statuses if status == 200) if posted else 0
    report("5", "alert groups " + ", ".join(f"{n} alerts/{mib} MiB -> {s}"
                                            f"{' summary' if a.get('summarized') else ''}"
                                            for n, mib, s, a in statuses), len(sizes), held)


async def slow_clients(slack, client, base: str, port: int) -> None:
    head = b"POST /slack/events HTTP/1.1\r\nHost: m\r\nContent-Ty"
    body = (b"POST /slack/events HTTP/1.1\r\nHost: m\r\nContent-Length: 100000\r\n"
            b"Content-Type: application/json\r\n\r\n{")
    sockets = []
    for i in range(1300):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(body if i % 5 == 0 else head)
        await writer.drain()
        sockets.append((reader, writer))
    health = await timed_get(base)
    start = time.perf_counter()
    answer = await client.slash_command("help")
    slash = time.perf_counter() - start
    report("4", f"1300 half-sent requests open (cap 1000): /healthz {health * 1000:.0f} ms, "
                f"signed slash {slash * 1000:.0f} ms", 2,
           int(health < 3) + int(answer.status == 200 and slash < 3))
    closed = 0

    async def eof(reader) -> None:
        nonlocal closed
        try:
            await asyncio.wait_for(reader.read(), 45)
            closed += 1
        except (asyncio.TimeoutError, ConnectionError):
            pass

    start = time.perf_counter()
    await asyncio.gather(*(eof(r) for r, _ in sockets))
    for _, writer in sockets:
        writer.close()
    report("4", f"slow sockets closed by the server within 45 s (took "
                f"{time.perf_counter() - start:.0f} s)", len(sockets), closed)


# -- the CLI and the library --------------------------------------------------------------------


def probe_snapshot(tmp: Path) -> None:
    mesh = _planted_mesh(tmp)
    (syncz,) = (mesh / "clusters/cluster1").glob("istiod/*/syncz.json")
    entries = json.loads(syncz.read_text())
    hostile = ["../../x.y", "../../../../../../tmp/x.y", "/etc/x.y", "sleep/../../z.sample",
               "a.b\n", "..", ".", "x.y/..", "%2e%2e%2fx.y", "a\\..\\b.c"]
    entries += [{**entries[0], "proxy": p} for p in hostile]
    syncz.write_text(json.dumps(entries))
    (syncz.parent.parent / "x.y.json").write_text("{}")
    out = tmp / "capture"
    with ReplayThread(Snapshot.open(mesh)) as replay:
        kubeconfig = replay.write_kubeconfig(tmp / "kubeconfig")
        before = set(tmp.rglob("*"))
        done = subprocess.run([sys.executable, "-m", "bot.cli", "snapshot", "--kubeconfig",
                               str(kubeconfig), "--out", str(out), "-n", "sample"], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    written = set(tmp.rglob("*")) - before
    outside = [p for p in written if not p.resolve().is_relative_to(out.resolve())]
    stray = [p for p in written if p.name in ("x.y.json", "z.sample.json", "b.c.json")]
    skipped = sum(f"names proxy {p[:100]!r}" in done.stderr for p in hostile)
    report("2", f"hostile proxy ids in syncz (exit {done.returncode}, {skipped} reported); "
                f"files outside --out: {outside}", len(hostile),
           skipped if not outside and not stray else 0)
    text = _everything_written(out)
    found = [what for what, value in PLANTED.items() if _needle(value) in text]
    report("3", f"planted secrets searched in the capture (base64 decoded); found: {found}",
           len(PLANTED), len(PLANTED) - len(found))


def probe_cli_names() -> None:
    cases = [["why-local-only", "hw\n"], ["why-local-only", "hw", "-n", "sample\n"],
             ["why-local-only", "hw", "--from", "p\n"], ["check", "svc/x\n"],
             ["check", "deploy/x\n"], ["check", "ns/x\n"], ["trust", "--cluster", "c1\n"]]
    held = 0
    for argv in cases:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "mesh", *argv, "--snapshot",
                               str(DEMO)], cwd=REPO, capture_output=True, text=True, timeout=60)
        held += done.returncode == 2 and "not a valid" in done.stderr
    report("8", "names ending in a newline, in a terminal -> exit 2", len(cases), held)


def probe_labels() -> None:
    hostile = [{"pod": "web-1 --cluster cluster2", "namespace": "shop"},
               {"pod": "web-1", "namespace": "shop --cluster cluster2"},
               {"pod": "web-1", "namespace": "shop", "cluster": "cluster1 --from x"},
               {"service": "reviews --from sleep-1", "namespace": "bookinfo"},
               {"destination_service": "reviews.bookinfo --cluster cluster2.svc"},
               {"service": "reviews", "namespace": "bookinfo", "cluster": "--cluster"},
               {"pod": "--from=evil", "namespace": "shop"}]
    held = sum(all("--from" not in c and c.count("--cluster") <= 1 and "cluster2" not in c
                   for c in commands_for(labels, ["cluster1", "cluster2"]))
               for labels in hostile)
    report("10", "alert labels carrying --from/--cluster", len(hostile), held)


def probe_archives(tmp: Path) -> None:
    info = tarfile.TarInfo("snap/clusters/east/logs/huge.log")
    info.size = 1024 ** 3
    bomb = tmp / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(info.tobuf() + bytes(2048)))
    try:
        Snapshot.open(bomb)
        refused = 0
    except SnapshotError as exc:
        refused = int("a member may have at most" in str(exc))
    report("10", "archive member declaring 1 GiB -> refused before extraction", 1, refused)

    import tracemalloc

    from diagnostics.snapshot import read_tail
    log = tmp / "huge.log"
    with log.open("wb") as f:
        f.truncate(1024 ** 3)
        f.seek(0, 2)
        f.write(b"tail line\n")
    tracemalloc.start()
    tail = read_tail(log, 500)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    report("10", f"1 GiB log, last 500 lines: peak {peak / 2**20:.0f} MiB", 1,
           int(tail.endswith(b"tail line\n") and peak < 256 * 2**20))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="meshbot-probe-") as tmp:
        root = Path(tmp)
        probe_cli_names()
        probe_labels()
        probe_archives(root)
        probe_snapshot(root / "snap")
        asyncio.run(probe_serve(root))
    failed = [r for r in rows if r[3] < r[2]]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} probes held in full")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
