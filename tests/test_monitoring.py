"""deploy/monitoring: the alerting rules and the Grafana dashboard, checked by real tools and
against what meshbot really exports.

- The PrometheusRule's groups pass `promtool check rules` (Debian's prometheus package, unpacked
  by scripts/install-test-deps) and promtool's unit tests (tests/promtool/alerts.test.yaml): each
  alert fires on the series meshbot exports and stays quiet when all is well.
- Every dashboard expression parses as PromQL (promtool, as recording rules), every panel is
  well-formed, and every series an alert or a panel names is one bot/metrics.py exports.
- `kubectl apply -k deploy/monitoring` renders with Debian's and a newer kustomize.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring_support import families

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "deploy" / "monitoring"
PROMTOOL = ROOT / ".cache" / "debian-prometheus" / "usr" / "bin" / "promtool"
ALERT_TESTS = ROOT / "tests" / "promtool" / "alerts.test.yaml"
ALERTS = {"MeshbotDown", "MeshbotSlackDisconnected", "MeshbotDiagnosesFailing",
          "MeshbotRedisDegraded", "MeshbotClusterUnreadable"}
# PromQL words that are not series names: functions, aggregations, keywords used here.
PROMQL_WORDS = {"absent", "rate", "sum", "min", "max", "count", "by", "without", "on", "ignoring",
                "group_left", "group_right", "histogram_quantile", "and", "or", "unless", "bool",
                "le", "offset", "irate", "increase", "avg", "topk", "label_values"}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert PROMTOOL.is_file(), "promtool is missing: run ./scripts/install-test-deps"
    proc = subprocess.run([str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def rule_groups() -> dict:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert doc["kind"] == "PrometheusRule" and doc["apiVersion"] == "monitoring.coreos.com/v1"
    return doc["spec"]


def dashboard() -> dict:
    return json.loads((MONITORING / "grafana-dashboard.json").read_text())


def _panel_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


def exported_series() -> set[str]:
    """Every series name meshbot's /metrics can carry (counters with _total, histograms with
    their _bucket/_sum/_count), from a real registry."""
    from bot.metrics import Metrics

    names = set()
    for name, kind in families(Metrics().render().decode()).items():
        if kind == "counter":
            names |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            names |= {f"{name}_{s}" for s in ("bucket", "sum", "count", "created")}
        else:
            names.add(name)
    return names


def series_in(expr: str) -> set[str]:
    """Series names an expression reads: identifiers outside label matchers and groupings that
    are not PromQL words, durations or Grafana variables."""
    bare = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges ([15m], [$__rate_interval])
    bare = re.sub(r'"[^"]*"', "", bare)
    words = set(re.findall(r"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {w for w in words if w not in PROMQL_WORDS}


def test_rules_pass_promtool_check(tmp_path):
    (tmp_path / "meshbot.rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    out = _promtool("check", "rules", "meshbot.rules.yaml", cwd=tmp_path).stdout
    assert f"SUCCESS: {len(ALERTS)} rules found" in out


def test_every_alert_fires_when_it_should_and_only_then(tmp_path):
    """promtool's rule unit tests; they name every alert, so an alert without a test fails."""
    (tmp_path / "meshbot.rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    (tmp_path / "alerts.test.yaml").write_text(ALERT_TESTS.read_text())
    assert "SUCCESS" in _promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path).stdout
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {a["alertname"] for t in tests for a in t.get("alert_rule_test", [])
             if a.get("exp_alerts")}
    alerts = {r["alert"] for g in rule_groups()["groups"] for r in g["rules"]}
    assert alerts == ALERTS == fired


def test_promtool_rejects_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a PromQL syntax error does not pass."""
    groups = rule_groups()
    groups["groups"][0]["rules"][0]["expr"] = "absent(meshbot_build_info"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(groups))
    proc = subprocess.run([str(PROMTOOL), "check", "rules", "broken.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "FAILED" in proc.stderr + proc.stdout


def test_rules_and_panels_name_only_series_meshbot_exports():
    exported = exported_series()
    exprs = [r["expr"] for g in rule_groups()["groups"] for r in g["rules"]] + _panel_exprs()
    named = set().union(*(series_in(e) for e in exprs))
    assert named and named <= exported, sorted(named - exported)
    # And the series the issue asks to watch are among them.
    assert {"meshbot_build_info", "meshbot_slack_connected", "meshbot_store_degraded",
            "meshbot_cluster_reachable", "meshbot_commands_total",
            "meshbot_cluster_read_duration_seconds_bucket",
            "meshbot_diagnosis_duration_seconds_bucket", "meshbot_cluster_errors_total",
            "process_resident_memory_bytes"} <= named


def test_series_in_finds_names_and_not_labels():
    assert series_in('sum by (cluster) (rate(x_total{a="b",c=~"d"}[5m])) / on (pod) y') == \
        {"x_total", "y"}
    assert series_in("histogram_quantile(0.95, sum by (le) (rate(h_bucket[$__rate_interval])))") \
        == {"h_bucket"}


def test_dashboard_panels_are_well_formed():
    dash = dashboard()
    assert dash["uid"] == "meshbot-overview" and dash["title"] == "meshbot"
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        assert p["type"] in ("stat", "timeseries") and p["title"], p
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["targets"] and len({t["refId"] for t in p["targets"]}) == len(p["targets"])
        assert all(t["expr"].strip() for t in p["targets"])
    for expr in _panel_exprs():
        assert "$namespace" in expr, expr  # every panel follows the namespace selector


def test_dashboard_expressions_parse_as_promql(tmp_path):
    """promtool parses every panel's expression (as a recording rule, Grafana's interval
    variables replaced by a duration)."""
    rules = [{"record": f"dashboard:panel_{i}", "expr": e.replace("$__rate_interval", "5m")
              .replace("$namespace", "meshbot")} for i, e in enumerate(_panel_exprs())]
    (tmp_path / "panels.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": "dashboard", "rules": rules}]}))
    out = _promtool("check", "rules", "panels.yaml", cwd=tmp_path).stdout
    assert f"SUCCESS: {len(rules)} rules found" in out


@pytest.mark.parametrize("kubectl", ["debian", "newer"])
def test_monitoring_kustomization_renders(kubectl):
    import kubernetes_validate

    from tests.test_deploy import DEBIAN_KUBECTL, NEWER_KUBECTL, _env

    binary = DEBIAN_KUBECTL if kubectl == "debian" else NEWER_KUBECTL
    assert binary.is_file(), f"{binary} is missing: run ./scripts/install-test-deps"
    proc = subprocess.run([str(binary), "kustomize", str(MONITORING)], capture_output=True,
                          text=True, timeout=120, env=_env())
    assert proc.returncode == 0, proc.stderr
    objs = {o["kind"]: o for o in yaml.safe_load_all(proc.stdout) if o}
    assert set(objs) == {"ConfigMap", "PrometheusRule", "ServiceMonitor"}
    cm = objs["ConfigMap"]
    kubernetes_validate.validate(cm, "1.30", strict=True)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["meshbot.json"]) == dashboard()
    assert objs["PrometheusRule"]["spec"] == rule_groups()
    endpoint = objs["ServiceMonitor"]["spec"]["endpoints"][0]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
