"""Where `istioctl bug-report` puts what it captures, Istio 1.22 to 1.31.

Read from istio/istio `tools/bug-report/pkg` at the release tags 1.22.0 to 1.30.3 and the
`release-1.31` branch (`git show <tag>:<path>`), not from archives seen in the wild:

- `archive/archive.go`: the archive is a gzip-compressed tar of regular files only (no directory
  entries, no links), named relative to the parent of the output root: members start with
  `bug-report/` unless `--dir` named the root. Below the root: `cluster/`,
  `istio/<ns>/<pod>/`, `proxies/<ns>/<pod>/`, `operator/<ns>/<pod>/`, `cni/<pod>/`,
  `analyze/<ns>/`, plus `versions` and `bug-report.log` (`bugreport/bugreport.go`).
- `content/content.go`: `cluster/cluster-context` is `kubectl config current-context` followed
  by the API server URL; `cluster/pods` is `kubectl get pods -o yaml -n <istio namespace>`;
  `cluster/nodes`, `cluster/crs` (every custom resource of every CRD) and
  `cluster/k8s-resources` are `kubectl get ... -o yaml` (a `kind: List`); `cluster/secrets` is
  the `kubectl get secrets` table, YAML with every value only under `--full-secrets`;
  `cluster/events` is the `kubectl get events -o wide` table.
  Up to 1.29 `k8s-resources` holds `all,nodes,namespaces,jobs,ingresses,endpoints,
  endpointslices,customresourcedefinitions,configmaps,events,mutatingwebhookconfigurations,
  validatingwebhookconfigurations,networkpolicies`; from 1.30 it holds only the namespaced
  `all,jobs,ingresses,endpointslices,configmaps,networkpolicies` (scoped to the `--include`
  namespaces plus the Istio namespace when those are concrete), the cluster-scoped kinds move
  to `k8s-cluster-resources`, and Endpoints and Event objects are no longer captured.
- `common/common.go`: istiod's debug endpoints are written as `istio/<ns>/<pod>/debug/<name>`
  (the body of `pilot-discovery request GET debug/<name>` inside istiod: the raw body and a
  newline), and `istio/<ns>/<pod>/metrics` its Prometheus text; `debug/ambientz` from 1.24,
  `debug/krtz` from 1.25. A proxy's Envoy admin answers
  are `proxies/<ns>/<pod>/<url>`, the config dump literally `config_dump?include_eds`; a
  ztunnel's is `proxies/<ns>/<pod>/config_dump`.
- Logs: `istio/<ns>/<pod>/discovery.log`, `proxies/<ns>/<pod>/istio-proxy.log`,
  `cni/<pod>/cni.log`, `operator/<ns>/<pod>/operator.log`. A container that restarted has its
  previous run appended after a `========= Previous log =========` line. No other container
  log (an application's, istio-init's) is captured.
- `--include`/`--exclude` choose the pods whose proxy and istiod files are written; from 1.30
  they also scope the namespaced `kubectl get` calls. `--skip-cluster-dump` (1.30) drops
  k8s-resources, crs, nodes, secrets and events; `--skip-proxy-debug` the Envoy admin files.
  None of them is recorded in the archive except the include/exclude lines of `bug-report.log`.

An archive holds one kubeconfig context (`--context`): a multicluster mesh is one archive per
cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

ROOT_NAME = "bug-report"  # archive/archive.go bugReportSubdir
PREVIOUS_LOG = "\n\n========= Previous log =========\n\n"
PREVIOUS_PRESENT = "========= Previous log present (appended at the end) =========\n\n"

# kubectl's `all` category: what `kubectl get all` lists.
ALL_CATEGORY = ("pods", "services", "replicationcontrollers", "daemonsets.apps",
                "deployments.apps", "replicasets.apps", "statefulsets.apps",
                "horizontalpodautoscalers.autoscaling", "jobs.batch", "cronjobs.batch")
# What `cluster/k8s-resources` lists, by layout.
K8S_RESOURCES_UP_TO_1_29 = ALL_CATEGORY + (
    "nodes", "namespaces", "ingresses.networking.k8s.io", "endpoints",
    "endpointslices.discovery.k8s.io", "customresourcedefinitions.apiextensions.k8s.io",
    "configmaps", "events", "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "networkpolicies.networking.k8s.io")
K8S_RESOURCES_FROM_1_30 = ALL_CATEGORY + (
    "ingresses.networking.k8s.io", "endpointslices.discovery.k8s.io", "configmaps",
    "networkpolicies.networking.k8s.io")
K8S_CLUSTER_RESOURCES = (
    "nodes", "namespaces", "customresourcedefinitions.apiextensions.k8s.io",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io")
# API groups whose kinds come from CRDs, all captured by `cluster/crs` when it is present.
CRD_GROUP_SUFFIXES = ("istio.io", "gateway.networking.k8s.io", "x-k8s.io")

RESOURCE_FILES = ("k8s-resources", "k8s-cluster-resources", "crs", "nodes", "pods")


class Part(Enum):
    """What one file of a bug-report root is, for meshbot."""

    RESOURCES = "resources"          # cluster/<file>: kubectl get -o yaml
    SECRETS = "secrets"              # cluster/secrets: a table, or YAML with --full-secrets
    EVENTS = "events"                # cluster/events: the wide table
    CONTEXT = "context"              # cluster/cluster-context
    ISTIOD_DEBUG = "istiod-debug"    # istio/<ns>/<pod>/debug/<endpoint>
    ISTIOD_LOG = "istiod-log"        # istio/<ns>/<pod>/discovery.log
    ISTIOD_METRICS = "istiod-metrics"  # istio/<ns>/<pod>/metrics: GET :15014/metrics
    PROXY_DUMP = "proxy-dump"        # proxies/<ns>/<pod>/config_dump?include_eds
    ZTUNNEL_DUMP = "ztunnel-dump"    # proxies/<ns>/<pod>/config_dump
    PROXY_LOG = "proxy-log"          # proxies/<ns>/<pod>/istio-proxy.log
    CNI_LOG = "cni-log"              # cni/<pod>/cni.log
    LOG = "log"                      # bug-report.log: the flags it ran with
    VERSIONS = "versions"            # versions: istioctl's and istiod's versions
    KNOWN = "known"                  # written by istioctl, not read by meshbot
    UNKNOWN = "unknown"              # not a path istioctl writes


@dataclass(frozen=True)
class Entry:
    """One file below a bug-report root, classified."""

    part: Part
    namespace: str = ""
    pod: str = ""
    name: str = ""  # resource file name, debug endpoint


_PROXY_ADMIN = {"certs", "clusters", "listeners", "memory", "server_info", "runtime", "netstat",
                "config_dump?include_eds", "config_dump", "istio-proxy.log"}
_CLUSTER_KNOWN = {"kubectl-version", "cluster-context", "events", "secrets", *RESOURCE_FILES}
_DEBUG = re.compile(r"[A-Za-z_]{1,40}")


def classify(parts: tuple[str, ...]) -> Entry:
    """What the file at `parts` (path components below the root) holds."""
    head = parts[0] if parts else ""
    if parts == ("versions",):
        return Entry(Part.VERSIONS)
    if parts == ("bug-report.log",):
        return Entry(Part.LOG)
    if head == "cluster" and len(parts) == 2:
        return _cluster_file(parts[1])
    if head == "istio" and len(parts) >= 4:
        return _istiod_file(parts)
    if head == "proxies" and len(parts) >= 4:
        return _proxy_file(parts)
    if head == "cni" and len(parts) == 3:
        return Entry(Part.CNI_LOG, pod=parts[1]) if parts[2] == "cni.log" else Entry(Part.KNOWN)
    if head in ("operator", "analyze"):
        return Entry(Part.KNOWN)
    return Entry(Part.UNKNOWN)


def _cluster_file(name: str) -> Entry:
    if name in RESOURCE_FILES:
        return Entry(Part.RESOURCES, name=name)
    if name == "secrets":
        return Entry(Part.SECRETS)
    if name == "events":
        return Entry(Part.EVENTS)
    if name == "cluster-context":
        return Entry(Part.CONTEXT)
    return Entry(Part.KNOWN if name in _CLUSTER_KNOWN else Part.UNKNOWN)


def _istiod_file(parts: tuple[str, ...]) -> Entry:
    ns, pod, rest = parts[1], parts[2], parts[3:]
    if rest == ("discovery.log",):
        return Entry(Part.ISTIOD_LOG, ns, pod)
    if len(rest) == 2 and rest[0] == "debug" and _DEBUG.fullmatch(rest[1]):
        return Entry(Part.ISTIOD_DEBUG, ns, pod, rest[1])
    if rest == ("metrics",):
        return Entry(Part.ISTIOD_METRICS, ns, pod)
    return Entry(Part.UNKNOWN)


def _proxy_file(parts: tuple[str, ...]) -> Entry:
    ns, pod, rest = parts[1], parts[2], parts[3:]
    if rest == ("config_dump?include_eds",):
        return Entry(Part.PROXY_DUMP, ns, pod)
    if rest == ("config_dump",):
        return Entry(Part.ZTUNNEL_DUMP, ns, pod)
    if rest == ("istio-proxy.log",):
        return Entry(Part.PROXY_LOG, ns, pod)
    if rest[0] in _PROXY_ADMIN or rest[0] in ("cores", "stats"):
        return Entry(Part.KNOWN)
    return Entry(Part.UNKNOWN)


def root_of(path: str) -> str | None:
    """The bug-report root a file path lies in (`''`, `bug-report/`, `x/bug-report/`), when the
    path is one istioctl writes below a root: `<root>cluster/<file>`, `<root>istio/...`,
    `<root>proxies/...`. The first such component decides, so a root is never guessed inside a
    pod's own files."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "cluster" and len(parts) == i + 2 and parts[i + 1] in _CLUSTER_KNOWN:
            return "/".join(parts[:i]) + ("/" if i else "")
    return None


