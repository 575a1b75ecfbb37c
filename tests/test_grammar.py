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
    assert req.checks[:2] == ["mesh-membership", "service-presence"]


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
    ("-n sample why-local-only hw", "the command comes first, then its options"),
])
def test_bad_input_gets_a_clear_message(text: str, fragment: str):
    assert fragment in usage_error(text)


def test_terminal_options_are_refused_in_slack_but_accepted_in_a_terminal():
    assert "only works in a terminal" in usage_error("why-local-only hw --snapshot /tmp/x")
    req = ask("why-local-only hw --snapshot /tmp/x --output json --no-cache", terminal=True)
    assert req.options == {"snapshot": ["/tmp/x"], "output": "json", "no_cache": True}


def test_help_lists_commands_with_examples():
    reply = ask("help")
    assert isinstance(reply, TextReply)
    assert "why-local-only <service>" in reply.text
    assert "why-local-only helloworld -n sample" in reply.text
    assert "usage: why-local-only" in ask("help why-local-only").text


def test_terminal_help_lists_the_terminal_options_and_slack_help_does_not():
    from handlers.grammar import TERMINAL_OPTIONS

    terminal, slack = ask("help", terminal=True).text, ask("help").text
    assert terminal.startswith(slack)  # the same help, plus one section
    section = terminal[len(slack):]
    assert section.startswith("\n\nterminal options:\n")
    for opt in TERMINAL_OPTIONS:  # every option the terminal accepts, and nothing in Slack
        assert f"  {'/'.join(opt.flags)}" in section
        assert f"{'/'.join(opt.flags)} " not in slack
    assert "--output/-o text|json|slack" in section
    assert "--context <name>" in section and "(repeatable)" in section
    assert "terminal options" not in ask("").text
    assert "terminal options:" in ask("", terminal=True).text


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_flags_are_help_in_both_places(flag):
    assert ask(flag).text == ask("help").text
    assert ask(flag, terminal=True).text == ask("help", terminal=True).text
    assert ask(f"{flag} trust").text == ask("help trust").text
    assert ask(f"help {flag}").text == ask("help").text


def test_help_flag_after_a_command_shows_that_command_whatever_else_is_given():
    slack = ask("why-local-only Bad_Name -n sample --help")
    assert isinstance(slack, TextReply)
    assert slack.text == ask("help why-local-only").text
    assert "terminal options" not in slack.text
    terminal = ask("why-local-only --snapshot /tmp/x -h", terminal=True).text
    assert terminal.startswith(slack.text) and "terminal options:" in terminal


def test_output_must_be_a_known_format():
    assert "--output must be one of text, json, slack" in usage_error(
        "trust --output yaml", terminal=True)
    assert "-o must be one of" in usage_error("trust -o=xml", terminal=True)
    assert ask("trust -o slack", terminal=True).options == {"output": "slack"}


def test_empty_text_is_help_and_unknown_help_topic_is_an_error():
    assert isinstance(ask(""), TextReply)
    assert "unknown command `nope`" in usage_error("help nope")


def test_planned_commands_say_they_are_not_available_yet(monkeypatch):
    from handlers.commands import PLANNED  # every C1 command has landed: test the mechanism
    monkeypatch.setitem(PLANNED, "mesh-graph", "a later command")
    assert "not available in this version yet" in usage_error("mesh-graph")


def test_trust_takes_no_arguments_but_accepts_cluster():
    assert ask("trust --cluster cluster1").clusters == ["cluster1"]
    assert "takes no arguments" in usage_error("trust cluster1")
    assert "does not take -n/--namespace" in usage_error("trust -n sample")


def test_usage_text_names_the_command_usage():
    assert usage_text("why-local-only").startswith("usage: why-local-only <service>")
    assert "commands:" in usage_text(None)


# ----------------------------------------------------------------------------- proxy-status


