"""Render a mesh as istioctl bug-report archives, one per cluster, in one istioctl's layout.

The same mesh model as a snapshot (`render_files`) is laid out as `istioctl bug-report` of the
given version writes it (istio/istio tools/bug-report/pkg at the release tags; the facts are in
diagnostics/bugreport/layout.py, which this module does not import: the two must agree on their
own, from the source):

- `cluster/cluster-context` (context and API server), `cluster/kubectl-version`, `versions`,
  `bug-report.log` (with the config it ran with, include/exclude among it);
- `cluster/k8s-resources` (`kind: List`; up to 1.29 with nodes, namespaces, Endpoints and
  Events too; from 1.30 namespaced kinds only, cluster-scoped ones in
  `cluster/k8s-cluster-resources`), `cluster/crs`, `cluster/nodes`, `cluster/pods` (the Istio
  namespace), `cluster/secrets` (the names table, or every value with `full_secrets`),
  `cluster/events` (the table);
- `istio/<ns>/<istiod>/debug/<endpoint>` (body and newline), `metrics` and `discovery.log`;
- `proxies/<ns>/<pod>/config_dump?include_eds` (the sidecar's own Envoy admin, snake_case, the
  same configuration istiod's dump for the proxy holds) and `istio-proxy.log`.

A restarted container's two runs share one log file, as istioctl writes them. Application and
istio-init logs are not in a bug-report, and neither is istiod's per-proxy config dump. Only
the members meshgen models are written; istioctl writes more (netstat, certs, metrics, ...),
which meshbot does not read.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import yaml

from tests.meshgen.model import Mesh, version_tuple
from tests.meshgen.render import dump_yaml, render_files

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "local-path-storage")
ALL = ("pods", "services", "daemonsets.apps", "deployments.apps", "replicasets.apps",
       "statefulsets.apps", "jobs.batch", "cronjobs.batch")
CLUSTER_SCOPED = ("nodes", "namespaces",
                  "mutatingwebhookconfigurations.admissionregistration.k8s.io",
                  "validatingwebhookconfigurations.admissionregistration.k8s.io")
NAMESPACED = ("endpointslices.discovery.k8s.io", "configmaps",
              "networkpolicies.networking.k8s.io")
CR_GROUPS = ("istio.io", "gateway.networking.k8s.io")
DEBUG_1_22 = ("adsz", "authorizationz", "cachez", "clusterz", "configz", "endpointShardz",
              "endpointz", "inject", "instancesz", "mcsz", "mesh", "networkz", "push_status",
              "registryz", "resourcesz", "syncz", "telemetryz")
MODELLED_DEBUG = ("clusterz", "endpointShardz", "mesh", "networkz", "registryz", "syncz")
PREVIOUS_PRESENT = "========= Previous log present (appended at the end) =========\n\n"
PREVIOUS_LOG = "\n\n========= Previous log =========\n\n"


@dataclass(frozen=True)
class Layout:
    """What one istioctl version writes differently."""

    version: str

    @property
    def split(self) -> bool:
        """1.30: cluster-scoped kinds in k8s-cluster-resources; no Endpoints/Event objects."""
        return version_tuple(self.version) >= (1, 30)

    @property
    def debug_endpoints(self) -> tuple[str, ...]:
        extra = (("ambientz",) if version_tuple(self.version) >= (1, 24) else ()) + \
            (("krtz",) if version_tuple(self.version) >= (1, 25) else ())
        return DEBUG_1_22 + extra

    @property
    def tick(self) -> str:
        return "✅ " if self.split else ""


def render_bug_report(mesh: Mesh, version: str = "1.30.0", *, full_secrets: bool = False,
                      root: str = "bug-report/", contexts: dict[str, str] | None = None,
                      include: str = "") -> dict[str, dict[str, bytes]]:
    """The members of one bug-report archive per captured cluster: {cluster: {name: bytes}}.
    `contexts` names each cluster's kubeconfig context (default `kind-<id>` style names that
    are not the id); `include` is the `--include` spec it ran with (printed in its log)."""
    # istioctl runs with the rights of whoever runs it: what meshbot's own install was refused
    # (a mesh's `withheld` kinds, Secrets without Secret reads) is still in the person's archive.
    snap = _Snapshot(render_files(replace(mesh, withheld=())))
    layout = Layout(version)
    out = {}
    for cid in snap.clusters():
        context = (contexts or {}).get(cid, f"ctx-{cid}")
        files = _Cluster(snap, cid, mesh, layout, full_secrets, context, include).files()
        out[cid] = {root + name: data.encode() if isinstance(data, str) else data
                    for name, data in sorted(files.items())}
    return out


def archive_bytes(members: dict[str, bytes], mtime: float = 0.0) -> bytes:
    """A `.tar.gz` as archive/archive.go writes one: regular files only, mode 0644."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_archive(members: dict[str, bytes], path: Path, mtime: float = 0.0) -> Path:
    path.write_bytes(archive_bytes(members, mtime))
    return path