def split_previous(text: str) -> tuple[str, str | None]:
    """A bug-report log as (current run, previous run or None): istioctl writes a restarted
    container's two runs into one file, the current first."""
    if not text.startswith(PREVIOUS_PRESENT) or PREVIOUS_LOG not in text:
        return text, None
    current, _, previous = text[len(PREVIOUS_PRESENT):].partition(PREVIOUS_LOG)
    return current, previous


_CLI_VERSION = re.compile(r'CLI version:\s*\n.*?Version:"([^"]+)"')


def cli_version(versions_text: str) -> str | None:
    """istioctl's version as the `versions` file states it (`version.Info.LongForm()`)."""
    m = _CLI_VERSION.search(versions_text)
    return m.group(1) if m else None


def captured_kinds(files: set[str]) -> tuple[set[str], bool]:
    """The resource keys the `cluster/` files present capture in every namespace, and whether
    the layout is 1.30's (split k8s-resources; no Endpoints or Event objects)."""
    split = "k8s-cluster-resources" in files
    kinds: set[str] = set()
    if "k8s-resources" in files:
        kinds.update(K8S_RESOURCES_FROM_1_30 if split else K8S_RESOURCES_UP_TO_1_29)
    if split:
        kinds.update(K8S_CLUSTER_RESOURCES)
    if "nodes" in files:
        kinds.add("nodes")
    return kinds, split


