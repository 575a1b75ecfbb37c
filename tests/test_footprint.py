"""What a diagnosis costs, guarded without clocks (bench/ prints the times): what the CLI imports,
how many requests a diagnosis makes and how many of them wait for an earlier answer, which lists
are read as metadata only, and that the bot process does not grow from one diagnosis to the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from diagnostics.replay.stats import RequestRecord, dependent_rounds

REPO = Path(__file__).resolve().parents[1]

#: Loaded by a diagnosis at most, never to print help (each costs tens to hundreds of ms).
HEAVY = ("slack_bolt", "slack_sdk", "matplotlib", "prometheus_client", "kubernetes", "aiohttp",
         "pydantic", "cryptography", "redis", "yaml", "diagnostics.checks", "diagnostics.engine",
         "bot.blocks")


def _modules_after(code: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _cli(*words: str) -> str:
    return ("import json, sys\nfrom bot.cli import main\n"
            f"rc = main({list(words)!r})\n"
            "print(json.dumps(sorted(sys.modules)))")


def test_mesh_help_imports_only_the_grammar():
    loaded = _modules_after(_cli("mesh", "help"))
    assert "handlers.commands" in loaded
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}


def test_a_usage_error_imports_no_more_than_help():
    loaded = _modules_after(_cli("mesh", "why-local-only"))
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}


def test_a_snapshot_diagnosis_loads_neither_slack_nor_the_kubernetes_client():
    loaded = _modules_after(_cli("mesh", "proxy-status", "--snapshot",
                                 str(REPO / "examples" / "demo-mesh"), "-o", "json"))
    assert "diagnostics.checks" in loaded  # it did diagnose
    for heavy in ("slack_bolt", "slack_sdk", "matplotlib", "prometheus_client", "kubernetes",
                  "aiohttp", "cryptography", "bot.blocks"):
        assert heavy not in loaded, heavy


# ------------------------------------------------------------------------- replay's records


def _record(started: float, finished: float) -> RequestRecord:
    return RequestRecord("cluster1", "GET", "/api/v1/pods", "application/json", started,
                         finished, 200, 0)


def test_dependent_rounds_count_requests_that_waited_for_an_earlier_answer():
    assert dependent_rounds([]) == 0
    # sent together: one round, however many
    assert dependent_rounds([_record(0, 1), _record(0.1, 1.1), _record(0.2, 0.9)]) == 1
    # each sent after the previous answer (a second page, a config_dump after the pod list)
    assert dependent_rounds([_record(0, 1), _record(1, 2), _record(2.5, 3)]) == 3
    # the longest chain counts, not the number of requests after the first
    assert dependent_rounds([_record(0, 1), _record(0.5, 3), _record(1.5, 2),
                             _record(3.5, 4)]) == 3


def test_replay_writes_a_request_log_a_benchmark_reads(tmp_path, replay_mini_dir):
    log, kubeconfig = tmp_path / "requests.jsonl", tmp_path / "kubeconfig"
    replay = subprocess.Popen([sys.executable, "-m", "bot.cli", "replay", str(replay_mini_dir),
                               "--kubeconfig-out", str(kubeconfig), "--request-log", str(log)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        url = replay.stdout.readline().split()[1]
        with urllib.request.urlopen(url + "/api/v1/namespaces/sample/pods?limit=1") as resp:
            body = resp.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "/api/v1/namespaces/sample/pods/ghost")
        missing.value.close()
    finally:
        replay.terminate()
        replay.wait(timeout=30)
        replay.stdout.close()
    records = [RequestRecord.from_json(line) for line in log.read_text().splitlines()]
    assert [(r.path, r.status) for r in records] == [
        ("/api/v1/namespaces/sample/pods?limit=1", 200),
        ("/api/v1/namespaces/sample/pods/ghost", 404)]
    assert len(body) < records[0].bytes < len(body) + 1000  # the answer and its headers
    assert json.loads(body)["items"]
    assert all(r.finished >= r.started for r in records)
    assert dependent_rounds(records) == 2  # the second was sent after the first was answered
