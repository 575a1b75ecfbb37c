"""deploy/, the Dockerfile and the lock: what can be proven without a cluster or a Docker daemon.

Every kustomization is rendered with Debian's kubectl (its built-in kustomize is v2.0.3, the
oldest meshbot supports) and, when a newer kubectl is on PATH, with that one too; every object
is validated against the Kubernetes 1.30 schemas (kubernetes-validate, offline). The RBAC is
checked against what meshbot reads, derived from the code (the checks' declared inputs, the
engine's own reads, what `meshbot snapshot` captures) and observed (every API request the live
source makes against `meshbot replay`). The Dockerfile is read as text.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DEBIAN_KUBECTL = ROOT / ".cache" / "debian-kubectl" / "usr" / "bin" / "kubectl"
K8S_SCHEMA_VERSION = "1.30"
BOT_IMAGE = "ghcr.io/meshbot/meshbot"
ISTIO_NS = "istio-system"
READ_VERBS = {"get", "list"}  # nothing in meshbot watches (observed: no request has watch=1)
NEWER_KUBECTL = ROOT / ".cache" / "helm-layer" / "kubectl" / "kubectl"  # v1.33, kustomize v5

# Every shape the deployment offers: kubectl apply -k <path>.
BOT_SHAPES = {
    "base": DEPLOY,
    "redis-in-cluster": DEPLOY / "overlays" / "redis-in-cluster",
    "redis-external": DEPLOY / "overlays" / "redis-external",
    "replicas": DEPLOY / "overlays" / "replicas",
    "no-secrets": DEPLOY / "overlays" / "no-secrets",
}
READERS = {"remote-reader": DEPLOY / "remote-reader",
           "remote-reader-no-secrets": DEPLOY / "remote-reader-no-secrets"}
SHAPES = {**BOT_SHAPES, **READERS}


# -- rendering -------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    # kubectl must not read the developer's kubeconfig or contact any cluster.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / ".cache"),
            "KUBECONFIG": os.devnull}


def _debian_kubectl() -> Path:
    assert DEBIAN_KUBECTL.is_file(), (
        f"{DEBIAN_KUBECTL.relative_to(ROOT)} is missing: run ./scripts/install-test-deps "
        "(Debian's kubectl, whose kustomize v2.0.3 every kustomization must render with)")
    return DEBIAN_KUBECTL


@functools.cache
def _newer_kubectl() -> str | None:
    """A kubectl other than Debian's, whose kustomize is newer (v3+): the one that comes with
    helm (scripts/install-test-deps), else one on PATH."""
    found = str(NEWER_KUBECTL) if NEWER_KUBECTL.is_file() else shutil.which("kubectl")
    if not found or Path(found).resolve() == DEBIAN_KUBECTL.resolve():
        return None
    try:
        out = subprocess.run([found, "version", "--client"], capture_output=True, text=True,
                             timeout=60, env=_env()).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Kustomize Version: v(\d+)", out)
    return found if match and int(match.group(1)) >= 3 else None


@functools.cache
def _render_text(kubectl: str, path: Path) -> str:
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.returncode == 0, f"{kubectl} kustomize {path.relative_to(ROOT)}:\n{proc.stderr}"
    return proc.stdout


def render(shape: str, kubectl: str | None = None) -> list[dict]:
    text = _render_text(kubectl or str(_debian_kubectl()), SHAPES[shape])
    return [doc for doc in yaml.safe_load_all(text) if doc]


def objects(shape: str, kind: str) -> list[dict]:
    return [o for o in render(shape) if o["kind"] == kind]


def one(shape: str, kind: str, name: str) -> dict:
    found = [o for o in objects(shape, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{shape}: expected one {kind} {name}, found {len(found)}"
    return found[0]


def bot(shape: str) -> dict:
    return one(shape, "Deployment", "meshbot")


def bot_container(shape: str) -> dict:
    containers = bot(shape)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "meshbot")


def _normalized(objs: list[dict]) -> list[dict]:
    """Objects comparable across kustomize versions: the ConfigMap hash suffix differs, and a
    strategic-merge patch may put a patched env entry elsewhere in the list (order is irrelevant
    here: no value refers to another variable with $(NAME))."""
    text = yaml.safe_dump(sorted(objs, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""),
                                                      o["metadata"]["name"])))
    assert "$(" not in text
    out = yaml.safe_load(re.sub(r"(meshbot-config)-[a-z0-9]{10}\b", r"\1", text))
    for obj in out:
        for c in ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", []):
            c["env"] = sorted(c.get("env", []), key=lambda e: e["name"])
    return out


def test_every_overlay_is_tested():
    overlays = {p.parent for p in (DEPLOY / "overlays").glob("*/kustomization.yaml")}
    assert overlays == {p for p in BOT_SHAPES.values() if p.parent.name == "overlays"}
    assert (DEPLOY / "kustomization.yaml").is_file()  # kubectl apply -k deploy/


@pytest.mark.parametrize("shape", SHAPES)
def test_renders_with_debian_kubectl_and_newer(shape):
    objs = render(shape)
    assert objs
    for obj in objs:
        assert obj.get("apiVersion") and obj.get("kind") and obj["metadata"].get("name"), obj
    newer = _newer_kubectl()
    if newer:  # the same objects from a current kustomize (deprecated fields still honoured)
        assert _normalized(render(shape, newer)) == _normalized(objs)


def test_deploy_renders_the_base():
    assert _render_text(str(_debian_kubectl()), DEPLOY) == \
        _render_text(str(_debian_kubectl()), DEPLOY / "base")


@pytest.mark.parametrize("shape", SHAPES)
def test_every_object_validates_against_kubernetes_1_30(shape):
    import kubernetes_validate

    problems = []
    for obj in render(shape):
        try:
            kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {exc}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("shape", SHAPES)
def test_namespaced_objects_live_in_meshbot_or_the_istio_namespace(shape):
    for obj in render(shape):
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert ns is None
        elif obj["kind"] in ("Role", "RoleBinding"):
            assert ns == ISTIO_NS, obj["metadata"]
        else:
            assert ns == "meshbot", obj["metadata"]


# -- what meshbot reads, derived from the code -------------------------------------------------

def _perm(resource_key: str) -> tuple[str, str]:
    """(apiGroup, resource) of a `Kind.key` such as `deployments.apps`."""
    from diagnostics.kinds import kind_by_key

    kind = kind_by_key(resource_key)
    assert kind is not None, f"{resource_key} is not in diagnostics/kinds.py"
    return kind.group, kind.plural


class _RecordingSource:
    """Wraps a source; records what each call needs, as (scope, apiGroup, resource).

    scope is "istio" for the Istio namespace and "cluster" for everything else (all namespaces,
    or a namespace a person names)."""

    def __init__(self, inner):
        self.inner, self.needs = inner, set()
        self._istio = {i.name: i.istio_namespace for i in inner.cluster_infos()}

    def _scope(self, cluster: str, namespace: str | None) -> str:
        return "istio" if namespace is not None and namespace == self._istio[cluster] else "cluster"

    def cluster_infos(self):
        return self.inner.cluster_infos()

    async def list(self, cluster, resource, namespace, label_selector=None):
        self.needs.add((self._scope(cluster, namespace), *_perm(resource)))
        return await self.inner.list(cluster, resource, namespace, label_selector)

    async def names(self, cluster, resource, namespace, label_selector=None):
        self.needs.add((self._scope(cluster, namespace), *_perm(resource)))
        return await self.inner.names(cluster, resource, namespace, label_selector)

    async def rows(self, cluster, resource, namespace, label_selector=None):
        self.needs.add((self._scope(cluster, namespace), *_perm(resource)))
        return await self.inner.rows(cluster, resource, namespace, label_selector)

    def istiod_targets(self, cluster, istiod_pods):
        return self.inner.istiod_targets(cluster, istiod_pods)

    async def istiod_get(self, cluster, target, path, compact=None):
        if not target.startswith(("http://", "https://")):
            self.needs.add(("istio", "", "pods/portforward"))
        return await self.inner.istiod_get(cluster, target, path, compact)

    async def pod_log(self, cluster, namespace, pod, container, tail_lines, previous=False):
        self.needs.add((self._scope(cluster, namespace), "", "pods/log"))
        return await self.inner.pod_log(cluster, namespace, pod, container, tail_lines, previous)

    async def ztunnel_get(self, cluster, namespace, pod, path):
        self.needs.add((self._scope(cluster, namespace), "", "pods/portforward"))
        return await self.inner.ztunnel_get(cluster, namespace, pod, path)

    async def close(self):
        await self.inner.close()


def _declared_needs() -> set[tuple[str, str, str]]:
    """What the checks declare, plus the engine's and target resolution's own Resources."""
    import diagnostics.checks  # noqa: F401  (registers every check)
    from diagnostics import engine, inputs, targets
    from diagnostics.checking import REGISTRY

    declared = [inp for spec in REGISTRY.values() for inp in spec.inputs]
    implicit = [v for module in (engine, targets, inputs) for v in vars(module).values()
                if isinstance(v, inputs.Input)]
    needs = set()
    for inp in declared + implicit:
        if isinstance(inp, inputs.Resources):
            scope = "istio" if inp.namespace == inputs.ISTIO_NS else "cluster"
            needs.add((scope, *_perm(inp.resource)))
        elif isinstance(inp, (inputs.IstiodDebug, inputs.IstiodMetrics,
                              inputs.ClientConfigDumps)):
            needs.add(("istio", "", "pods/portforward"))  # istiod :15014 through port-forward
        elif isinstance(inp, inputs.IstiodLogs):
            needs.add(("istio", "", "pods/log"))
        elif isinstance(inp, (inputs.ClientProxyLogs, inputs.TargetPodLogs)):
            needs.add(("cluster", "", "pods/log"))  # pods in the namespace asked about
        elif isinstance(inp, inputs.ClientZtunnelDumps):
            needs.add(("istio", "", "pods/portforward"))  # ztunnel :15000 in the Istio namespace
        elif isinstance(inp, inputs.ClientZtunnelLogs):
            needs.add(("cluster", "", "pods/log"))
        elif isinstance(inp, inputs.ResourceNames):  # a Table of names is a list
            needs.add(("cluster", *_perm(inp.resource)))
        elif isinstance(inp, (inputs.PodsInFull, inputs.PodsPicked, inputs.ProxyPods,
                              inputs.AmbientEnrolledPods, inputs.RolePods,
                              inputs.PodNetworksInput, inputs.ServicePods,
                              inputs.TargetPods, inputs.TargetPodNames)):  # pods listed
            needs.add(("cluster", *_perm("pods")))
        elif isinstance(inp, inputs.ResolvedTarget):
            continue  # resolved from the target's lists, which are declared beside it
        else:
            raise AssertionError(f"test_deploy does not know what {inp!r} needs: teach it")
    return needs


@functools.cache
def _capture_needs() -> frozenset[tuple[str, str, str]]:
    """What `meshbot snapshot` reads (same identity as the bot), recorded on the demo mesh."""
    import asyncio
    import tempfile

    from diagnostics.capture import CaptureOptions, capture
    from diagnostics.sources.snapshot import SnapshotSource

    source = _RecordingSource(SnapshotSource.open(ROOT / "examples" / "demo-mesh"))
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(capture(source, Path(tmp) / "out", CaptureOptions(namespaces=["sample"])))
    return frozenset(source.needs)


@functools.cache
def required() -> tuple[frozenset, frozenset]:
    """(cluster-wide (apiGroup, resource) set, Istio-namespace-only set)."""
    needs = _declared_needs() | _capture_needs()
    cluster = {(g, r) for scope, g, r in needs if scope == "cluster"}
    istio_only = {(g, r) for scope, g, r in needs if scope == "istio"} - cluster
    return frozenset(cluster), frozenset(istio_only)


def _rules(obj: dict) -> set[tuple[str, str]]:
    return {(g, r) for rule in obj.get("rules") or [] for g in rule.get("apiGroups", [])
            for r in rule.get("resources", [])}


def _verbs(obj: dict, group: str, resource: str) -> set[str]:
    return {v for rule in obj.get("rules") or [] if group in rule.get("apiGroups", [])
            and resource in rule.get("resources", []) for v in rule.get("verbs", [])}


# -- RBAC --------------------------------------------------------------------------------------

RBAC_SHAPES = ["base", "remote-reader"]


@pytest.mark.parametrize("shape", SHAPES)
def test_rbac_has_no_wildcards_and_only_read_verbs(shape):
    for obj in render(shape):
        if obj["kind"] not in ("ClusterRole", "Role"):
            continue
        assert obj["metadata"]["name"] in ("meshbot-reader", "meshbot-istio")
        assert "aggregationRule" not in obj
        for rule in obj["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert not any("*" in v for v in rule.get(field, [])), (obj["metadata"], rule)
            assert "nonResourceURLs" not in rule
            extra = set(rule["verbs"]) - READ_VERBS
            if extra:
                # The single exception: port-forward to istiod, in the Istio namespace only.
                assert obj["kind"] == "Role" and obj["metadata"]["namespace"] == ISTIO_NS, rule
                assert extra == {"create"} and rule["resources"] == ["pods/portforward"], rule
                assert rule["apiGroups"] == [""]


@pytest.mark.parametrize("shape", RBAC_SHAPES)
def test_cluster_role_is_exactly_what_meshbot_reads(shape):
    cluster, _ = required()
    role = one(shape, "ClusterRole", "meshbot-reader")
    granted = _rules(role)
    assert granted - cluster == set(), "granted but never read"
    assert cluster - granted == set(), "read but not granted"
    for group, resource in granted:
        want = {"get"} if "/" in resource else READ_VERBS  # pods/log: get only
        assert _verbs(role, group, resource) == want, (group, resource)


def test_cluster_role_covers_every_declared_input_of_every_check():
    import diagnostics.checks  # noqa: F401
    from diagnostics import inputs
    from diagnostics.checking import REGISTRY

    granted = _rules(one("base", "ClusterRole", "meshbot-reader"))
    istio = _rules(one("base", "Role", "meshbot-istio"))
    for spec in REGISTRY.values():
        for inp in spec.inputs:
            if isinstance(inp, inputs.Resources):
                perm = _perm(inp.resource)
                ok = perm in granted or (inp.namespace == inputs.ISTIO_NS and perm in istio)
            elif isinstance(inp, (inputs.IstiodDebug, inputs.ClientConfigDumps,
                                  inputs.ClientZtunnelDumps)):
                ok = ("", "pods/portforward") in istio
            else:  # logs
                ok = ("", "pods/log") in granted
            assert ok, f"check {spec.name}: {inp.describe()} is not readable"


def test_capture_reads_are_all_known_kinds_and_granted():
    from diagnostics.kinds import KNOWN_KINDS

    captured = {(g, r) for _, g, r in _capture_needs() if "/" not in r}
    assert captured == {(k.group, k.plural) for k in KNOWN_KINDS}
    cluster, istio_only = required()
    assert captured <= cluster | istio_only


@pytest.mark.parametrize("shape", RBAC_SHAPES)
def test_istio_role_holds_secrets_and_port_forward_only(shape):
    _, istio_only = required()
    role = one(shape, "Role", "meshbot-istio")
    assert role["metadata"]["namespace"] == ISTIO_NS
    assert _rules(role) == istio_only == {("", "secrets"), ("", "pods/portforward")}
    assert _verbs(role, "", "secrets") == READ_VERBS
    # WebSocket port-forward is authorized as `get` up to 1.34 and also needs `create` from 1.35.
    assert _verbs(role, "", "pods/portforward") == {"get", "create"}
    assert [o["kind"] for o in render(shape) if o["kind"] in ("ClusterRole", "Role")].count("Role") == 1


@pytest.mark.parametrize("shape,full", [("no-secrets", "base"),
                                        ("remote-reader-no-secrets", "remote-reader")])
def test_the_no_secrets_shapes_grant_no_secret_read_and_nothing_else_less(shape, full):
    """The same objects as the full shape, except that the Istio Role lost its Secrets rule."""
    lean, whole = _normalized(render(shape)), _normalized(render(full))
    strip = lambda objs: [o for o in objs if o["kind"] != "Role"]  # noqa: E731
    assert strip(lean) == strip(whole)
    role = one(shape, "Role", "meshbot-istio")
    assert _rules(role) == {("", "pods/portforward")}
    assert _rules(role) == _rules(one(full, "Role", "meshbot-istio")) - {("", "secrets")}
    assert not any(("", "secrets") in _rules(o) for o in render(shape)
                   if o["kind"] in ("Role", "ClusterRole"))


@pytest.mark.parametrize("shape", SHAPES)
def test_secrets_are_readable_only_through_the_istio_role(shape):
    for obj in render(shape):
        if obj["kind"] in ("ClusterRole", "Role") and ("", "secrets") in _rules(obj):
            assert obj["kind"] == "Role" and obj["metadata"]["namespace"] == ISTIO_NS


@pytest.mark.parametrize("shape,account", [("base", "meshbot"), ("remote-reader", "meshbot-reader")])
def test_bindings_give_the_rules_to_meshbots_service_account_only(shape, account):
    objs = render(shape)
    sa = one(shape, "ServiceAccount", account)
    assert sa["metadata"]["namespace"] == "meshbot"
    bindings = [o for o in objs if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert sorted((b["kind"], b["roleRef"]["kind"], b["roleRef"]["name"]) for b in bindings) == [
        ("ClusterRoleBinding", "ClusterRole", "meshbot-reader"),
        ("RoleBinding", "Role", "meshbot-istio")]
    for b in bindings:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "meshbot"}]
        if b["kind"] == "RoleBinding":
            assert b["metadata"]["namespace"] == ISTIO_NS
    if shape == "base":
        assert bot("base")["spec"]["template"]["spec"]["serviceAccountName"] == account


def test_istio_namespace_of_the_role_is_the_configs():
    config = _config("base")
    local = [c for c in config.clusters if not c.kubeconfig and not c.context]
    assert len(local) == 1, "the config lists the cluster meshbot runs in (in-cluster config)"
    assert local[0].istio_namespace == one("base", "Role", "meshbot-istio")["metadata"]["namespace"]


# -- what meshbot reads, observed over HTTP ------------------------------------------------------

def _request_info(method: str, path: str, query: list) -> tuple[str, str, str, str | None]:
    """(verb, apiGroup, resource[/subresource], namespace) as the API server's RequestInfo."""
    from tests.rbac_support import request_info

    info = request_info(method, path, query)
    assert info is not None, f"not a resource request: {path}"
    return info


