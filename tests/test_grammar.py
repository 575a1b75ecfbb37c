"""Command text in, request or usage message out: the grammar Slack and the terminal share."""

from __future__ import annotations

import pytest

from handlers.base import Request, TextReply
from handlers.commands import parse, usage_text
from handlers.grammar import UsageError


def ask(text: str, terminal: bool = False) -> Request | TextReply:
    return parse(text, terminal=terminal)


def usage_error(text: str, terminal: bool = False) -> str:
    with pytest.raises(UsageError) as exc:
        ask(text, terminal)
    return str(exc.value)


def test_why_local_only_with_namespace():
    req = ask("why-local-only helloworld -n sample")
    assert isinstance(req, Request)
    assert req.command == "why-local-only"
    assert req.args == {"service": "helloworld", "namespace": "sample"}
    assert req.checks[0] == "service-presence"


def test_namespace_defaults_to_default_and_long_flag_forms():
    assert ask("why-local-only reviews").args["namespace"] == "default"
    assert ask("why-local-only reviews --namespace=shop").args["namespace"] == "shop"


def test_cluster_is_repeatable_and_from_is_kept():
    req = ask("why-local-only helloworld -n sample --cluster cluster1 --cluster cluster2 "
              "--from sleep-7656cf8794-8fhdk")
    assert req.clusters == ["cluster1", "cluster2"]
    assert req.args["from"] == "sleep-7656cf8794-8fhdk"
    plan = req.plan()
    assert plan.clusters is None and plan.focus == ["cluster1", "cluster2"]


def test_words_like_payload_are_just_names():
    req = ask("why-local-only payload -n payload")
    assert req.args == {"service": "payload", "namespace": "payload"}


def test_typographic_quotes_from_slack_are_plain_quotes():
    req = ask("why-local-only “helloworld” -n ‘sample’")
    assert req.args == {"service": "helloworld", "namespace": "sample"}


@pytest.mark.parametrize("text, fragment", [
    ("why-local-only", "exactly one service name"),
    ("why-local-only a b", "exactly one service name"),
    ("why-local-only Hello_World", "not a valid service name"),
    ("why-local-only 9lives", "not a valid service name"),
    ("why-local-only hw -n Sample", "not a valid namespace"),
    ("why-local-only hw -n", "-n needs a value"),
    ("why-local-only hw --frobnicate", "unknown option --frobnicate"),
    ("why-local-only hw -n a -n b", "given twice"),
    ("why-local-only hw --from bad_pod", "not a valid Kubernetes object name"),
    ("why-local-only hw --cluster 'two words'", "not a valid cluster name"),
    ("why-local-only 'unterminated", "cannot parse"),
    ("frobnicate", "unknown command `frobnicate`"),
    ("why-locl-only hw", "Did you mean `why-local-only`"),
])
def test_bad_input_gets_a_clear_message(text: str, fragment: str):
    assert fragment in usage_error(text)


def test_terminal_options_are_refused_in_slack_but_accepted_in_a_terminal():
    assert "only works in a terminal" in usage_error("why-local-only hw --snapshot /tmp/x")
    req = ask("why-local-only hw --snapshot /tmp/x --output json --no-cache", terminal=True)
    assert req.options == {"snapshot": "/tmp/x", "output": "json", "no_cache": True}


def test_help_lists_commands_with_examples():
    reply = ask("help")
    assert isinstance(reply, TextReply)
    assert "why-local-only <service>" in reply.text
    assert "why-local-only helloworld -n sample" in reply.text
    assert "usage: why-local-only" in ask("help why-local-only").text


def test_empty_text_is_help_and_unknown_help_topic_is_an_error():
    assert isinstance(ask(""), TextReply)
    assert "unknown command `nope`" in usage_error("help nope")


def test_planned_commands_say_they_are_not_available_yet():
    assert "not available in this version yet" in usage_error("proxy-status")


def test_trust_takes_no_arguments_but_accepts_cluster():
    assert ask("trust --cluster cluster1").clusters == ["cluster1"]
    assert "takes no arguments" in usage_error("trust cluster1")
    assert "does not take -n/--namespace" in usage_error("trust -n sample")


def test_usage_text_names_the_command_usage():
    assert usage_text("why-local-only").startswith("usage: why-local-only <service>")
    assert "commands:" in usage_text(None)
