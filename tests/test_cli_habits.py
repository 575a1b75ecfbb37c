"""The terminal as kubectl users expect it: flag forms, output that fits the screen and the
width, colours that follow NO_COLOR, pipes that close early, completion, and help that states
real defaults. Every test runs `meshbot` as a real process."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import unicodedata

import pytest

from tests.test_cli import MESHBOT, REPO, assert_clean_usage_error, meshbot

DEMO = str(REPO / "examples" / "demo-mesh")
WHY = ["mesh", "why-local-only", "helloworld", "-n", "sample", "--snapshot", DEMO]


def run(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG", "COLUMNS")}
    return subprocess.run(MESHBOT + list(args), cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})}, **kw)


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)


def report_args(*words: str) -> dict:
    proc = run("mesh", *words, "--snapshot", DEMO)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["args"]


@pytest.mark.parametrize("words", [
    ["why-local-only", "helloworld", "-nsample", "-ojson"],
    ["why-local-only", "helloworld", "--namespace=sample", "--output=json"],
    ["why-local-only", "helloworld", "-n=sample", "-o", "json"],
    ["why-local-only", "helloworld.sample", "-ojson"],
    ["why-local-only", "helloworld.sample.svc.cluster.local", "-ojson"],
    ["why-local-only", "sample/helloworld", "-ojson"],
    ["why-local-only", "svc/helloworld", "-nsample", "-ojson"],
])
def test_kubectl_spellings_of_the_service_and_its_namespace_mean_the_same(words):
    assert report_args(*words) == {"service": "helloworld", "namespace": "sample"}


def test_all_namespaces_is_proxy_status_default_and_excludes_n():
    assert report_args("proxy-status", "-A", "-ojson") == report_args("proxy-status", "-ojson") \
        == {}
    assert_clean_usage_error(run("mesh", "proxy-status", "-A", "-n", "sample"),
                             "-A/--all-namespaces and -n/--namespace exclude each other")
    assert_clean_usage_error(run("mesh", "why-local-only", "helloworld", "-A"),
                             "why-local-only does not take -A/--all-namespaces")
    assert_clean_usage_error(run("mesh", "why-local-only", "helloworld.sample", "-n", "other"),
                             "the service is given in namespace sample and -n says 'other'")


def test_per_command_help_states_each_option_with_its_real_default():
    proxy = run("mesh", "help", "proxy-status").stdout
    assert "-n/--namespace <namespace>" in proxy
    assert "default: every namespace" in " ".join(proxy.split())
    assert "-A/--all-namespaces" in proxy and "--from" not in proxy
    why = " ".join(run("mesh", "why-local-only", "--help").stdout.split())
    assert "the service's namespace (default: default;" in why and "--from <pod>" in why
    trust = run("mesh", "help", "trust").stdout
    assert "--cluster <name>" in trust and "-n/--namespace" not in trust
    assert all(width(line) <= 80 for line in (proxy + trust).splitlines())


def test_the_demo_answer_fits_one_screen_at_80_columns_and_verbose_adds_the_evidence():
    proc = run(*WHY, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= 60, proc.stdout
    too_wide = [line for line in lines if width(line) > 80]
    assert all(" " not in line.strip() or line.lstrip().startswith("Docs: https://")
               for line in too_wide), too_wide  # only words that cannot be broken
    assert lines[0] == "✖ PROBLEM  why-local-only helloworld -n sample"
    assert "✖ 9. Remote secrets (✔ cluster2)" in lines
    assert "✔ 1. Clusters of the mesh" in lines  # passed steps: one line each
    assert "$ istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl \\" \
        in proc.stdout  # a wrapped command still pastes
    verbose = run(*WHY, "-v", env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    assert "helloworld:5000: 2 endpoints" not in proc.stdout
    assert "helloworld:5000: 2 endpoints" in verbose  # cluster2's evidence, passed
    assert "  cluster1: trustDomain cluster.local" in verbose


def test_lines_follow_the_terminal_width_from_columns():
    wide = run(*WHY, env={"COLUMNS": "120", "NO_COLOR": "1"}).stdout.splitlines()
    narrow = run(*WHY, env={"COLUMNS": "60", "NO_COLOR": "1"}).stdout.splitlines()
    assert max(map(width, wide)) > 80 and len(wide) < len(narrow)
    assert all(width(line) <= 60 or " " not in line.strip() or "Docs: https://" in line
               for line in narrow)


def _on_a_terminal(*args: str, env: dict) -> str:
    """Run meshbot with its stdout on a pseudo-terminal, as in a shell; what it printed."""
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MESHBOT_SNAPSHOT")}
    proc = subprocess.Popen(MESHBOT + list(args), cwd=REPO, stdout=follower,
                            stderr=subprocess.PIPE, env={**base, **env})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: the process is done
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    proc.wait(timeout=60)
    proc.stderr.close()
    return out.decode()


def test_colours_only_on_a_terminal_and_never_with_no_color():
    assert "\033[" in _on_a_terminal(*WHY, env={"COLUMNS": "80"})
    assert "\033[" not in _on_a_terminal(*WHY, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "\033[" not in _on_a_terminal(*WHY, "--no-color", env={"COLUMNS": "80"})
    assert "\033[" not in run(*WHY).stdout  # a pipe


def test_output_piped_into_head_ends_quietly():
    shell = (f"set -o pipefail; {sys.executable} -m bot.cli mesh why-local-only helloworld "
             f"-n sample --snapshot {DEMO} -v | head -1")
    proc = subprocess.run(["bash", "-c", shell], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert proc.stdout == "✖ PROBLEM  why-local-only helloworld -n sample\n"
    assert proc.returncode in (1, 141), proc.stderr  # the verdict, or the closed pipe
    assert proc.stderr == ""
    for args in (WHY, ["catalog", "-o", "markdown"], ["mesh", "help"]):
        gone = subprocess.Popen(MESHBOT + list(args), cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        gone.stdout.close()  # the reader is gone before anything is written
        err = gone.stderr.read().decode()
        gone.stderr.close()
        assert gone.wait(timeout=60) == 141 and err == "", err


def test_catalog_speaks_json_and_shows_one_entry():
    data = json.loads(run("catalog", "-o", "json").stdout)
    assert data["schema"] == "meshbot.catalog/v1"
    one = run("catalog", "namespace-not-found")
    assert one.returncode == 0 and one.stdout.startswith("namespace-not-found (error): ")
    assert "{similar}: comma-separated names" in one.stdout
    entry = json.loads(run("catalog", "remote-secret-missing", "-o", "json").stdout)
    assert entry["id"] == "remote-secret-missing" and "remote-secrets" in entry["checks"]
    assert_clean_usage_error(run("catalog", "remote-secret-mising"),
                             "did you mean remote-secret-missing?")


def test_completion_is_generated_from_the_grammar(tmp_path):
    script = tmp_path / "meshbot.bash"
    script.write_text(run("completion", "bash").stdout)

    def complete(*words: str) -> set[str]:
        line = " ".join(("meshbot",) + words)
        probe = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; "
                 f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _shtab_meshbot; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        return set(subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                                  timeout=30).stdout.split())
    assert {"ping", "proxy-status"} <= complete("mesh", "p")
    assert {"-A", "--namespace", "--no-color", "-v"} <= complete("mesh", "proxy-status", "-")
    assert "-A" not in complete("mesh", "trust", "-")
    assert complete("mesh", "trust", "-o", "") == {"text", "json", "slack", "png", "svg"}
    assert run("completion", "zsh").stdout.startswith("#compdef meshbot")


def test_no_cluster_configured_says_how_to_point_meshbot_at_clusters(tmp_path):
    env = {"HOME": str(tmp_path), "NO_COLOR": "1"}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "MESHBOT_"))}
    proc = subprocess.run(MESHBOT + ["mesh", "trust"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={**base, **env})
    assert_clean_usage_error(proc, "no cluster to read: no kubeconfig with a cluster at "
                                   "~/.kube/config")
    assert "--kubeconfig <file>" in proc.stderr and "`meshbot demo`" in proc.stderr


def test_proxy_status_in_a_namespace_that_exists_nowhere_says_so():
    proc = run("mesh", "proxy-status", "-n", "sampel", "--snapshot", DEMO,
               env={"NO_COLOR": "1"})
    assert proc.returncode == 1, proc.stderr
    assert "namespace sampel does not exist in any cluster read" in proc.stdout
    assert "similar names: sample" in proc.stdout


def test_an_unreachable_cluster_leaves_no_template_in_the_answer(tmp_path):
    kubeconfig = tmp_path / "down.kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "down",
        "clusters": [{"name": "down", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    for output in ("text", "json"):
        proc = meshbot(*WHY[:5], "--kubeconfig", str(kubeconfig), "-v", "-o", output)
        assert proc.returncode == 3, proc.stderr
        assert "{istio}" not in proc.stdout and "{namespace}" not in proc.stdout
        assert "pods in namespace istio-system -l app=istiod" in proc.stdout


def test_version_is_kept():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("meshbot ")


def test_ping_in_a_terminal_shows_what_each_cluster_answered():
    proc = run("mesh", "ping", "--snapshot", DEMO, env={"NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "✔ cluster1: 4 namespaces listed (default, istio-system, kube-system, sample)" \
        in proc.stdout
    assert "clusters: cluster1 " in proc.stdout and " ms, cluster2 " in proc.stdout
