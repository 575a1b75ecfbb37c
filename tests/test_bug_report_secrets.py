"""Secrets in a bug-report never reach an answer, a log, the cache or the disk.

`istioctl bug-report --full-secrets` writes every Secret in clear, and any archive can carry
credentials in logs, environment variables and Envoy's TLS contexts. meshbot redacts them as
it reads the archive (diagnostics/redact.py, as its own capture does), so neither the
translated folder nor any command's output, nor the report cache in a real Redis, holds one.
The Slack path is covered in tests/test_bot_uploads.py with the same planted archive.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from diagnostics.snapshot import Snapshot
from tests.bug_report_secrets import leaks, plant
from tests.meshgen.bug_report import render_bug_report, write_archive
from tests.meshgen.scenarios import build

REPO = Path(__file__).resolve().parents[1]
COMMANDS = (["why-local-only", "helloworld", "-n", "sample"], ["remote-clusters"],
            ["control-plane"], ["proxy-status"], ["check", "deploy/sleep", "-n", "sample"],
            ["trust"], ["digest"])


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> list[Path]:
    """The demo mesh as two 1.30 archives taken with --full-secrets, secrets planted."""
    out = tmp_path_factory.mktemp("planted")
    members = render_bug_report(build("demo")[0], "1.30.0", full_secrets=True)
    return [write_archive(plant(m), out / f"{cid}.tar.gz") for cid, m in members.items()]


def _tree_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_the_archives_do_hold_the_planted_secrets(planted, tmp_path):
    """The control: the greps below would find them."""
    import tarfile

    with tarfile.open(planted[0]) as tar:
        text = "\n".join(tar.extractfile(m).read().decode() for m in tar if m.isfile())
    assert set(leaks(text)) >= {"secret-data", "kubeconfig-token", "env-token", "jwt",
                                "configmap-password", "log-bearer", "private-key-base64"}


def test_the_translated_snapshot_holds_none_of_them(planted, tmp_path):
    snapshot = Snapshot.open_many(planted, workdir=tmp_path)
    assert len(snapshot.clusters) == 2
    text = _tree_text(tmp_path)
    assert "db-credentials" in text and "istio-remote-secret-cluster1" in text  # read...
    assert leaks(text) == []  # ...and redacted


def test_no_command_output_and_no_cache_entry_holds_them(planted, tmp_path, redis_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHBOT_", "SLACK_"))}
    env.update(NO_COLOR="1", REDIS_URL=redis_server.url, TMPDIR=str(tmp_path))
    snapshots = [a for p in planted for a in ("--snapshot", str(p))]
    outputs = []
    for command in COMMANDS:
        for output in ("json", "text", "slack")[:3 if command in COMMANDS[:2] else 1]:
            proc = subprocess.run([sys.executable, "-m", "bot.cli", "mesh", *command, *snapshots,
                                   "-o", output], cwd=REPO, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode in (0, 1), proc.stderr
            outputs.append(proc.stdout + proc.stderr)
    text = "\n".join(outputs)
    assert "istio-remote-secret-cluster1" in text
    assert leaks(text) == []
    client = redis.Redis.from_url(redis_server.url)
    keys = list(client.scan_iter("*"))
    assert keys, "the report cache was not used"
    cached = "\n".join(str(client.dump(k)) + str(client.get(k) if client.type(k) == b"string"
                                                   else "") for k in keys)
    assert leaks(cached) == []
    assert list(tmp_path.iterdir()) == []  # nothing left in the temporary folder
