"""docs/contracts.md lists what meshbot adds to DESIGN.md's contracts; these tests keep it honest
where that is cheap: a finding id, a mesh command, a config key, a metric or a report key added
to the code without a line in that page fails here.

DESIGN.md lives outside the repository (the project's shared folder), so the parts of it these
tests compare with are copied below, each from the contract it names. DESIGN's contracts only
grow; when they do, extend the copy.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import msgspec

from diagnostics.catalog import default_catalog
from diagnostics.config import Config
from handlers.commands import COMMANDS
from tests.scenario_support import SCENARIOS_DIR, Scenario, run_snapshot, scenarios

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "contracts.md").read_text(encoding="utf-8")

# DESIGN.md, C1: the command table.
DESIGN_COMMANDS = {"help", "why-local-only", "remote-clusters", "control-plane", "proxy-status",
                   "check", "trust", "digest"}

# DESIGN.md, C3: every id of its tables (why-local-only, remote-clusters/control-plane,
# proxy-status, check, trust, ambient).
DESIGN_IDS = {
    "service-not-found", "no-remote-endpoints", "locality-lb-prefers-local", "root-cert-mismatch",
    "trust-domain-mismatch", "remote-secret-missing", "remote-secret-key-mismatch",
    "remote-cluster-not-synced", "istiod-remote-missing", "eastwest-gateway-missing",
    "eastwest-gateway-pending", "eastwest-gateway-network-label", "cross-network-gateway-missing",
    "pod-network-unset", "system-namespace-network-label", "remote-endpoints-unreachable",
    "service-mismatch-across-clusters",
    "remote-api-unreachable", "remote-api-dns", "remote-api-tls", "remote-api-unauthorized",
    "remote-kubeconfig-invalid", "istiod-egress-blocked-by-networkpolicy", "istiod-unhealthy",
    "injection-webhook-missing", "validation-webhook-missing",
    "control-plane-clusters-annotation-missing", "injection-url-unescaped-slash",
    "cluster-id-collision",
    "proxy-stale", "proxy-disconnected", "proxy-version-skew",
    "sidecar-not-injected", "app-starts-before-proxy", "probes-fail-under-mtls",
    "port-protocol-ambiguous", "udp-port-not-proxied", "istio-init-blocked",
    "app-tls-under-strict-mtls", "headless-service-statefulset", "http10-upstream-426",
    "root-cert-expiring",
    "ambient-service-not-global", "ambient-service-missing-in-client-cluster",
    "ambient-multinetwork-disabled", "ambient-eastwest-gateway-invalid", "waypoint-not-universal",
    "waypoint-not-ready", "ztunnel-unhealthy", "ambient-pod-not-captured",
    "ztunnel-network-gateway-unknown", "cni-node-agent-unhealthy", "ztunnel-network-unset",
}

# DESIGN.md, C5: the keys of its example file.
DESIGN_CONFIG_KEYS = {
    "clusters", "clusters[].name", "clusters[].context", "clusters[].istio_namespace",
    "clusters[].istiod_url", "permissions", "permissions.channels",
    "permissions.restricted_commands", "digests", "digests[].channel", "digests[].cron",
    "digests[].timezone", "incidents", "incidents.alertmanager_routes",
    "incidents.alertmanager_routes[].match", "incidents.alertmanager_routes[].channel",
    "incidents.channel_name_patterns", "cache", "cache.ttl_seconds",
}

# DESIGN.md, C2: the keys of its example report (`args` varies by command and is left out).
DESIGN_REPORT_KEYS = {
    "schema", "command", "args", "verdict", "summary", "clusters", "clusters[].name",
    "clusters[].reachable", "steps", "steps[].title", "steps[].status", "steps[].cluster",
    "steps[].evidence", "steps[].findings", "findings", "findings[].id", "findings[].severity",
    "findings[].cluster", "findings[].resource", "findings[].title", "findings[].cause",
    "findings[].evidence", "findings[].fix", "findings[].commands", "findings[].why",
    "findings[].docs", "errors", "errors[].cluster", "errors[].source", "errors[].message",
    "duration_ms", "api_calls", "cached", "generated_at",
}
# Scenarios whose reports between them carry every kind of extension (step data of each
# check that sets it, a destructive fix's basis, a by-design finding, read errors).
REPORT_SCENARIOS = ("demo", "proxy-disconnected", "control-plane-healthy",
                    "remote-secret-key-mismatch", "istiod-debug-refused-401-1-30",
                    "locality-expected")


def documented(name: str) -> bool:
    """Named in the page as code: `name`, or as the start of a code span (`help <command>`)."""
    return re.search(r"`" + re.escape(name) + r"[`\s]", DOC) is not None


def test_every_finding_id_design_does_not_list_is_documented():
    extra = sorted(set(default_catalog().entries) - DESIGN_IDS)
    assert extra, "the catalog adds ids to DESIGN's C3; this test compares the wrong lists"
    missing = [fid for fid in extra if not documented(fid)]
    assert not missing, f"ids missing from docs/contracts.md (C3): {missing}"


def test_every_mesh_command_is_documented_and_the_added_ones_as_commands():
    assert DESIGN_COMMANDS <= set(COMMANDS), "a command of DESIGN's C1 left the grammar"
    missing = [name for name in COMMANDS if not documented(name)]
    assert not missing, f"commands missing from docs/contracts.md: {missing}"
    for name in sorted(set(COMMANDS) - DESIGN_COMMANDS):
        assert re.search(r"\| `" + re.escape(name) + r"[ `]", DOC), \
            f"`{name}` needs its own row in docs/contracts.md (C1)"


def _config_keys(model: type[msgspec.Struct], prefix: str = "") -> set[str]:
    keys = set()
    for field in msgspec.structs.fields(model):
        path = prefix + field.encode_name
        keys.add(path)
        inner = field.type
        args = getattr(inner, "__args__", ())
        if getattr(inner, "__origin__", None) is list and args and isinstance(args[0], type) \
                and issubclass(args[0], msgspec.Struct):
            keys |= _config_keys(args[0], path + "[].")
        elif isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            keys |= _config_keys(inner, path + ".")
    return keys


def test_every_config_key_design_does_not_list_is_documented():
    keys = _config_keys(Config)
    assert DESIGN_CONFIG_KEYS <= keys, f"DESIGN's C5 keys gone: {DESIGN_CONFIG_KEYS - keys}"
    extra = keys - DESIGN_CONFIG_KEYS
    # A section is documented through its keys (`uploads.enabled` documents `uploads`).
    leaves = sorted(k for k in extra if not any(o.startswith(k + ".") for o in extra))
    missing = [k for k in leaves if not documented(k)]
    assert not missing, f"config keys missing from docs/contracts.md (C5): {missing}"


def test_every_meshbot_metric_is_documented():
    from bot.metrics import Metrics

    families = Metrics().registry.collect()
    names = sorted({f.name + ("_total" if f.type == "counter" else "") for f in families
                    if f.name.startswith("meshbot_")})
    assert "meshbot_commands_total" in names
    missing = [n for n in names if not re.search(r"`" + n + r"[`{]", DOC)]
    assert not missing, f"metrics missing from docs/contracts.md (C6): {missing}"


def _paths(value: Any, prefix: str, out: set[str]) -> None:
    """Dotted key paths of a JSON value (`steps[].data.by_state`); `args` is not descended."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            if path != "args" and not path.endswith(".data"):
                _paths(inner, path, out)
            elif path.endswith(".data"):
                out.update(f"{path}.{k}" for k in inner)
    elif isinstance(value, list):
        for item in value:
            _paths(item, prefix + "[]", out)


@pytest.fixture(scope="module")
def report_keys() -> set[str]:
    chosen = {s.name: s for s in scenarios() if s.name in REPORT_SCENARIOS}
    assert set(chosen) == set(REPORT_SCENARIOS), f"scenarios gone: {set(REPORT_SCENARIOS) - set(chosen)}"

    async def run(items: list[Scenario]) -> list[dict]:
        return [(await run_snapshot(s)).to_dict() for s in items]

    keys: set[str] = set()
    for report in asyncio.run(run(list(chosen.values()))):
        _paths(report, "", keys)
    return keys


def test_every_report_key_design_does_not_show_is_documented(report_keys: set[str]):
    assert SCENARIOS_DIR.is_dir()
    extra = sorted(k for k in report_keys - DESIGN_REPORT_KEYS if not k.startswith("args."))
    assert "findings[].basis" in extra and "steps[].data.by_state" in extra, extra
    # Step data is documented by its figure's name, every other key by its full path.
    missing = [k for k in extra if not documented(k.rsplit(".", 1)[1] if ".data." in k else k)]
    assert not missing, f"report keys missing from docs/contracts.md (C2): {missing}"