def _allowed(objs: list[dict], verb: str, group: str, resource: str, ns: str | None) -> bool:
    from tests.rbac_support import allowed

    return allowed(objs, verb, group, resource, ns)


def _one_scenario_per_command():
    from tests.scenario_support import scenarios

    seen, out = set(), []
    for s in scenarios():
        args = [str(a) for a in s.expected.get("args") or []]
        key = (s.expected["command"], args[0].split("/")[0] if s.expected["command"] == "check"
               and args else "")
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


async def test_every_api_request_of_the_live_source_is_allowed(tmp_path, monkeypatch):
    """Diagnoses of every command and a capture, through the kubernetes client against
    `meshbot replay`: each request, classified like the API server does, must be allowed by the
    rendered RBAC (both the bot's and the remote reader's)."""
    from kubernetes import client

    from diagnostics.capture import CaptureOptions, capture
    from diagnostics.config import Config
    from diagnostics.replay.runner import start_replay
    from diagnostics.snapshot import Snapshot
    from diagnostics.sources.factory import live_source
    from tests.scenario_support import run_live

    requests: list[tuple[str, str, list]] = []
    original = client.ApiClient.param_serialize

    def recording(self, method, resource_path, *args, **kwargs):
        requests.append((method, resource_path, list(kwargs.get("query_params") or [])))
        return original(self, method, resource_path, *args, **kwargs)

    monkeypatch.setattr(client.ApiClient, "param_serialize", recording)
    commands = _one_scenario_per_command()
    assert {s.expected["command"] for s in commands} >= {"why-local-only", "trust", "check",
                                                         "remote-clusters", "control-plane",
                                                         "proxy-status"}
    for scenario in commands:
        await run_live(scenario)

    servers = await start_replay(Snapshot.open(ROOT / "examples" / "demo-mesh"))
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
        source = live_source(Config(), kubeconfig=str(kubeconfig))
        try:
            await capture(source, tmp_path / "snap", CaptureOptions(namespaces=["sample"]))
        finally:
            await source.close()
    finally:
        await servers.close()

    seen = {_request_info(*r) for r in requests}
    assert ("get", "", "pods/portforward", ISTIO_NS) in seen
    assert any(r == "pods/log" for _, _, r, _ in seen)
    for shape in RBAC_SHAPES:
        rbac = [o for o in render(shape) if o["kind"] in ("ClusterRole", "Role")]
        denied = sorted((v, g, r, ns or "*") for v, g, r, ns in seen
                        if not _allowed(rbac, v, g, r, ns))
        assert not denied, f"{shape}: denied {denied}"
        # Port-forward over WebSocket also needs `create` from Kubernetes 1.35 on.
        assert _allowed(rbac, "create", "", "pods/portforward", ISTIO_NS)


