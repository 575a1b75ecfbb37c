"""Choosing where facts come from: a snapshot, the configured clusters, or kubeconfig contexts.

Order of precedence: a snapshot (`--snapshot` / MESHBOT_SNAPSHOT); the config file's clusters;
`--context` names; every context of an explicitly given `--kubeconfig`; the current context (or
the in-cluster service account when running in a pod).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from diagnostics.config import Config, ConfigError
from diagnostics.model import CONFIG_FILE, ENV_NAME, ClusterInfo
from diagnostics.sources.base import Source

if TYPE_CHECKING:
    from kubernetes import client

    from diagnostics.sources.live import LiveSource

# The kubernetes client (a third of a second of imports) loads only for live clusters: a
# snapshot diagnosis never needs it.

POOL_SIZE = 32


class _Kubeconfigs:
    """Kubeconfig files (KUBECONFIG's list form included) read and merged once per source
    built: every cluster's configuration and the list of contexts come from that one parse.
    The kubernetes client's `load_kube_config` reads and parses the whole file again for each
    context (ten clusters: eleven parses of a ten-cluster file, 70 ms). The merge keeps each
    entry's file, so relative certificate paths resolve as `load_kube_config` resolves them."""

    def __init__(self) -> None:
        self._merged: dict[str, Any] = {}

    def loader(self, path: str | None, context: str | None = None) -> Any:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import (KUBE_CONFIG_DEFAULT_LOCATION,
                                                   KubeConfigLoader, KubeConfigMerger)

        path = path or KUBE_CONFIG_DEFAULT_LOCATION
        if path not in self._merged:
            self._merged[path] = KubeConfigMerger(path).config
        if self._merged[path] is None:
            raise ConfigException("Invalid kube-config file. No configuration found.")
        return KubeConfigLoader(config_dict=self._merged[path], config_base_path=None,
                                active_context=context)


def _configuration(kubeconfig: str | None, context: str | None,
                   files: _Kubeconfigs | None = None) -> client.Configuration:
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST") \
                and not os.path.exists(os.path.expanduser(kube_config.KUBE_CONFIG_DEFAULT_LOCATION)):
            kube_config.load_incluster_config(client_configuration=cfg)
        else:
            (files or _Kubeconfigs()).loader(kubeconfig, context).load_and_set(cfg)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = f"context {context!r}" if context else "the current context"
        raise ConfigError(f"kubeconfig {kubeconfig or '(default)'}: cannot load {where}: {exc}") from None
    cfg.connection_pool_maxsize = POOL_SIZE
    cfg.retries = False  # a failure is reported at once; the per-cluster deadline bounds waiting
    return cfg


class NoKubeconfig(ConfigError):
    """No cluster was named and the default kubeconfig (KUBECONFIG, ~/.kube/config) is missing
    or empty: meshbot has nothing to read, which is a setup matter, not a broken file."""


def _contexts_of(kubeconfig: str | None, files: _Kubeconfigs | None = None
                 ) -> tuple[list[str], str | None]:
    from kubernetes.config.config_exception import ConfigException

    try:
        loader = (files or _Kubeconfigs()).loader(kubeconfig)
        contexts, current = loader.list_contexts(), loader.current_context
    except (ConfigException, OSError, TypeError) as exc:
        if kubeconfig is None:
            where = os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise NoKubeconfig(f"no kubeconfig with a cluster at {where} ({exc})") from None
        raise ConfigError(f"kubeconfig {kubeconfig}: {exc}") from None
    return [c["name"] for c in contexts], (current or {}).get("name")


def live_source(config: Config, *, kubeconfig: str | None = None,
                contexts: list[str] | None = None, timeout: float = 10.0,
                whole_objects: bool = False) -> LiveSource:
    from diagnostics.sources.live import LiveCluster, LiveSource

    clusters: list[LiveCluster] = []
    files = _Kubeconfigs()
    if config.clusters:
        for c in config.clusters:
            info = ClusterInfo(c.name, c.istio_namespace, c.context, CONFIG_FILE)
            cfg = _configuration(c.kubeconfig or kubeconfig, c.context, files)
            clusters.append(LiveCluster(info, cfg, c.istiod_url))
    else:
        names = list(contexts or [])
        if not names and kubeconfig:
            names, _ = _contexts_of(kubeconfig, files)
        if not names:
            current = None
            if not os.environ.get("KUBERNETES_SERVICE_HOST"):
                _, current = _contexts_of(kubeconfig, files)
            names = [current] if current else [None]  # type: ignore[list-item]
        declared = os.environ.get("MESHBOT_CLUSTER_NAME")  # in a pod: the id, if an operator says
        for name in names:
            # A context name is not an Istio cluster id: the id is learnt from the cluster.
            if name is None and declared:
                info = ClusterInfo(declared, "istio-system", None, ENV_NAME)
            else:
                info = ClusterInfo(name or "in-cluster", "istio-system", name, None)
            clusters.append(LiveCluster(info, _configuration(kubeconfig, name, files)))
    return LiveSource(clusters, request_timeout=timeout, whole_objects=whole_objects)


def snapshot_paths(value: str | None) -> list[str]:
    """MESHBOT_SNAPSHOT as paths: one, or several joined by the OS path separator (`:` on
    Linux), snapshots or istioctl bug-reports read as one mesh."""
    return [p for p in (value or "").split(os.pathsep) if p]


def build_source(config: Config, *, snapshot: str | list[str] | None = None,
                 kubeconfig: str | None = None, contexts: list[str] | None = None,
                 timeout: float = 10.0) -> Source:
    """The source a command reads from; raises ConfigError or SnapshotError on bad setup.
    An explicit --kubeconfig/--context beats MESHBOT_SNAPSHOT from the environment; given with
    an explicit --snapshot they are a contradiction, refused rather than silently ignored.
    Several snapshots or bug-report archives (one per cluster) are read as one mesh."""
    live_asked = bool(kubeconfig or contexts)
    if snapshot and live_asked:
        raise ConfigError("--snapshot reads recorded clusters, so --kubeconfig and --context do "
                          "not apply: give one or the other (--cluster <name> picks clusters of "
                          "a snapshot)")
    paths = [snapshot] if isinstance(snapshot, str) else list(snapshot or [])
    if not paths and not live_asked:
        paths = snapshot_paths(os.environ.get("MESHBOT_SNAPSHOT"))
    if paths:
        from diagnostics.snapshot import Snapshot
        from diagnostics.sources.snapshot import SnapshotSource

        names = {c.name: c.context for c in config.clusters if c.context}
        return SnapshotSource(Snapshot.open_many(paths), contexts=names)
    return live_source(config, kubeconfig=kubeconfig, contexts=contexts, timeout=timeout)
