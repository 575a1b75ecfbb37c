"""istiod's `discovery` log: the events about remote clusters, and which cluster each concerns.

Records come from diagnostics/parse/log_framing.py (every framing: TAB text, spaces, JSON,
container-runtime and kubectl prefixes), error texts are read by diagnostics/parse/go_errors.py.
What a remote cluster's failure looks like changed across releases; every wording istiod 1.1 to
1.31 prints is matched here (docs/istiod-log-versions.md, real examples in
tests/fixtures/istiod-logs/):

- list/watch failures: `watch error in cluster X: ...` (1.10+, istiod's own informers) and
  client-go's lines, which name no cluster: `<file>.go:N: Failed to watch|list T: ...` (klog
  printf form; `<file>` is client-go's reflector.go, Pilot's controller.go, an informer factory),
  `<err>: Unhandled Error` (client-go 0.31-0.32 through istiod's klog bridge), `<err>: Failed
  to watch` with `reflector=`/`type=` labels (0.33+), and the CRD client's `failed to list CRDs:`;
- the secret controller: `Add|Update cluster` + `cluster=` labels (1.16+; `config=` label 1.30+),
  `... create remote cluster failed`, `Adding cluster_id=X from secret=Y: ...` (1.9-1.15),
  `Failed to add remote cluster from secret=Y for cluster_id=X: ...` (<= 1.8), the queue's
  `error adding secret|remote config` (1.30 renamed), `Deleting cluster_id=X ...`;
- sync: `remote cluster X failed to sync after D` (1.15+; `remote clusters failed to sync after
  D` 1.10-1.14), `remote cluster X failed to sync [handler|KRT collection ...]`, 1.30's
  `remote cluster X is closed or timed out, omitting it from the clusters collection` (1.31:
  `is closed` / `is timed out`);
- the ads/security scope's `KubeJWTAuthenticator: could not get cluster X's kube client`: istiod
  has no client for X, so proxies of X cannot be authenticated either.

A line that names no cluster is attributed by the API server it names, or, when it names none,
by the identity a `forbidden` names: the reader service account only remote secrets use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Literal

from diagnostics.parse.go_errors import (SPECIFIC_CAUSES, Cause, ErrorMeaning, Rejection,
                                         classify_error, essential_error, meaning, shorten)
from diagnostics.parse.log_framing import LogRecord, parse_labels, parse_log

__all__ = ["SPECIFIC_CAUSES", "Cause", "ClusterEvent", "LogRecord", "Rejection",
           "classify_error", "cluster_events", "current", "decisive", "essential_error",
           "events_for", "parse_labels", "parse_log", "shorten", "sync_status_from_log"]

EventKind = Literal["added", "synced", "deleted", "watch_error", "list_error", "create_failed",
                    "sync_timeout", "sync_failed", "omitted", "no_client"]
#: Events after which earlier failures of the cluster no longer describe its current state.
RESET_KINDS = frozenset({"added", "synced", "deleted"})


@dataclass(frozen=True)
class ClusterEvent:
    """A secret-controller or informer event about a remote cluster."""

    kind: EventKind
    record: LogRecord
    cluster: str | None = None  # None: the line names no cluster (klog, queue, legacy timeout)
    secret: str | None = None  # "<namespace>/<name>" (or a bare name) when the line names it
    error: str | None = None  # the error text as logged

    @cached_property
    def meaning(self) -> ErrorMeaning:
        return meaning(self.error) if self.error else ErrorMeaning(None)

    @property
    def cause(self) -> Cause | None:
        if self.kind == "sync_timeout":
            return "timeout"
        if self.error is None:
            return None
        found = self.meaning.cause
        if found is None and self.kind == "create_failed":
            return "kubeconfig"  # istiod could not build a client from the kubeconfig
        return found

    @property
    def rejection(self) -> Rejection | None:
        return self.meaning.rejection if self.error else None

    @property
    def essential(self) -> str:
        return essential_error(self.error) if self.error else shorten(self.record.msg)


def _secret_label(rec: LogRecord) -> str | None:
    return rec.labels.get("secret") or rec.labels.get("config")


_LIST = r"[Ff]ailed to (?:list|watch) \S+: "
_PATTERNS: tuple[tuple[EventKind, re.Pattern], ...] = tuple(
    (kind, re.compile(pattern, re.S)) for kind, pattern in (
        ("watch_error", r"^watch error in cluster (?P<cluster>\S+?): (?P<error>.+)"),
        # klog printf form: `<path>.go:N: Failed to watch T: ...`, also behind klog's own
        # `E0102 ... reflector.go:N] ` header and inside its `err="..."` value
        ("list_error", rf"(?:^|[\s\"])[\w@.+/-]*\.go:\d+\]?:? (?P<error>{_LIST}.+?)"
                       rf"(?:: Unhandled Error)?\"?$"),
        ("list_error", r"(?:^|\] )(?P<error>(?:Failed to (?:list|watch)|failed to list) \S+: .+)"),
        # client-go >= 0.33 through istiod's klog bridge: `<err>: Failed to watch`
        ("list_error", r"^(?P<error>.+): Failed to watch$"),
        ("list_error", r"^(?P<error>failed to list CRDs: .+)"),
        ("create_failed", r"^(?:Add|Update) cluster: create remote cluster failed: (?P<error>.+)"),
        ("create_failed", r"^(?:Adding|Updating) cluster_id=(?P<cluster>\S+) from "
                          r"secret=(?P<secret>\S+?): (?P<error>.+)"),
        ("create_failed", r"^Failed to add remote cluster from secret=(?P<secret>\S+) "
                          r"for cluster_id=(?P<cluster>\S+?): (?P<error>.+)"),
        ("create_failed", r"error adding (?:secret|remote config) (?P<secret>\S+?): (?P<error>.+)"),
        ("sync_timeout", r"^remote cluster (?P<cluster>\S+) failed to sync after \S+"),
        ("sync_timeout", r"^remote clusters failed to sync after \S+"),
        ("omitted", r"^remote cluster (?P<cluster>\S+) is (?P<error>closed or timed out|closed"
                    r"|timed out), omitting it from the clusters collection"),
        ("sync_failed", r"^remote cluster (?P<cluster>\S+) failed to sync"
                        r"(?: handler| KRT collection .*)?$"),
        ("sync_failed", r"^Timed out waiting for cluster (?P<cluster>\S+) to sync"),
        ("no_client", r"KubeJWTAuthenticator(?: at index \d+ got error)?: could not get cluster "
                      r"(?P<cluster>.+?)'s kube client"),
        ("added", r"^(?:Add|Update) cluster$"),
        ("added", r"^(?:Adding|Updating) cluster_id=(?P<cluster>\S+) from secret=(?P<secret>\S+)$"),
        ("deleted", r"^Deleting cluster_id=(?P<cluster>\S+) configured by secret=(?P<secret>\S+)"),
    ))
# Every pattern above needs one of these words (tests/test_istiod_logs.py): a line without any
# is no event, without a search per pattern (a big mesh's log is thousands of push lines).
EVENT_WORDS = ("cluster", "ailed to", "error adding")
# Lines whose text matches a pattern above but that are not about reading a cluster.
_NOT_EVENTS = re.compile(r"error retrieving resource lock|Trace\[\d+\]")
_SYNCED_NAME = re.compile(r"cluster\[(?P<cluster>[^\]]+)\]")
_INLINE_LABEL = re.compile(r"\b(?P<key>cluster|secret|config)=(?P<value>\S+)")


def _text(rec: LogRecord) -> str:
    """The message, with client-go's structured `err=` value where klog printed one."""
    if "err" in rec.labels:  # klog's own text form: `Unhandled Error err="...reflector.go:N: ..."`
        return f"{rec.msg} {rec.labels['err'].strip(chr(34))}"
    return rec.msg


