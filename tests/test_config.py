"""Configuration (contract C5): the documented example is valid, mistakes name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diagnostics.config import ConfigError, load_config

EXAMPLE = """
clusters:
  - name: cluster1
    context: kind-cluster1
    istio_namespace: istio-system
    istiod_url: null
permissions:
  channels: {C0123ABCD: [help, why-local-only, proxy-status, check, trust]}
  restricted_commands: {remote-clusters: [S0GROUPID]}
digests:
  - channel: C0MESHHEALTH
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
incidents:
  alertmanager_routes:
    - match: {severity: critical}
      channel: C0INCIDENTS
  channel_name_patterns: ["inc-*", "incident-*"]
cache:
  ttl_seconds: 60
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "meshbot.yaml"
    path.write_text(text)
    return str(path)


def test_design_example_is_valid(tmp_path):
    cfg = load_config(write(tmp_path, EXAMPLE))
    assert cfg.clusters[0].context == "kind-cluster1"
    assert cfg.digests[0].timezone == "Europe/Berlin"
    assert cfg.cache.ttl_seconds == 60
    assert cfg.diagnosis.cluster_timeout_seconds == 10


def test_no_file_means_defaults(monkeypatch):
    monkeypatch.delenv("MESHBOT_CONFIG", raising=False)
    assert load_config(None).clusters == []


@pytest.mark.parametrize("text, expected", [
    ("clusters: [{context: x}]", "clusters[0].name: required"),
    ("clusters: [{name: a}, {name: a}]", "repeated: a"),
    ("digests: [{channel: C1, cron: '0 9 * *'}]", "digests[0].cron: must be a standard five-field"),
    ("digests: [{channel: C1, cron: '0 9 * * *', timezone: Mars/Olympus}]", "unknown IANA time zone"),
    ("digests: [{channel: C1, cron: '61 9 * * *'}]", "digests[0].cron: not a valid cron expression"),
    ("cache: {ttl_seconds: -1}", "cache.ttl_seconds"),
    ("clusters: [{name: a, istiod_url: 'istiod:15014'}]", "must start with http"),
    ("slack_token: xoxb-123", "slack_token: unknown key"),
    ("- a list", "(top level): must be a mapping"),
    ("clusters: {a: 1}", "clusters: must be list, got mapping"),
    ("diagnosis: {isolated: maybe}", "diagnosis.isolated: must be bool or null, got str"),
    ("uploads: {max_archive_mib: 2000}", "uploads.max_archive_mib: must be int <= 1024"),
])
def test_errors_name_file_key_and_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(path) and expected in str(exc.value)


def test_malformed_yaml_and_missing_file(tmp_path):
    path = write(tmp_path, "clusters: [\n")
    with pytest.raises(ConfigError, match=r"meshbot.yaml:\d+: malformed YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))


def test_config_command_names_are_the_command_table():
    """diagnostics/ cannot import handlers/, so config keeps its own list; it must not drift."""
    from diagnostics.config import COMMAND_NAMES
    from handlers.commands import COMMANDS

    assert set(COMMAND_NAMES) == set(COMMANDS) | {"help"}
    assert len(COMMAND_NAMES) == len(set(COMMAND_NAMES))


@pytest.mark.parametrize("text, expected", [
    ("permissions: {restricted_commands: {remote-cluster: [S0GROUPID]}}",
     "permissions.restricted_commands.remote-cluster: unknown command 'remote-cluster'; "
     "did you mean 'remote-clusters'?"),
    ("permissions: {channels: {C123: [hlep]}}",
     "permissions.channels.C123[0]: unknown command 'hlep'; did you mean 'help'?"),
    ("permissions: {channels: {C123: [trust, why-local-onyl]}}",
     "permissions.channels.C123[1]: unknown command 'why-local-onyl'; "
     "did you mean 'why-local-only'?"),
    ("permissions: {channels: {C123: [zzzz]}}",
     "permissions.channels.C123[0]: unknown command 'zzzz'; commands: help, why-local-only,"),
    ("permissions: {restricted_commands: {help: [S0GROUPID]}}",
     "permissions.restricted_commands: 'help' always works and cannot be restricted"),
    ("permissions: {restricted_commands: {trust: [], digest: [S1]}}",
     "permissions.restricted_commands: trust: list the Slack user group ids"),
])
def test_permissions_name_only_real_commands(tmp_path, text, expected):
    """A misspelt command would leave the real one unrestricted: refuse to start instead."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert expected in str(exc.value)


def test_every_bad_command_name_is_reported_at_once(tmp_path):
    path = write(tmp_path, "permissions:\n"
                           "  channels: {C1: [hlep, trust], C2: [chekc]}\n"
                           "  restricted_commands: {trsut: [S1], check: [S2]}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    lines = str(exc.value).splitlines()
    assert lines == [
        f"{path}: permissions.channels.C1[0]: unknown command 'hlep'; did you mean 'help'?",
        f"{path}: permissions.channels.C2[0]: unknown command 'chekc'; did you mean 'check'?",
        f"{path}: permissions.restricted_commands.trsut: unknown command 'trsut'; "
        "did you mean 'trust'?",
    ]


def test_every_command_may_be_named_in_permissions(tmp_path):
    from diagnostics.config import COMMAND_NAMES

    restricted = [c for c in COMMAND_NAMES if c != "help"]
    cfg = load_config(write(tmp_path, yaml.safe_dump({"permissions": {
        "channels": {"C1": list(COMMAND_NAMES)},
        "restricted_commands": {c: ["S0GROUPID"] for c in restricted}}})))
    assert cfg.permissions.channels["C1"] == list(COMMAND_NAMES)
    assert set(cfg.permissions.restricted_commands) == set(restricted)