def test_proxy_status_examines_every_namespace_unless_told():
    req = ask("proxy-status")
    assert req.command == "proxy-status" and req.args == {}
    assert req.checks == ["namespace-presence", "istiod-serving", "proxy-sync",
                          "proxy-connected", "proxy-versions", "node-agents", "ambient-capture",
                          "waypoints"]
    narrowed = ask("proxy-status -n payload --cluster cluster2")
    assert narrowed.args == {"namespace": "payload"}
    plan = narrowed.plan()  # remote proxies are listed by the primary: read every cluster
    assert plan.clusters is None and plan.focus == ["cluster2"]


@pytest.mark.parametrize("text, fragment", [
    ("proxy-status sleep", "takes no arguments"),
    ("proxy-status -n Bad_NS", "not a valid namespace"),
    ("proxy-status --from sleep-1", "does not take --from"),
])
def test_proxy_status_bad_input(text: str, fragment: str):
    assert fragment in usage_error(text)


# ----------------------------------------------------------------------------- check


@pytest.mark.parametrize("text, kind, name, namespace", [
    ("check svc/payload-api -n shop", "svc", "payload-api", "shop"),
    ("check service/payload-api -n shop", "svc", "payload-api", "shop"),
    ("check services/payload -n payload", "svc", "payload", "payload"),
    ("check deploy/helloworld-v1 -n sample", "deploy", "helloworld-v1", "sample"),
    ("check deployment/payload-api --namespace=shop", "deploy", "payload-api", "shop"),
    ("check deployments/payload-api", "deploy", "payload-api", "default"),
    ("check pod/payload-api-7d9f6c5b4-x2x9z -n shop", "pod", "payload-api-7d9f6c5b4-x2x9z", "shop"),
    ("check po/sleep-1 -n sample", "pod", "sleep-1", "sample"),
    ("check pods/sleep-1", "pod", "sleep-1", "default"),
    ("check ns/sample", "ns", "sample", "sample"),
    ("check namespace/shop -n shop", "ns", "shop", "shop"),
    ("check namespaces/payload", "ns", "payload", "payload"),
])
def test_check_targets_as_kubectl_spells_them(text: str, kind: str, name: str, namespace: str):
    req = ask(text)
    assert req.command == "check"
    assert req.args == {"kind": kind, "name": name, "namespace": namespace}
    assert req.checks[0] == "workload-target"


def test_check_cluster_limits_what_is_read():
    plan = ask("check svc/payload-api -n shop --cluster cluster1").plan()
    assert plan.clusters == ["cluster1"] and plan.focus == ["cluster1"]
    assert ask("check svc/payload-api -n shop").plan().clusters is None


@pytest.mark.parametrize("text, fragment", [
    ("check", "exactly one target"),
    ("check svc", "<kind>/<name>"),
    ("check svc/", "<kind>/<name>"),
    ("check /payload-api", "<kind>/<name>"),
    ("check bogus/x", "unknown kind 'bogus'"),
    ("check svc/Bad_Name", "not a valid service name"),
    ("check svc/9lives -n shop", "not a valid service name"),
    ("check deploy/Payload_API", "not a valid Kubernetes object name"),
    ("check ns/Shop", "not a valid namespace"),
    ("check svc/payload-api -n Shop", "not a valid namespace"),
    ("check svc/a svc/b", "exactly one target"),
    ("check ns/shop -n sample", "does not apply"),
    ("check svc/payload-api --from sleep-1", "does not take --from"),
])
def test_check_bad_input(text: str, fragment: str):
    assert fragment in usage_error(text)


def test_help_knows_the_new_commands():
    assert "usage: check <kind>/<name>" in ask("help check").text
    assert "usage: proxy-status" in ask("help proxy-status").text


# --------------------------------------------------------------- remote-clusters, control-plane