def is_crd_kind(key: str) -> bool:
    """A resource key served from a CRD (captured by `cluster/crs`)."""
    group = key.partition(".")[2]
    return bool(group) and group.endswith(CRD_GROUP_SUFFIXES)


_INCLUDE = re.compile(r"^include: (.*)$", re.MULTILINE)
_NAMESPACES = re.compile(r"Namespaces: ([^/}]*)")
MAX_SCOPED_NAMESPACES = 20  # cluster/cluster.go ExtractIncludedNamespaces


def scoped_namespaces(log_text: str, istio_namespace: str) -> list[str] | None:
    """The namespaces a 1.30+ archive's namespaced `kubectl get` calls were limited to: the
    concrete namespaces `--include` named, as `bug-report.log` prints the config
    (config/config.go SelectionSpecs.String), plus the Istio namespace; None when every
    namespace was read: a spec without namespaces, a wildcard, or more than 20 names
    (cluster/cluster.go ExtractIncludedNamespaces falls back to all)."""
    m = _INCLUDE.search(log_text)
    if m is None or not m.group(1).strip():
        return None
    names: set[str] = set()
    for spec in m.group(1).split(" AND "):
        found = _NAMESPACES.search(spec)
        if found is None:
            return None
        for ns in (n.strip() for n in found.group(1).split(",")):
            if not ns or "*" in ns:
                return None
            names.add(ns)
    names.add(istio_namespace)
    return sorted(names) if len(names) <= MAX_SCOPED_NAMESPACES else None