def _inline_labels(rec: LogRecord, text: str) -> dict[str, str]:
    """Labels, also where a single-space paste left them inside the message."""
    if rec.labels:
        return rec.labels
    return {m.group("key"): m.group("value") for m in _INLINE_LABEL.finditer(text)}


def _event(rec: LogRecord) -> ClusterEvent | None:
    if rec.msg == "sync complete":
        m = _SYNCED_NAME.search(rec.labels.get("name", ""))
        return ClusterEvent("synced", rec, m.group("cluster")) if m else None
    text = _text(rec)
    if not any(word in text for word in EVENT_WORDS) or _NOT_EVENTS.search(text):
        return None
    labels = _inline_labels(rec, text)
    bare = text if rec.labels else _INLINE_LABEL.sub("", text).rstrip()
    for kind, pattern in _PATTERNS:
        m = pattern.search(text) or (bare != text and pattern.search(bare))
        if m:
            groups = m.groupdict()
            cluster = groups.get("cluster") or labels.get("cluster")
            secret = groups.get("secret") or labels.get("secret") or labels.get("config")
            error = groups.get("error")
            if kind == "omitted":
                error = None if error is None else f"cluster is {error}"
            return ClusterEvent(kind, rec, cluster, secret, error)
    return None


def cluster_events(records: Iterable[LogRecord]) -> list[ClusterEvent]:
    """The secret-controller and informer events among `records`, in log order."""
    return [e for e in map(_event, records) if e is not None]


def log_cluster_events(text: str) -> list[ClusterEvent]:
    """cluster_events of a log's text. A log without any event word (the last 5,000 lines of
    a big mesh's istiod are pushes) has none: it is not framed line by line to learn that."""
    if not any(word in text for word in EVENT_WORDS):
        return []
    return cluster_events(parse_log(text))


# -------------------------------------------------------------------------------- attribution

