"""The `meshbot` command as a user runs it: real process, real exit codes, real output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from diagnostics.snapshot import Snapshot

REPO = Path(__file__).resolve().parents[1]
MESHBOT = [sys.executable, "-m", "bot.cli"]

C2_KEYS = {"schema", "command", "args", "verdict", "summary", "clusters", "steps", "findings",
           "errors", "duration_ms", "api_calls", "cached", "generated_at"}
FINDING_KEYS = {"id", "severity", "cluster", "resource", "title", "cause", "evidence", "fix",
                "commands", "why", "docs"}


def meshbot(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MESHBOT_SNAPSHOT", None)
    env.pop("MESHBOT_CONFIG", None)
    return subprocess.run(MESHBOT + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_clean_usage_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("args, fragment", [
    (["mesh", "frobnicate"], "unknown command `frobnicate`"),
    (["mesh", "why-local-only", "Bad_Name"], "not a valid service name"),
    (["mesh", "why-local-only", "hw", "-n", "UPPER"], "not a valid namespace name"),
    (["mesh", "why-local-only", "hw", "--snapshot", "/does/not/exist"], "no such snapshot"),
    (["mesh", "why-local-only", "hw", "--output", "yaml", "--snapshot", "x"], "--output must be one of"),
    (["mesh", "why-local-only", "hw", "--timeout", "soon"], "--timeout must be a number"),
    (["mesh", "why-local-only", "hw", "--config", "/no/such/meshbot.yaml"], "cannot read"),
    (["mesh", "trust", "--snapshot", "examples/demo-mesh", "--context", "prod"],
     "--kubeconfig and --context do not apply"),
])
def test_bad_input_exits_2_with_a_message(args, fragment):
    assert_clean_usage_error(meshbot(*args), fragment)


def test_malformed_snapshot_names_file_and_line(tmp_path):
    res = tmp_path / "clusters" / "c1" / "resources"
    res.mkdir(parents=True)
    (res / "pods.yaml").write_text("kind: Pod\nmetadata:\n  name: [oops\n")
    proc = meshbot("mesh", "why-local-only", "hw", "--snapshot", str(tmp_path))
    assert_clean_usage_error(proc, f"{res / 'pods.yaml'}:4: malformed YAML")


def test_an_explicit_kubeconfig_beats_meshbot_snapshot(tmp_path):
    """MESHBOT_SNAPSHOT (say, exported for the bot) must not hijack a terminal command that
    names its clusters: here the named kubeconfig is read, and its error shows."""
    env = {**os.environ, "NO_COLOR": "1", "MESHBOT_SNAPSHOT": str(REPO / "examples/demo-mesh")}
    env.pop("MESHBOT_CONFIG", None)
    proc = subprocess.run(MESHBOT + ["mesh", "trust", "--kubeconfig", str(tmp_path / "none")],
                          cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    assert_clean_usage_error(proc, f"kubeconfig {tmp_path / 'none'}")


def test_unknown_cluster_is_a_usage_error(replay_mini_dir):
    proc = meshbot("mesh", "why-local-only", "hw", "--cluster", "cluster9",
                   "--snapshot", str(replay_mini_dir))
    assert_clean_usage_error(proc, "unknown cluster cluster9; the clusters read are: cluster1, cluster2")


def test_help_exits_0():
    proc = meshbot("mesh", "help")
    assert proc.returncode == 0 and "why-local-only" in proc.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_mesh_help_flags_print_the_help(flag):
    proc, same = meshbot("mesh", flag), meshbot("mesh", "help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == same.stdout
    assert "commands:" in proc.stdout


def test_mesh_help_lists_the_terminal_options():
    out = meshbot("mesh", "help").stdout
    _, _, section = out.partition("\nterminal options:\n")
    flags = [line.split()[0] for line in section.splitlines() if line.startswith("  -")]
    assert flags == ["--snapshot", "--kubeconfig", "--context", "--config", "--output/-o",
                     "--out", "-v/--verbose", "--no-color", "--no-cache", "--timeout"]
    assert "--output/-o text|json|slack|png|svg" in section
    entry = section.partition("--context")[2].partition("\n  -")[0]
    assert "(repeatable)" in entry
    assert all(len(line) <= 80 for line in out.splitlines()), "help fits 80 columns"


@pytest.mark.parametrize("words", [["why-local-only", "--help"], ["why-local-only", "-h"],
                                   ["--help", "why-local-only"],
                                   ["why-local-only", "Bad_Name", "--snapshot", "x", "--help"]])
def test_command_help_flag_prints_that_commands_usage(words):
    proc = meshbot("mesh", *words)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("why-local-only: ")
    assert "usage: why-local-only <service>" in proc.stdout
    assert "--snapshot <path>" in proc.stdout and "commands:" not in proc.stdout


def test_permissions_naming_no_real_command_are_a_usage_error(tmp_path, replay_mini_dir):
    config = tmp_path / "meshbot.yaml"
    config.write_text("permissions:\n  restricted_commands: {remote-cluster: [S0GROUPID]}\n")
    proc = meshbot("mesh", "trust", "--config", str(config), "--snapshot", str(replay_mini_dir))
    assert_clean_usage_error(proc, f"{config}: permissions.restricted_commands.remote-cluster: "
                                   "unknown command 'remote-cluster'; "
                                   "did you mean 'remote-clusters'?")


def test_json_output_is_a_c2_report(replay_mini_dir):
    proc = meshbot("mesh", "why-local-only", "nosuch", "-n", "sample", "--snapshot",
                   str(replay_mini_dir), "--output", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert C2_KEYS <= set(report)
    assert report["schema"] == "meshbot.report/v1"
    assert report["args"] == {"service": "nosuch", "namespace": "sample"}
    assert report["verdict"] == "problem"
    assert FINDING_KEYS <= set(report["findings"][0])
    assert report["findings"][0]["id"] == "service-not-found"
    assert {s["status"] for s in report["steps"]} <= {"pass", "fail", "warn", "skip", "error"}


def test_an_empty_namespace_is_said_to_run_nothing_not_to_be_missing():
    """The demo mesh's `default` namespace exists in both clusters and runs nothing."""
    proc = meshbot("mesh", "check", "ns/default", "--snapshot", "examples/demo-mesh",
                   "--no-cache", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    (step,) = report["steps"]
    assert step["status"] == "warn"
    assert "exists in cluster1, cluster2 and runs nothing there" in step["evidence"][0]


def test_slack_output_is_block_kit_messages(replay_mini_dir):
    proc = meshbot("mesh", "why-local-only", "nosuch", "-n", "sample", "--snapshot",
                   str(replay_mini_dir), "--output", "slack")
    messages = json.loads(proc.stdout)["messages"]
    assert messages[0]["blocks"][-1]["type"] == "actions"  # Re-run and Details on the root
    assert all(len(m["blocks"]) <= 50 for m in messages)


class Blackhole:
    """A TCP server that accepts connections and never answers: an API server behind a
    firewall that drops replies, the worst kind of unreachable."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_unanswering_cluster_gives_a_partial_report_naming_it(replay_mini_thread, tmp_path):
    kubeconfig = replay_mini_thread.kubeconfig()
    hole = Blackhole()
    try:
        kubeconfig["clusters"].append({"name": "cluster3", "cluster": {
            "server": f"http://127.0.0.1:{hole.port}"}})
        kubeconfig["contexts"].append({"name": "cluster3", "context": {
            "cluster": "cluster3", "user": kubeconfig["users"][0]["name"]}})
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        proc = meshbot("mesh", "why-local-only", "nosuch", "-n", "sample", "--kubeconfig",
                       str(path), "--timeout", "2", "--output", "json")
    finally:
        hole.close()
    report = json.loads(proc.stdout)
    reach = {c["name"]: c["reachable"] for c in report["clusters"]}
    assert reach == {"cluster1": True, "cluster2": True, "cluster3": False}
    assert report["errors"] == [{"cluster": "cluster3", "source": "kubernetes",
                                 "message": "timed out after 2s"}]
    # The service might exist in the cluster that did not answer: no false "not found",
    # and the step that could not look there says so.
    ids = [f["id"] for f in report["findings"]]
    assert "service-not-found" not in ids
    presence = next(s for s in report["steps"] if s["check"] == "service-presence")
    assert "cluster3: could not list services" in presence["evidence"]
    # "cluster3" is only a context name: the cluster never said which Istio cluster id it
    # carries, so no secret can be called missing for it (a fix would create one under a
    # guessed key). The answer says so and is not healthy.
    assert ids == []
    secrets = [s for s in report["steps"] if s["check"] == "remote-secrets"
               and s["cluster"] != "cluster3"]
    assert len(secrets) == 2
    assert all(any(line.startswith("cluster3: its Istio cluster id could not be learnt")
                   for line in s["evidence"]) for s in secrets)
    assert report["clusters"][2]["cluster_id"] is None
    assert report["verdict"] == "inconclusive" and proc.returncode == 3


def test_replay_process_and_kubeconfig_give_the_same_findings_as_the_snapshot(tmp_path):
    """The issue's acceptance path: `meshbot replay` in its own process, then `--kubeconfig`."""
    demo = REPO / "examples" / "demo-mesh"
    kubeconfig = tmp_path / "replay.kubeconfig"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(MESHBOT + ["replay", str(demo), "--kubeconfig-out", str(kubeconfig)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        for _ in range(len(Snapshot.open(demo).clusters)):  # one "cluster url" line per cluster
            assert server.stdout.readline().strip(), server.stderr.read()
        live = meshbot("mesh", "why-local-only", "helloworld", "-n", "sample",
                       "--kubeconfig", str(kubeconfig), "--output", "json")
        files = meshbot("mesh", "why-local-only", "helloworld", "-n", "sample",
                        "--snapshot", str(demo), "--output", "json")
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
        server.stderr.close()
    assert live.returncode == files.returncode == 1, live.stderr
    live_report, file_report = json.loads(live.stdout), json.loads(files.stdout)
    assert live_report["api_calls"] > 0 and file_report["api_calls"] == 0
    assert live_report["findings"] == file_report["findings"]
    assert [f["id"] for f in live_report["findings"]] == ["remote-secret-missing"]


def _kubeconfig_with(kubeconfig: dict, name: str, server: str) -> dict:
    kubeconfig["clusters"].append({"name": name, "cluster": {"server": server}})
    kubeconfig["contexts"].append({"name": name, "context": {
        "cluster": name, "user": kubeconfig["users"][0]["name"]}})
    return kubeconfig


def test_trust_steps_that_could_not_read_a_cluster_do_not_pass(replay_mini_thread, tmp_path):
    """A refused connection is named as such, and the steps that lacked a cluster's inputs are
    errors, not passes, whether that cluster is the only one or one of several."""
    closed = f"http://127.0.0.1:{_closed_port()}"
    alone = tmp_path / "alone.kubeconfig"
    alone.write_text(yaml.safe_dump(_kubeconfig_with(
        {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [],
         "users": [{"name": "u", "user": {"token": "t"}}], "current-context": "down"},
        "down", closed)))
    text = meshbot("mesh", "trust", "--kubeconfig", str(alone))
    assert text.returncode == 3, text.stderr
    assert "✔" not in text.stdout
    assert f"down: could not read ({closed}: connection refused)" in text.stdout
    assert "timed out" not in text.stdout

    mixed = tmp_path / "mixed.kubeconfig"
    mixed.write_text(yaml.safe_dump(_kubeconfig_with(replay_mini_thread.kubeconfig(), "down",
                                                     closed)))
    proc = meshbot("mesh", "trust", "--kubeconfig", str(mixed), "--output", "json")
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "inconclusive"
    steps = {s["check"]: s for s in report["steps"] if s["check"] != "mesh-membership"}
    assert set(steps) == {"root-of-trust", "trust-domain"}
    for step in steps.values():
        assert step["status"] == "error", step
        assert f"down: could not read ({closed}: connection refused)" in step["evidence"]


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: connecting is refused at once
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