def test_remote_clusters_takes_no_arguments_and_reads_every_cluster():
    req = ask("remote-clusters --cluster cluster1")
    assert req.command == "remote-clusters" and req.args == {}
    assert req.checks == ["mesh-membership", "cluster-ids", "remote-secrets",
                          "istiod-serving", "istiod-remote-view"]
    plan = req.plan()
    assert plan.clusters is None and plan.focus == ["cluster1"]  # peers are still read
    assert "takes no arguments" in usage_error("remote-clusters extra-arg")
    assert "does not take -n/--namespace" in usage_error("remote-clusters -n sample")
    assert "does not take --from" in usage_error("remote-clusters --from sleep-1")


def test_control_plane_focuses_on_the_named_cluster():
    req = ask("control-plane --cluster x")
    assert req.command == "control-plane" and req.clusters == ["x"]
    assert req.checks == ["istiod-health", "webhooks", "external-control-plane", "node-agents",
                          "ambient-multinetwork", "eastwest-ambient"]
    assert req.plan().focus == ["x"] and req.plan().clusters is None
    assert ask("control-plane").clusters == []
    assert "takes no arguments" in usage_error("control-plane cluster1")
    assert "does not take -n/--namespace" in usage_error("control-plane -n istio-system")
    assert "not a valid cluster name" in usage_error("control-plane --cluster 'a b;rm'")
    assert "usage: control-plane" in ask("help control-plane").text


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("tokens", [
    ["why-local-only", "helloworld\n"],
    ["why-local-only", "helloworld", "-n", "sample\n"],
    ["why-local-only", "helloworld", "--from", "sleep-1\n"],
    ["why-local-only", "helloworld", "--cluster", "cluster1\n"],
    ["check", "svc/payload-api\n"],
    ["check", "deploy/payload-api\n"],
    ["check", "ns/shop\n"],
])
def test_a_name_ending_in_a_newline_is_not_a_name(tokens):
    """`$` matches before a final newline; names are matched in full. Both ways text arrives:
    argv from a terminal, quoted text from Slack."""
    with pytest.raises(UsageError, match="not a valid"):
        parse(tokens, terminal=True)
    quoted = " ".join(f'"{t}"' for t in tokens)
    with pytest.raises(UsageError, match="not a valid"):
        parse(quoted, terminal=False)


def test_text_longer_than_any_command_is_refused_before_it_is_read():
    message = usage_error("why-local-only " + "a" * 600_000)
    assert "600,015 characters long" in message and "at most 4,000" in message
    assert len(message) < 200


@pytest.mark.parametrize("text", [
    "why-local-only " + "A" * 3000,
    "why-local-only hw -n " + "B" * 3000,
    "check svc/" + "C" * 3000,
    "check " + "d" * 3000 + "/x",
    "why-local-only hw --" + "e" * 3000,
    "f" * 3000,
    "why-local-only hw --cluster " + "g" * 3000,
])
def test_messages_quote_only_a_short_prefix_of_what_was_typed(text):
    message = usage_error(text)
    assert len(message) < 400, message
    assert "3,0" in message  # ... and say how long the whole input was


def test_splitting_agrees_with_a_posix_shell_on_quotes_and_escapes():
    """The one-pass splitter against shlex (the reference it replaces), on random texts made
    of the characters that matter."""
    import random
    import shlex

    from handlers.grammar import tokenize

    rng = random.Random(15)
    for _ in range(5000):
        text = "".join(rng.choice("ab '\"\\\t\n$") for _ in range(rng.randint(0, 14)))
        try:
            expected: object = shlex.split(text)
        except ValueError:
            expected = UsageError
        try:
            got: object = tokenize(text)
        except UsageError:
            got = UsageError
        assert got == expected, text


def test_a_valid_command_near_the_length_bound_is_parsed():
    clusters = [f"cluster-{i:02d}-" + "x" * 230 for i in range(12)]
    text = "why-local-only helloworld -n sample " + " ".join(f"--cluster {c}" for c in clusters)
    assert 2950 < len(text) <= 4000
    assert ask(text).clusters == clusters