_URL_HOST = re.compile(r'https?://(?P<host>\[[^\]]+\]|[^/:"\s]+)(?::(?P<port>\d+))?')
_DIAL = re.compile(r"dial tcp (?P<host>\[[^\]]+\]|[^\s:]+):(?P<port>\d+)")


def servers_named(text: str) -> set[tuple[str, int]]:
    """Every `(host, port)` an error text names: request URLs and dial targets."""
    out = set()
    for m in _URL_HOST.finditer(text):
        default = 443 if m.group(0).startswith("https") else 80
        out.add((m.group("host").strip("[]"), int(m.group("port") or default)))
    out |= {(m.group("host").strip("[]"), int(m.group("port"))) for m in _DIAL.finditer(text)}
    return out


def _mentions_server(text: str, host: str, port: int) -> bool:
    """Whether an error text concerns `host:port` (request URL or dial target)."""
    return (host.strip("[]"), port) in servers_named(text)


def _same_secret(named: str | None, secret: str | None) -> bool:
    """`ns/name` as 1.16+ logs it, or the bare name older wordings and clusterz used."""
    if not named or not secret:
        return False
    return named == secret or named == secret.rsplit("/", 1)[-1]


def _anonymous_remote(e: ClusterEvent) -> bool:
    """A list failure naming no server but the reader identity only remote secrets use."""
    return (e.kind == "list_error" and e.error is not None and not servers_named(e.error)
            and e.meaning.remote_reader is True)


def events_for(events: list[ClusterEvent], cluster: str, secret: str | None = None,
               server: tuple[str, int] | None = None,
               anonymous: bool = False) -> list[ClusterEvent]:
    """Events about `cluster`: named by id, by its secret (queue errors), or, for client-go
    lines that name no cluster, by its API server `(host, port)`; plus the legacy global sync
    timeout. With `anonymous` (the caller knows `cluster` is the only remote cluster these
    lines can be about), also the lines that name no server but the remote reader identity."""
    out = []
    for e in events:
        if e.cluster is not None:
            if e.cluster == cluster:
                out.append(e)
        elif e.kind == "sync_timeout":
            out.append(e)
        elif _same_secret(e.secret, secret):
            out.append(e)
        elif e.kind == "list_error" and server and e.error and _mentions_server(e.error, *server):
            out.append(e)
        elif anonymous and _anonymous_remote(e):
            out.append(e)
    return out


def anonymous_remote_failures(events: list[ClusterEvent]) -> bool:
    """Whether the log holds list failures that only the reader identity ties to a remote."""
    return any(_anonymous_remote(e) for e in events)


# ------------------------------------------------------------------------------ cluster state


def current(events: list[ClusterEvent]) -> list[ClusterEvent]:
    """The events since the cluster was last added, synced or deleted (older ones are history)."""
    last = max((i for i, e in enumerate(events) if e.kind in RESET_KINDS), default=-1)
    return events[last + 1:]


def decisive(events: list[ClusterEvent]) -> ClusterEvent | None:
    """The event that best shows why the cluster is not read.

    istiod retries, so the latest cause is the current one; among the lines naming it, one that
    names the cluster (`watch error in cluster X`, `create remote cluster failed`) reads better
    than client-go's or the work queue's echo of the same error.
    """
    latest = next((e for e in reversed(events) if e.cause in SPECIFIC_CAUSES), None)
    if latest is None:
        return None
    named = [e for e in events if e.cause == latest.cause and e.cluster is not None]
    return named[-1] if named else latest


FAILURE_KINDS = frozenset({"watch_error", "list_error", "create_failed", "sync_timeout",
                           "sync_failed", "omitted", "no_client"})


def failures(events: list[ClusterEvent]) -> list[ClusterEvent]:
    """The current events that show the cluster is not read."""
    return [e for e in current(events) if e.kind in FAILURE_KINDS]


def sync_status_from_log(events: list[ClusterEvent]) -> str | None:
    """A clusterz-like status read from a cluster's log events, for istiods without clusterz.

    `absent` when istiod refused the kubeconfig, dropped the cluster or has no client for it,
    `timeout` after a sync timeout, `closed` when it omitted a closed cluster, `syncing` while
    lists fail, `synced` after a completed sync; None when the log says nothing about it.
    """
    now = current(events)
    kinds = {e.kind for e in now}
    if kinds & {"create_failed", "no_client"}:
        return "absent"
    if "sync_timeout" in kinds or any(e.kind == "omitted" and "timed out" in (e.error or "")
                                      for e in now):
        return "timeout"
    if "omitted" in kinds:
        return "closed"
    if kinds & FAILURE_KINDS:
        return "syncing"
    resets = [e.kind for e in events if e.kind in RESET_KINDS]
    if resets and resets[-1] == "synced":
        return "synced"
    if resets and resets[-1] == "deleted":
        return "absent"
    return None