def write_archives(mesh: Mesh, out_dir: Path, version: str = "1.30.0", **kw) -> list[Path]:
    """One `<cluster>-bug-report.tar.gz` per cluster in `out_dir`."""
    stamp = datetime.fromisoformat(mesh.captured_at.replace("Z", "+00:00")).timestamp()
    return [write_archive(members, out_dir / f"{cid}-bug-report.tar.gz", stamp)
            for cid, members in render_bug_report(mesh, version, **kw).items()]


def write_folder(members: dict[str, bytes], out_dir: Path) -> Path:
    """The archive unpacked, as `tar xzf` leaves it."""
    for name, data in members.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return out_dir


class _Snapshot:
    """The snapshot files of the mesh, by cluster."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        meta = yaml.safe_load(files["snapshot.yaml"])
        self._clusters = list(meta["clusters"])

    def clusters(self) -> list[str]:
        return self._clusters

    def under(self, cid: str, prefix: str) -> dict[str, str]:
        base = f"clusters/{cid}/{prefix}"
        return {p[len(base):]: t for p, t in self.files.items() if p.startswith(base)}

    def objects(self, cid: str) -> dict[str, list[dict]]:
        """Objects by resource key (the file name of `resources/<ns>/<key>.yaml`)."""
        out: dict[str, list[dict]] = {}
        for rel, text in self.under(cid, "resources/").items():
            key = rel.split("/")[-1].removesuffix(".yaml")
            out.setdefault(key, []).extend(yaml.safe_load(text)["items"])
        return out


@dataclass
class _Cluster:
    snap: _Snapshot
    cid: str
    mesh: Mesh
    layout: Layout
    full_secrets: bool
    context: str
    include: str

    def files(self) -> dict[str, str]:
        objs = self._scoped(self.snap.objects(self.cid))
        spec = self.mesh.cluster(self.cid)
        out = {"cluster/cluster-context": f"{self.context}\nhttps://{spec.api_server}\n",
               "cluster/kubectl-version": _kubectl_version(),
               "versions": self._versions(spec.istio_version),
               "bug-report.log": self._log()}
        out.update(self._resources(objs))
        out.update(self._istiod())
        out.update(self._proxies(objs))
        return out

    # -- cluster/ ---------------------------------------------------------------------------

    def _selected(self, namespace: str) -> bool:
        """--include chooses the pods whose istiod and proxy files are written (every
        version: cluster/cluster.go shouldSkipPod)."""
        return not self.include or namespace in self.include.split(",")

    def _scoped(self, objs: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """1.30 lists namespaced kinds only in the --include namespaces and the Istio one."""
        if not (self.include and self.layout.split):
            return objs
        keep = set(self.include.split(",")) | {"istio-system"}
        return {k: [o for o in v if o["metadata"].get("namespace") in keep | {None}]
                for k, v in objs.items()}

    def _resources(self, objs: dict[str, list[dict]]) -> dict[str, str]:
        istio_ns = "istio-system"
        crs = [k for k in objs if k.split(".", 1)[-1].endswith(CR_GROUPS) and "." in k]
        listed = ALL + NAMESPACED + (("events",) if not self.layout.split else ()) + \
            (() if self.layout.split else CLUSTER_SCOPED + ("endpoints",))
        out = {"cluster/k8s-resources": _list(objs, listed),
               "cluster/crs": _list(objs, tuple(sorted(crs))),
               "cluster/nodes": _list(objs, ("nodes",)),
               "cluster/pods": _list(objs, ("pods",), istio_ns)}
        if self.layout.split:
            out["cluster/k8s-cluster-resources"] = _list(objs, CLUSTER_SCOPED)
        secrets = objs.get("secrets", [])
        out["cluster/secrets"] = _list(objs, ("secrets",)) if self.full_secrets \
            else _secrets_table(secrets)
        events = _events_table(objs.get("events", []))
        if events:
            out["cluster/events"] = events
        return out

    def _versions(self, istio_version: str) -> str:
        tick = self.layout.tick
        return (f"CLI version:\nversion.BuildInfo{{Version:\"{self.layout.version}\", "
                f"GitRevision:\"{'0' * 40}\", GolangVersion:\"go1.24.4\", BuildStatus:\"Clean\", "
                f"GitTag:\"{self.layout.version}\"}}\n\n"
                f"{tick}The following Istio control plane revisions/versions were found in the "
                f"cluster:\nRevision default:\n&version.MeshInfo{{version.ServerInfo{{"
                f"Component:\"pilot\", Revision:\"default\", Info:version.BuildInfo{{"
                f"Version:\"{istio_version}\"}}}}}}\n\n"
                f"{tick}The following proxy revisions/versions were found in the cluster:\n"
                f"Revision default: Versions {{{istio_version}}}\n")

    def _log(self) -> str:
        """bug-report.log: istioctl's own log, with the config it ran with."""
        stamp = self.mesh.captured_at.replace("Z", ".000000Z")
        include = f"{{ Namespaces: {self.include} }}" if self.include else "{  }"
        tick = self.layout.tick
        return (f"{stamp}\tinfo\t\n{tick}Target cluster context: {self.context}\n\n"
                f"{stamp}\tinfo\t{tick}Running with the following config: \n\n"
                f"istio-namespace: istio-system\nfull-secrets: {str(self.full_secrets).lower()}\n"
                f"timeout (mins): 30\ninclude: {include}\n"
                f"exclude: {{ Namespaces: {','.join(SYSTEM_NAMESPACES)} }}\n"
                f"end-time: {self.mesh.captured_at}\n\n\n")

    # -- istio/ and proxies/ ----------------------------------------------------------------

    def _istiod(self) -> dict[str, str]:
        out = {}
        replicas = sorted({p.split("/")[0] for p in self.snap.under(self.cid, "istiod/")})
        logs = self.snap.under(self.cid, "logs/")
        for replica in replicas if self._selected("istio-system") else []:
            bodies = self.snap.under(self.cid, f"istiod/{replica}/")
            base = f"istio/istio-system/{replica}"
            for name in self.layout.debug_endpoints:
                if name in MODELLED_DEBUG and f"{name}.json" in bodies:
                    out[f"{base}/debug/{name}"] = bodies[f"{name}.json"].rstrip("\n") + "\n"
            if "metrics.txt" in bodies:
                out[f"{base}/metrics"] = bodies["metrics.txt"]
            log = _joined(logs, f"istio-system/{replica}/discovery")
            if log:
                out[f"{base}/discovery.log"] = log
        return out

    def _proxies(self, objs: dict[str, list[dict]]) -> dict[str, str]:
        dumps = {}  # whichever cluster's istiod configures the proxy (primary-remote)
        for cid in self.snap.clusters():
            for rel, text in self.snap.under(cid, "istiod/").items():
                parts = rel.split("/")
                if len(parts) == 3 and parts[1] == "config_dump":
                    dumps[parts[2].removesuffix(".json")] = text
        logs = self.snap.under(self.cid, "logs/")
        out = {}
        for pod in objs.get("pods", []):
            meta = pod["metadata"]
            ns, name = meta["namespace"], meta["name"]
            if ns in SYSTEM_NAMESPACES or not _has_proxy(pod) or not self._selected(ns):
                continue
            base = f"proxies/{ns}/{name}"
            if f"{name}.{ns}" in dumps:
                admin = envoy_admin_form(json.loads(dumps[f"{name}.{ns}"]))
                out[f"{base}/config_dump?include_eds"] = json.dumps(admin, indent=2) + "\n"
            log = _joined(logs, f"{ns}/{name}/istio-proxy")
            if log:
                out[f"{base}/istio-proxy.log"] = log
        return out


