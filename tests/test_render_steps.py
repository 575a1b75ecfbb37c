"""Runbook steps as every renderer shows them: one numbering for Slack and the terminal, and no
step that passes while its own evidence carries the symptom under diagnosis."""

from __future__ import annotations

import asyncio
import re
from functools import lru_cache

import pytest

from bot.answer_blocks import thread
from diagnostics.checks.network_gateways import RECEIVES_NONE
from diagnostics.model import Report
from diagnostics.render.steps import runbook_steps
from diagnostics.render.text import render_text
from tests.scenario_support import run_snapshot, scenarios
from tests.slackfake.state import all_text


@lru_cache(maxsize=1)
def reports() -> dict[str, Report]:
    async def run_all():
        return {sc.name: await run_snapshot(sc) for sc in scenarios()}
    return asyncio.run(run_all())


NAMES = [sc.name for sc in scenarios()]
SYMPTOMS = {  # command -> what in a step's own evidence is the symptom it is asked about
    "why-local-only": re.compile(re.escape(RECEIVES_NONE)),
    "check": re.compile(r"\b0 ready\b|pods not Ready"),
}


@pytest.mark.parametrize("name", NAMES)
def test_no_step_passes_beside_the_symptom(name):
    report = reports()[name]
    symptom = SYMPTOMS.get(report.command)
    if symptom is None:
        return
    passing = [(s.title, s.cluster, line) for s in report.steps if s.status == "pass"
               for line in s.evidence if symptom.search(line)]
    assert not passing, passing


def _heads(text: str) -> list[str]:
    """Step head lines: a mark, then `N. ` (Slack bolds the number and title)."""
    return [line for line in text.splitlines() if re.match(r"^\S+ \*?\d+\. ", line)]


@pytest.mark.parametrize("name", ["demo", "check-namespace-shop", "remote-api-tls-1-28",
                                  "locality-expected", "proxy-stale"])
def test_slack_and_the_terminal_number_the_same_steps_alike(name):
    report = reports()[name]
    steps = runbook_steps(report)
    messages = thread(report)
    slack = [h.replace("*", "") for m in messages[1:] for h in _heads(all_text(m.blocks))]
    terminal = _heads(render_text(report, width=400))
    assert len(slack) == len(terminal) == len(steps) and len(messages) <= 3
    for step in steps:
        head = f"{step.number}. {step.title}"
        assert sum(h.split(" ", 1)[1].startswith(head) for h in slack) == 1, head
        assert sum(h.split(" ", 1)[1].startswith(head) for h in terminal) == 1, head


def test_a_step_of_several_clusters_is_titled_by_its_check_when_their_titles_differ():
    steps = runbook_steps(reports()["demo"])
    gateways = next(s for s in steps if len({r.title for r in s.runs}) > 1)
    assert gateways.title == "East-west gateway of each network that others must reach"
    assert gateways.run_label(gateways.runs[0]) == \
        "cluster1: East-west gateway of network network1"


def test_a_skipped_step_says_where_and_why_on_its_line():
    steps = {s.title: s for s in runbook_steps(reports()["demo"])}
    note = steps["Connections to remote endpoints of helloworld.sample"].note()
    assert note.startswith("skipped in cluster1, cluster2: no istio-proxy log of sleep-")
    assert steps["Root of trust across clusters"].note() == ""
