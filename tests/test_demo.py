"""`meshbot demo`: the whole pipeline on the bundled demo mesh, printed as the bot's thread."""

from __future__ import annotations

import json

from bot.cli import main


def test_demo_prints_the_thread_with_the_cause_and_exact_fix(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    root, _, replies = out.partition("└ thread")
    assert "PROBLEM" in root and "cluster2" in root and "[Re-run]  [Details]" in root
    assert "│ ❌" in replies  # a failed step in the thread
    assert ("istioctl create-remote-secret --context=cluster2 --name=cluster2 | "
            "kubectl apply --context=cluster1 -f -") in replies
    assert "*" not in root.splitlines()[2]  # mrkdwn bold markers are not shown raw


def test_demo_json_is_the_report(capsys):
    assert main(["demo", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "problem"
    assert [f["id"] for f in report["findings"]] == ["remote-secret-missing"]
    assert report["findings"][0]["cluster"] == "cluster1"