def _has_proxy(pod: dict) -> bool:
    spec = pod.get("spec") or {}
    return any(c.get("name") == "istio-proxy"
               for c in (spec.get("containers") or []) + (spec.get("initContainers") or []))


def _joined(logs: dict[str, str], stem: str) -> str | None:
    """A container's log as istioctl writes it: the current run, and the previous one after
    a marker when the container restarted (bugreport.go getLog)."""
    current, previous = logs.get(f"{stem}.log"), logs.get(f"{stem}.previous.log")
    if current is None:
        return None
    if previous is None:
        return current
    return PREVIOUS_PRESENT + current + PREVIOUS_LOG + previous


def _list(objs: dict[str, list[dict]], keys: tuple[str, ...], namespace: str | None = None) -> str:
    """`kubectl get <keys> -o yaml`: one `kind: List`, items with their kind and apiVersion."""
    items = [o for k in keys for o in sorted(objs.get(k, []), key=_order)
             if namespace is None or o["metadata"].get("namespace") == namespace]
    return dump_yaml({"apiVersion": "v1", "items": items, "kind": "List",
                      "metadata": {"resourceVersion": ""}})


def _order(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _table(header: list[str], rows: list[list[str]]) -> str:
    """kubectl's table: columns padded to the widest cell plus three spaces."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def _secrets_table(secrets: list[dict]) -> str:
    """`kubectl get secrets --all-namespaces`: names, not values."""
    rows = [[s["metadata"]["namespace"], s["metadata"]["name"], s.get("type", "Opaque"),
             str(len(s.get("data") or {})), "10d"] for s in sorted(secrets, key=_order)]
    return _table(["NAMESPACE", "NAME", "TYPE", "DATA", "AGE"], rows)


def _events_table(events: list[dict]) -> str:
    """`kubectl get events --all-namespaces -o wide` (an outline of it: meshbot does not read
    the table)."""
    if not events:
        return ""
    rows = [[e["metadata"].get("namespace", ""), "5m", e.get("type", "Normal"),
             e.get("reason", ""),
             f"{e.get('involvedObject', {}).get('kind', '').lower()}/"
             f"{e.get('involvedObject', {}).get('name', '')}", e.get("message", "")]
            for e in events]
    return _table(["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], rows)


def _kubectl_version() -> str:
    return "Client Version: v1.30.1\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3\n" \
           "Server Version: v1.30.0\n"


# -- istiod's protojson (camelCase) as Envoy's admin prints it (snake_case) --------------------

# Proto fields whose snake name has `_` before a digit, which camelCase cannot tell.
_DIGIT_FIELDS = {"consecutive5xx": "consecutive_5xx",
                 "enforcingConsecutive5xx": "enforcing_consecutive_5xx"}
# Map fields: their keys are data, not field names (Struct values are data all the way down).
_STRUCT_MAPS = {"filterMetadata"}
_ANY_MAPS = {"typedExtensionProtocolOptions", "typedFilterMetadata", "typedPerFilterConfig"}
_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(key: str) -> str:
    return _DIGIT_FIELDS.get(key) or _UPPER.sub(r"_\1", key).lower()


def envoy_admin_form(value: object) -> object:
    """A config dump as the proxy's own admin `/config_dump` prints it: snake_case fields."""
    if isinstance(value, list):
        return [envoy_admin_form(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in _STRUCT_MAPS:
            out[_snake(key)] = item
        elif key in _ANY_MAPS and isinstance(item, dict):
            out[_snake(key)] = {k: envoy_admin_form(v) for k, v in item.items()}
        else:
            out[key if key.startswith("@") else _snake(key)] = envoy_admin_form(item)
    return out