# -- pods ----------------------------------------------------------------------------------------

def _deployments(shape: str) -> list[dict]:
    return objects(shape, "Deployment")


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_pod_security(shape):
    for dep in _deployments(shape):
        spec = dep["spec"]["template"]["spec"]
        pod_sc = spec.get("securityContext") or {}
        name = dep["metadata"]["name"]
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), (name, key)
        assert not any("hostPath" in v for v in spec.get("volumes") or []), name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext") or {}
            eff = {**pod_sc, **sc}
            assert eff.get("runAsNonRoot") is True, (name, c["name"])
            assert isinstance(eff.get("runAsUser"), int) and eff["runAsUser"] > 0, (name, c["name"])
            assert sc.get("readOnlyRootFilesystem") is True, (name, c["name"])
            assert sc.get("allowPrivilegeEscalation") is False, (name, c["name"])
            assert sc.get("privileged") in (None, False), (name, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (name, c["name"])
            assert not sc.get("capabilities", {}).get("add"), (name, c["name"])
            assert eff.get("seccompProfile") == {"type": "RuntimeDefault"}, (name, c["name"])
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                assert set(res.get(part, {})) >= {"cpu", "memory"}, (name, c["name"], part)
            # Writable paths are emptyDirs only (the root filesystem is read-only).
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            for mount in c.get("volumeMounts") or []:
                vol = volumes[mount["name"]]
                assert "emptyDir" in vol or mount.get("readOnly") is True, (name, mount)
        assert spec.get("automountServiceAccountToken") is (name == "meshbot"), name
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels.get("sidecar.istio.io/inject") == "false", name


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_bot_container(shape):
    c = bot_container(shape)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert c["image"] == f"{BOT_IMAGE}:{version}"
    assert c["command"] + c["args"] == ["meshbot", "serve"]
    assert c["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    env = {e["name"]: e for e in c["env"]}
    assert env["MESHBOT_HTTP_PORT"]["value"] == "3000"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert env["MESHBOT_CONFIG"]["value"] in mounts
    assert "/etc/meshbot/kubeconfigs" in mounts and "/tmp" in mounts
    volumes = {v["name"]: v for v in bot(shape)["spec"]["template"]["spec"]["volumes"]}
    config_volume = volumes[mounts[env["MESHBOT_CONFIG"]["value"]]["name"]]
    assert config_volume["configMap"]["name"] == _config_map(shape)["metadata"]["name"]
    kubeconfigs = volumes[mounts["/etc/meshbot/kubeconfigs"]["name"]]["secret"]
    assert kubeconfigs == {"secretName": "meshbot-kubeconfigs", "optional": True,
                           "defaultMode": 0o440}


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_metrics_are_scraped_from_the_http_port(shape):
    annotations = bot(shape)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(bot_container(shape)["ports"][0]["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"


def _config_map(shape: str) -> dict:
    maps = [o for o in objects(shape, "ConfigMap") if o["metadata"]["name"].startswith("meshbot-config")]
    assert len(maps) == 1
    return maps[0]


def _config(shape: str):
    from diagnostics.config import parse_config

    return parse_config(yaml.safe_load(_config_map(shape)["data"]["meshbot.yaml"]), "meshbot.yaml")


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_config_is_valid_and_remote_kubeconfigs_are_mounted(shape):
    config = _config(shape)
    assert config.clusters
    for cluster in config.clusters:
        if cluster.kubeconfig:
            assert cluster.kubeconfig.startswith("/etc/meshbot/kubeconfigs/")
    # The commented remote-cluster example is valid too once uncommented.
    from diagnostics.config import parse_config

    text = _config_map(shape)["data"]["meshbot.yaml"]
    example = re.sub(r"^  # (- name: cluster2|  \w+:.*)$", r"  \1", text, flags=re.M)
    remote = [c for c in parse_config(yaml.safe_load(example)).clusters if c.name == "cluster2"]
    assert remote and remote[0].kubeconfig == "/etc/meshbot/kubeconfigs/cluster2"


def _env_of(shape: str, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as the kubelet builds it from `secrets`."""
    env = {}
    for e in bot_container(shape)["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        value = secrets.get(ref["name"], {}).get(ref["key"])
        if value is None:
            assert ref.get("optional") is True, f"{shape}: pod would not start without {ref}"
            continue
        env[e["name"]] = value
    return env


SLACK_ALL = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1",
             "SLACK_SIGNING_SECRET": "s", "MESHBOT_ALERTMANAGER_TOKEN": "t"}


@pytest.mark.parametrize("shape", ["base", "redis-in-cluster", "redis-external"])
def test_single_replica_shapes_run_socket_mode_or_http_mode(shape):
    from bot.settings import Settings

    url = "redis://:pw@meshbot-redis.meshbot.svc:6379/0" if shape == "redis-in-cluster" \
        else "rediss://:pw@redis.example:6380/0"
    redis = {"meshbot-redis": {"REDIS_URL": url, "REDIS_PASSWORD": "pw"}}
    socket = Settings.from_env(_env_of(shape, {"meshbot-slack": {
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, **redis}))
    assert socket.socket_mode
    http = Settings.from_env(_env_of(shape, {"meshbot-slack": {
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, **redis}))
    assert not http.socket_mode
    assert bot(shape)["spec"]["replicas"] == 1
    assert (socket.redis_url is None) == (shape == "base")
    if shape == "redis-in-cluster":
        assert socket.redis_url == url
        one(shape, "Service", "meshbot-redis")


def test_replicas_run_http_mode_with_redis_and_keep_two_up():
    from bot.settings import Settings

    redis = {"meshbot-redis": {"REDIS_URL": "redis://:pw@meshbot-redis.meshbot.svc:6379/0",
                               "REDIS_PASSWORD": "pw"}}
    settings = Settings.from_env(_env_of("replicas", {"meshbot-slack": SLACK_ALL, **redis}))
    assert not settings.socket_mode  # even when the Secret also holds an app token
    assert settings.redis_url and settings.signing_secret
    with pytest.raises(AssertionError, match="would not start"):
        _env_of("replicas", {"meshbot-slack": {"SLACK_BOT_TOKEN": "xoxb-1"}, **redis})
    with pytest.raises(AssertionError, match="would not start"):
        _env_of("replicas", {"meshbot-slack": SLACK_ALL})  # the Redis Secret is required
    dep = bot("replicas")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pdb = one("replicas", "PodDisruptionBudget", "meshbot")["spec"]
    assert pdb["minAvailable"] == 2 and "maxUnavailable" not in pdb
    one("replicas", "Service", "meshbot")
    one("replicas", "Deployment", "meshbot-redis")


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_selectors_select_the_pods(shape):
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
            for d in _deployments(shape)}

    def selects(selector: dict, name: str) -> bool:
        return all(pods[name].get(k) == v for k, v in selector.items())

    for dep in _deployments(shape):
        assert selects(dep["spec"]["selector"]["matchLabels"], dep["metadata"]["name"])
    for svc in objects(shape, "Service"):
        target = "meshbot-redis" if svc["metadata"]["name"] == "meshbot-redis" else "meshbot"
        assert selects(svc["spec"]["selector"], target)
        ports = [p["name"] for c in _containers(shape, target) for p in c.get("ports", [])]
        assert all(p["targetPort"] in ports for p in svc["spec"]["ports"])
    pdb = one(shape, "PodDisruptionBudget", "meshbot")
    assert selects(pdb["spec"]["selector"]["matchLabels"], "meshbot")
    if "meshbot-redis" in pods:
        assert not selects(pdb["spec"]["selector"]["matchLabels"], "meshbot-redis")


def _containers(shape: str, deployment: str) -> list[dict]:
    return one(shape, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]


# -- network policy ------------------------------------------------------------------------------

def _policies_for(shape: str, deployment: str) -> list[dict]:
    labels = one(shape, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return [np for np in objects(shape, "NetworkPolicy")
            if all(labels.get(k) == v for k, v in np["spec"]["podSelector"]["matchLabels"].items())]


def _ports(rule: dict) -> set[tuple[str, Any]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports") or []}


@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_bot_network_policy(shape):
    policies = _policies_for(shape, "meshbot")
    assert any("Ingress" in np["spec"]["policyTypes"] for np in policies)
    assert any("Egress" in np["spec"]["policyTypes"] for np in policies)
    ingress = [r for np in policies for r in np["spec"].get("ingress") or []]
    assert ingress and all(_ports(r) == {("TCP", "http")} for r in ingress)
    egress = [r for np in policies for r in np["spec"].get("egress") or []]
    assert all(r.get("ports") and r.get("to") for r in egress), "every egress rule is narrowed"
    by_ports = {frozenset(_ports(r)): r for r in egress}
    dns = by_ports[frozenset({("UDP", 53), ("TCP", 53)})]
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    api = by_ports[frozenset({("TCP", 443), ("TCP", 6443)})]
    assert all("ipBlock" in peer for peer in api["to"])
    slack = by_ports[frozenset({("TCP", 443)})]
    assert slack["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}]
    assert not any(p["port"] == 15014 for r in egress for p in r["ports"])  # via the API server
    redis = [r for r in egress if ("TCP", 6379) in _ports(r)]
    if shape in ("base", "no-secrets"):
        assert not redis
    elif shape == "redis-external":
        assert _ports(redis[0]) == {("TCP", 6379), ("TCP", 6380)}
        assert "ipBlock" in redis[0]["to"][0]
    else:
        assert redis[0]["to"] == [{"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "meshbot-redis"}}}]


@pytest.mark.parametrize("shape", ["redis-in-cluster", "replicas"])
def test_redis_accepts_only_the_bot_and_talks_to_no_one(shape):
    (np,) = _policies_for(shape, "meshbot-redis")
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"] and not np["spec"].get("egress")
    (rule,) = np["spec"]["ingress"]
    assert _ports(rule) == {("TCP", 6379)}
    assert rule["from"] == [{"podSelector": {"matchLabels": bot(shape)["spec"]["selector"]["matchLabels"]}}]


# -- secrets -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_no_secret_carries_data(shape):
    for obj in objects(shape, "Secret"):
        assert not obj.get("data") and not obj.get("stringData"), obj["metadata"]
        assert shape in READERS and obj["type"] == "kubernetes.io/service-account-token"
        assert obj["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "meshbot-reader"}
    if shape in BOT_SHAPES:  # tokens and passwords reach the pod by reference only
        for e in bot_container(shape)["env"]:
            if e["name"].endswith(("TOKEN", "SECRET")) or e["name"] == "REDIS_URL":
                assert set(e) == {"name", "valueFrom"} and "secretKeyRef" in e["valueFrom"], e


def test_the_repository_holds_no_token_values():
    pattern = re.compile(r"xox[abpr]-[0-9A-Za-z]{4,}|xapp-\d-[0-9A-Za-z]{4,}")
    for path in list(DEPLOY.rglob("*")) + [ROOT / "Dockerfile", ROOT / "README.md"]:
        if path.is_file():
            assert not pattern.search(path.read_text(errors="replace")), path


# -- remote clusters -----------------------------------------------------------------------------

def _doc_block(path: Path, marker: str) -> str:
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", path.read_text(), flags=re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{path.relative_to(ROOT)}: expected one block with {marker!r}"
    return found[0]


KUBECONFIG_MARKER = "cat > kubeconfigs/"


def test_remote_kubeconfig_recipe_is_the_same_in_both_readmes():
    assert _doc_block(ROOT / "README.md", KUBECONFIG_MARKER) == \
        _doc_block(DEPLOY / "remote-reader" / "README.md", KUBECONFIG_MARKER)


async def test_remote_kubeconfig_recipe_builds_a_kubeconfig_meshbot_reads(tmp_path):
    """Run the documented recipe with Debian's kubectl against a replayed remote cluster whose
    meshbot-reader-token Secret is filled in, then read that cluster with meshbot."""
    import asyncio

    from diagnostics.config import ClusterConfig, Config
    from diagnostics.replay.runner import start_replay
    from diagnostics.snapshot import Snapshot
    from diagnostics.sources.factory import live_source

    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    snap = tmp_path / "snap"
    (snap / "clusters/remote/resources/meshbot").mkdir(parents=True)
    (snap / "clusters/remote/resources/_cluster").mkdir(parents=True)
    (snap / "snapshot.yaml").write_text("format: meshbot.snapshot/v1\nclusters: [remote]\n")
    (snap / "clusters/remote/resources/meshbot/secrets.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "List", "items": [{
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "meshbot-reader-token", "namespace": "meshbot"},
            "data": {"ca.crt": ca.decode(), "token": base64.b64encode(b"reader-token").decode()}}]}))
    (snap / "clusters/remote/resources/_cluster/namespaces.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "meshbot"}}]}))

    servers = await start_replay(Snapshot.open(snap))
    try:
        (tmp_path / "admin.kubeconfig").write_text(yaml.safe_dump(servers.kubeconfig()))
        recipe = _doc_block(ROOT / "README.md", KUBECONFIG_MARKER)
        recipe = re.sub(r"\bREMOTE=\S+", "REMOTE=remote", recipe)
        recipe = re.sub(r"\bNAME=\S+", "NAME=cluster2", recipe)
        env = {**_env(), "KUBECONFIG": str(tmp_path / "admin.kubeconfig"),
               "PATH": f"{_debian_kubectl().parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        proc = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", recipe, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        built = tmp_path / "kubeconfigs" / "cluster2"
        kubeconfig = yaml.safe_load(built.read_text())
        assert kubeconfig["current-context"] == "cluster2"
        assert kubeconfig["users"][0]["user"] == {"token": "reader-token"}
        assert kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"] == ca.decode()

        config = Config(clusters=[ClusterConfig(name="cluster2", kubeconfig=str(built))])
        source = live_source(config)
        try:
            names = [n["metadata"]["name"] for n in await source.list("cluster2", "namespaces", None)]
        finally:
            await source.close()
        assert names == ["meshbot"]
    finally:
        await servers.close()

    # The Secret the bot mounts, built as documented (client-side, no cluster needed).
    create = _doc_block(ROOT / "README.md", "create secret generic meshbot-kubeconfigs")
    line = next(l for l in create.splitlines() if "create secret generic meshbot-kubeconfigs" in l)
    args = line.split("|")[0].split()
    assert args[0] == "kubectl" and "--dry-run=client" in args
    args = [a for a in args[1:] if not a.startswith("--context")]
    proc = subprocess.run([str(_debian_kubectl()), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    secret = yaml.safe_load(proc.stdout)
    assert secret["metadata"] == {"name": "meshbot-kubeconfigs", "namespace": "meshbot",
                                  "creationTimestamp": None}
    assert set(secret["data"]) == {"cluster2"}


# -- README --------------------------------------------------------------------------------------

def _deploying() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Deploying")
    end = text.index("## Snapshots and the cluster simulator")
    assert start < end
    assert text[start:end].count("\n## ") == 0, "Deploying comes right before Snapshots"
    return text[start:end]


def test_readme_deploying_section_names_real_paths_and_keys():
    section = _deploying()
    for path in re.findall(r"apply -k ([^\s`|]+)", section):
        assert (ROOT / path / "kustomization.yaml").is_file(), path
    assert "/mesh help" in section and "deploy/slack-app-manifest.yaml" in section
    # The Slack Secret created as documented holds every key the Deployments reference.
    keys = set(re.findall(r"--from-literal=(\w+)=", section))
    refs = {e["valueFrom"]["secretKeyRef"]["key"] for shape in BOT_SHAPES
            for e in bot_container(shape)["env"]
            if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"] == "meshbot-slack"}
    assert refs == keys - {"REDIS_URL", "REDIS_PASSWORD"}
    redis = {e["valueFrom"]["secretKeyRef"]["key"] for shape in BOT_SHAPES
             for e in bot_container(shape)["env"]
             if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"] == "meshbot-redis"}
    assert redis == {"REDIS_URL"} and "create secret generic meshbot-redis" in section
    # The in-cluster Redis takes its password from the same Secret, under a documented key.
    server = {e["valueFrom"]["secretKeyRef"]["key"] for shape in ("redis-in-cluster", "replicas")
              for c in _containers(shape, "meshbot-redis") for e in c.get("env", [])
              if "valueFrom" in e}
    assert server == {"REDIS_PASSWORD"} and "--from-literal=REDIS_PASSWORD=" in section


# -- image ---------------------------------------------------------------------------------------

def _dockerfile() -> list[list[tuple[str, str]]]:
    """Stages of the Dockerfile, each a list of (INSTRUCTION, arguments)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        assert stages, "the Dockerfile starts with FROM"
        stages[-1].append((word.upper(), rest.strip()))
    return stages


def _args(stage, instruction) -> list[str]:
    return [a for i, a in stage if i == instruction]


def test_dockerfile_bases_are_pinned_slim_python_of_the_locked_version():
    for stage in _dockerfile():
        image = _args(stage, "FROM")[0].split()[0]
        m = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim(-[a-z]+)?", image)
        assert m, f"not a pinned slim Python image: {image}"
        assert (int(m.group(1)), int(m.group(2))) == sys.version_info[:2], \
            "the image's Python is the one requirements.lock was generated with"


def test_dockerfile_final_stage_is_non_root_without_build_tools():
    import json

    stages = _dockerfile()
    final = stages[-1]
    (user,) = _args(final, "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    runs = " ".join(_args(final, "RUN"))
    for tool in ("gcc", "g++", "build-essential", "make ", "-dev"):
        assert tool not in runs, tool
    # The only packages apt adds are the topology picture's renderer and its font, without
    # recommended extras, and apt's lists do not stay in the image.
    installs = re.findall(r"apt-get install ([^&]+)", runs)
    assert [set(i.split()) - {"--yes", "--no-install-recommends"} for i in installs] == [
        {"graphviz", "fonts-liberation2"}] and "--no-install-recommends" in installs[0]
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert all(not _args(s, "RUN") or "gcc" not in " ".join(_args(s, "RUN")) for s in stages)
    assert "--from=build /opt/meshbot" in " ".join(_args(final, "COPY"))
    entry = json.loads(_args(final, "ENTRYPOINT")[0]) + json.loads(_args(final, "CMD")[0])
    assert entry == ["meshbot", "serve"]
    assert _args(final, "EXPOSE") == ["3000"]
    # The same user and command in the cluster; matplotlib's cache on the writable /tmp.
    dep = bot("base")["spec"]["template"]["spec"]
    assert dep["securityContext"]["runAsUser"] == int(uid)
    assert bot_container("base")["command"] + bot_container("base")["args"] == entry
    env = " ".join(_args(final, "ENV"))
    assert "MPLCONFIGDIR=/tmp/" in env and "XDG_CACHE_HOME=/tmp/" in env


def test_dockerfile_installs_the_locked_dependencies_as_binary_wheels():
    build = _dockerfile()[0]
    copies = " ".join(_args(build, "COPY"))
    runs = _args(build, "RUN")
    assert "requirements.lock" in copies
    locked = [r for r in runs if "pip install" in r and "--requirement requirements.lock" in r]
    assert locked and "--only-binary=:all:" in locked[0]
    assert any("--no-deps" in r and "pip check" in r for r in runs)
    # Everything the package needs is copied, and .dockerignore lets it through.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    sources = {c.split()[0] for c in _args(build, "COPY")} | set(copies.split())
    for pkg in packages:
        assert pkg.rstrip("*") in sources, pkg
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    # The build reads setup.py (which copies the demo mesh into the wheel) and the LICENSE.
    for name in ["pyproject.toml", "setup.py", "README.md", "LICENSE", "requirements.lock",
                 "examples/demo-mesh", *(p.rstrip("*") for p in packages)]:
        assert name in allowed and (ROOT / name).exists(), name
        assert name in sources or name == "requirements.lock" and "requirements.lock" in copies, name
    # The installed package runs the demo outside the source tree: a file missing from the
    # package fails the image build (tests/test_package.py proves the same for the wheel).
    assert any("cd / && /opt/meshbot/bin/meshbot demo" in r for r in runs)


def test_meshbot_console_script_serves():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["meshbot"] == "bot.cli:main"
    exe = Path(sys.executable).parent / "meshbot"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "serve" in out.stdout
    out = subprocess.run([str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: meshbot serve" in out.stdout


# -- lock ----------------------------------------------------------------------------------------

def _lock() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line.strip())
        assert m, f"not an exact pin: {line}"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def test_lock_pins_every_runtime_dependency_within_pyproject_ranges():
    from packaging.utils import canonicalize_name

    import importlib.util

    spec = importlib.util.spec_from_file_location("meshbot_deploy_lock", DEPLOY / "lock.py")
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    pins = _lock()
    for req in lock.project_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run .venv/bin/python deploy/lock.py"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])
    missing = set(lock.closure()) - set(pins)
    assert not missing, f"transitive dependencies missing from requirements.lock: {sorted(missing)}"
    test_only = {"pytest", "pytest-asyncio", "pytest-timeout", "kubernetes-validate"}
    assert not test_only & set(pins)


def test_readme_deploying_examples_are_valid():
    import kubernetes_validate

    from diagnostics.config import parse_config

    blocks = re.findall(r"```yaml\n(.*?)```", _deploying(), flags=re.S)
    assert blocks
    for block in blocks:
        doc = yaml.safe_load(block)
        if "apiVersion" in doc:
            kubernetes_validate.validate(doc, K8S_SCHEMA_VERSION, strict=True)
            assert doc["metadata"]["namespace"] == "meshbot"
        else:
            parse_config(doc)


# -- operations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", BOT_SHAPES)
def test_rollouts_surge_and_drain_within_the_grace_period(shape):
    """No answer is dropped by a rollout: the old pod serves until the new one is ready, leaves
    the Service before SIGTERM (preStop), and meshbot's drain fits in the grace period."""
    from bot.serve import DRAIN_SECONDS

    dep = bot(shape)
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    spec = dep["spec"]["template"]["spec"]
    pre_stop = bot_container(shape)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep" and int(pre_stop[1]) > 0
    assert spec["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + DRAIN_SECONDS + 5
    pdb = one(shape, "PodDisruptionBudget", "meshbot")["spec"]
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"  # a broken pod never blocks drains


@pytest.mark.parametrize("shape", ["redis-in-cluster", "replicas"])
def test_in_cluster_redis_requires_a_password_from_the_secret(shape):
    (redis,) = _containers(shape, "meshbot-redis")
    script = " ".join(redis["command"] + redis["args"])
    assert '--requirepass "$REDISCLI_AUTH"' in script and "exec redis-server" in script
    (auth,) = redis["env"]
    assert auth["name"] == "REDISCLI_AUTH"  # also what redis-cli (the probe) authenticates with
    assert auth["valueFrom"]["secretKeyRef"] == {"name": "meshbot-redis", "key": "REDIS_PASSWORD"}
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
