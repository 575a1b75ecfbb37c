"""Block Kit rendering within Slack's limits, whatever the size of the evidence."""

from __future__ import annotations

from bot.answer_blocks import details_view, findings_digest, thread
from bot.blocks import MAX_BLOCKS, MAX_SECTION
from bot.metrics import Metrics
from bot.poster import Poster, web_client
from diagnostics.model import ClusterStatus, RenderedFinding, Report, Step
from diagnostics.render.text import render_text
from tests.bot_support import fast_slack
from tests.slackfake.state import all_text


def _finding(i: int, id_: str | None = None) -> RenderedFinding:
    return RenderedFinding(
        id=id_ or f"finding-{i}", severity="error", cluster="cluster1", resource=f"r{i}",
        title=f"finding {i} <with> & markup", summary="s", cause="c" * 500,
        evidence=["e"], fix=["do this", "then that"], commands=["kubectl get x " + "y" * 4000],
        why="w", docs="https://istio.io/", rank=30, by_design=False)


def huge_report(findings: list[RenderedFinding] | None = None) -> Report:
    findings = findings or [_finding(i) for i in range(40)]  # 40 different problems
    step = Step("A step with a lot of evidence", "fail", "cluster1",
                [f"line {n}: " + "x" * 80 for n in range(3000)])
    return Report(command="why-local-only", args={"service": "hw", "namespace": "sample"},
                  verdict="problem", summary="S" * 5000, clusters=[ClusterStatus("cluster1", True)],
                  steps=[step], findings=findings, errors=[], duration_ms=1, api_calls=1,
                  cached=False, generated_at="2026-11-21T09:00:00Z",
                  step_refs=[list(range(len(findings)))])


def test_huge_reports_stay_within_block_kit_limits_and_spill_into_files():
    messages = thread(huge_report(), "why-local-only hw -n sample")
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            assert len(block.get("text", {}).get("text", "")) <= MAX_SECTION
    assert len(messages) == 2  # the root and the one step that needs attention; none passed
    step = messages[1]
    names = [name for name, _ in step.files]
    assert "step-1-evidence.txt" in names and "steps-more.txt" in names
    evidence = dict(step.files)["step-1-evidence.txt"]
    assert evidence.count("\n") == 3000  # the whole evidence, not the cut


def test_findings_of_one_id_are_shown_once_with_one_line_per_further_resource():
    findings = [_finding(i, "sidecar-not-injected") for i in range(30)]
    for f in findings:
        f.commands = ["kubectl get ns shop", f"kubectl rollout restart deployment/w{f.resource}"]
    report = huge_report(findings)
    text = render_text(report)
    assert text.count("Cause:") == 1 and "The same in 29 more" in text
    assert all(f"deployment/wr{i}" in text for i in range(30))
    assert text.count("kubectl get ns shop") == 1  # a command all share is shown once
    (step,) = thread(report)[1:]
    shown = all_text(step.blocks) + "".join(content for _, content in step.files)
    assert shown.count("Why it works") == 1 and "The same in 29 more" in shown
    assert all(f"deployment/wr{i}" in shown for i in range(30))
    short = all_text(findings_digest(report).blocks)
    assert short.count("sidecar-not-injected") == 1 and "(and 29 more like it)" in short
    two = render_text(huge_report([_finding(i, "root-cert-mismatch") for i in range(2)]))
    assert two.count("Cause:") == 2, "two of a kind are both shown in full"


def test_mrkdwn_control_characters_are_escaped():
    text = all_text(thread(huge_report())[1].blocks)
    assert "&lt;with&gt; &amp; markup" in text and "<with>" not in text


async def test_fake_slack_accepts_every_message_of_a_huge_report():
    async with fast_slack() as slack:
        metrics = Metrics()
        poster = Poster(web_client(slack.bot_token, slack.api_base_url, metrics), metrics)
        messages = thread(huge_report())
        root = await poster.post("C0GENERAL", messages[0])
        assert root
        for message in messages[1:]:
            assert await poster.post("C0GENERAL", message, root)
        assert not [c for c in slack.api.calls("chat.postMessage") if not c.ok]
        assert {f.filename for f in slack.api.files()} >= {"step-1-evidence.txt", "steps-more.txt"}


async def test_refused_blocks_degrade_to_text_with_the_content_attached():
    async with fast_slack() as slack:
        metrics = Metrics()
        poster = Poster(web_client(slack.bot_token, slack.api_base_url, metrics), metrics)
        slack.api.fail("chat.postMessage", "invalid_blocks", times=1)
        ts = await poster.post("C0GENERAL", thread(huge_report())[0])
        assert ts
        (message,) = slack.api.messages("C0GENERAL")
        assert "the full message is attached" in message.text
        assert [f.filename for f in slack.api.files()] == ["message.txt"]


def _refusals(message) -> list[str]:
    """What the fake Slack (Slack's own limits) would refuse in a message, if anything."""
    from tests.slackfake.blockkit import validate_message_blocks

    problems = validate_message_blocks(message.blocks)
    out = list(problems[1]) if problems else []
    if len(message.text) > 4000:
        out.append(f"text of {len(message.text)} characters")
    return out


def test_every_message_meshbot_builds_is_within_block_kit_limits_whatever_its_input():
    """Extreme inputs for every builder: a command near the length bound, a huge summary,
    markup-heavy and huge alert labels. Nothing Slack would refuse comes out."""
    from bot.alerts import Alert, Notification
    from bot.answer_blocks import ping_message, root_message
    from bot.blocks import (SlackMessage, failure_message, incident_message, progress_message,
                            text_message)

    command = "why-local-only helloworld -n sample" + " --cluster cluster1" * 200
    amp = "&" * 2990  # escaping makes each & five characters
    report = huge_report()
    alert = Alert("firing", {"alertname": amp}, {"summary": amp}, "", "", "f" * 16)
    notification = Notification("firing", (alert,) * 3, "{}:" + amp, receiver=amp,
                                 group_labels={"g" * 500: amp}, common_annotations={})
    state = {"status": "firing", "first_seen": 0, "verdict": "problem", "summary": amp,
             "commands": [command], "notified": 3, "flaps": 2}
    messages = [progress_message(command, "U0ALICE"), progress_message(amp),
                root_message(report, command, "U0ALICE"), root_message(report, amp),
                failure_message(command, amp, "U0ALICE"), text_message(amp * 20),
                incident_message(notification, state), *thread(report, command),
                ping_message(report, command, "U0ALICE"),
                SlackMessage(text=amp * 5, blocks=[section_dict(amp * 2) for _ in range(80)])]
    for message in messages:
        assert not _refusals(message), message.blocks[:1]
    long_root = root_message(report, command)
    assert "too long for Re-run" in all_text(long_root.blocks)
    assert "…" in all_text(progress_message(command).blocks)


def section_dict(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_the_details_view_holds_what_a_modal_may_and_hands_the_rest_to_a_file():
    from tests.slackfake.blockkit import validate_view

    command = "why-local-only hw -n sample"
    view, overflow = details_view(huge_report(), command)
    assert validate_view(view) == []
    assert overflow is not None and overflow.count("line 2999: ") == 1  # the whole evidence
    assert "meshbot-details.txt" in all_text(view["blocks"][-1])
    many = huge_report()
    many.steps = [Step(f"step {i}", "pass", f"c{i}", [f"evidence {i}"]) for i in range(120)]
    many.step_refs = [[] for _ in many.steps]
    view, overflow = details_view(many, command)
    assert validate_view(view) == [] and len(view["blocks"]) == 100
    assert "evidence 119" in overflow and "evidence 119" not in all_text(view["blocks"])
