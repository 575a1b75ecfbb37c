"""istiod's `discovery` log: records, the secret controller's events, and what their errors mean.

istiod writes `time TAB level TAB [scope TAB] message [TAB labels]` (labels are `k=v k=v`,
appended after a TAB since 1.16), or one JSON object per line with `--log_as_json`. A
go-multierror spreads one record over several lines. What a remote cluster's failure looks
like changed across releases (docs/istio-surface.md §3.3, §3.4, §8), so every wording is
matched here, and each error text is reduced to one cause:

- `watch error in cluster X: ...` (1.10+) and client-go's `reflector.go:N: failed to list ...`
  (klog scope; names no cluster, only the API server URL) for every list/watch failure;
- `Add cluster: create remote cluster failed: ...` with `cluster=` labels (1.16+),
  `Adding cluster_id=X from secret=Y: ...` (1.9-1.15), `Failed to add remote cluster from
  secret=Y for cluster_id=X: ...` (<= 1.8), and the queue's `error adding secret|remote config`;
- `remote cluster X failed to sync after D` (1.15+), `remote clusters failed to sync after D`
  (1.10-1.14, one global timeout).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal

Cause = Literal["unreachable", "dns", "tls", "unauthorized", "kubeconfig", "timeout"]
#: Causes that name why a cluster cannot be read; "timeout" only says that it was not.
SPECIFIC_CAUSES: tuple[Cause, ...] = ("kubeconfig", "dns", "tls", "unauthorized", "unreachable")

_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_SCOPE = re.compile(r"^[a-z][a-z0-9_.-]*$")
_LABELS = re.compile(r"^[A-Za-z_][\w./-]*=\S*")
_LABEL_SPLIT = re.compile(r"\s+(?=[A-Za-z_][\w./-]*=)")
_LEVELS = frozenset({"debug", "info", "warn", "warning", "error", "fatal"})
_JSON_KEYS = frozenset({"time", "level", "scope", "msg", "caller", "stack"})


@dataclass(frozen=True)
class LogRecord:
    """One log record (possibly spanning several lines)."""

    time: str
    level: str
    scope: str
    msg: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    line: int = 0  # 1-based line number of the record's first line


def parse_labels(text: str) -> dict[str, str]:
    """`cluster=c2 secret=ns/name controller=multicluster secret`: values may contain spaces."""
    out = {}
    for part in _LABEL_SPLIT.split(text.strip()):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value
    return out


def _json_record(line: str, number: int) -> LogRecord | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "msg" not in doc:
        return None
    labels = {k: str(v) for k, v in doc.items() if k not in _JSON_KEYS}
    return LogRecord(str(doc.get("time", "")), str(doc.get("level", "")),
                     str(doc.get("scope", "") or ""), str(doc["msg"]), labels, number)


def _text_record(line: str, number: int) -> LogRecord | None:
    """`time TAB level TAB [scope TAB] msg [TAB labels]`; the scope is omitted for `default`."""
    fields = line.split("\t")
    if len(fields) < 3 or fields[1] not in _LEVELS:
        return None
    time, level, rest = fields[0], fields[1], fields[2:]
    labels: dict[str, str] = {}
    if len(rest) >= 2 and _LABELS.match(rest[-1]) and not _LABELS.match(rest[-2]):
        labels = parse_labels(rest.pop())
    if len(rest) >= 2 and _SCOPE.match(rest[0]):
        scope = rest.pop(0)
    else:
        scope = ""
    return LogRecord(time, level, scope, "\t".join(rest), labels, number)


def _continue(record: LogRecord, lines: list[str]) -> LogRecord:
    """Append continuation lines (a multierror's body); a trailing `TAB k=v` line is labels."""
    while lines and not lines[-1].strip():
        lines.pop()
    labels = dict(record.labels)
    if lines and lines[-1].startswith("\t") and _LABELS.match(lines[-1].strip()):
        labels.update(parse_labels(lines.pop()))
    msg = "\n".join([record.msg, *lines]).rstrip()
    return LogRecord(record.time, record.level, record.scope, msg, labels, record.line)


def parse_log(text: str) -> list[LogRecord]:
    """Every record of a log in the text or JSON layout; lines that fit neither are skipped."""
    records: list[LogRecord] = []
    pending: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        record = None
        if stripped.startswith("{"):
            record = _json_record(stripped, number)
        elif _TIME.match(line):
            record = _text_record(line, number)
        if record is None:
            if records:
                pending.append(line)
            continue
        if pending:
            records[-1] = _continue(records[-1], pending)
            pending = []
        records.append(record)
    if pending and records:
        records[-1] = _continue(records[-1], pending)
    return records


# ---------------------------------------------------------------------------- classification

_KUBECONFIG = re.compile(r"kubeconfig (?:is empty|cannot be loaded|is not valid|is not allowed)"
                         r"|\b(?:exec|clientKey|clientCertificate|tokenFile) is not allowed"
                         r"|auth provider \S+ is not allowed|failed to create kube clients")
_DNS = re.compile(r"\blookup \S+|no such host|server misbehaving"
                  r"|[Tt]emporary failure in name resolution")
_TLS = re.compile(r"x509: |tls: failed to verify certificate|certificate is valid for"
                  r"|certificate signed by unknown authority")
_UNAUTHORIZED = re.compile(r"\bUnauthorized\b|\bis forbidden\b|\bforbidden:"
                           r"|provide credentials")
_UNREACHABLE = re.compile(r"i/o timeout|connection refused|no route to host"
                          r"|network is unreachable|connection timed out|connection reset by peer"
                          r"|Client\.Timeout exceeded|TLS handshake timeout")
_SYNC_TIMEOUT = re.compile(r"failed to sync after")

_RULES: tuple[tuple[Cause, re.Pattern], ...] = (
    ("kubeconfig", _KUBECONFIG), ("dns", _DNS), ("tls", _TLS), ("unauthorized", _UNAUTHORIZED),
    ("unreachable", _UNREACHABLE), ("timeout", _SYNC_TIMEOUT))


def classify_error(text: str) -> Cause | None:
    """The cause an error text names, most specific first (a DNS lookup that times out is DNS)."""
    for cause, pattern in _RULES:
        if pattern.search(text):
            return cause
    return None


_MULTIERROR = re.compile(r"\d+ errors? occurred:\s*\n\s*\*\s*(?P<first>.+)")
_FAILED_LIST = re.compile(r"^(?:[Ff]ailed to (?:list|watch) \S+: )+")
_REQUEST = re.compile(r'^(?:Get|Post|Put|Patch|Delete|Head) "[^"]*": ')


def essential_error(text: str) -> str:
    """The decisive part of an error: no multierror wrapper, list prefix or request URL."""
    text = text.strip()
    if m := _MULTIERROR.search(text):
        text = m.group("first").strip()
    text = _FAILED_LIST.sub("", text)
    return _REQUEST.sub("", text).strip()


_URL = re.compile(r'(https?://[^/"\s]+)/[^"\s]*')


def shorten(text: str, limit: int = 220) -> str:
    """One line of at most `limit` characters: URLs keep only scheme, host and port, and an
    overlong line loses its middle, since the decisive error is at the end."""
    one = " ".join(_URL.sub(r"\1/…", text).split())
    if len(one) <= limit:
        return one
    head = limit // 3
    return one[:head] + " … " + one[-(limit - head - 3):]


# --------------------------------------------------------------------- secret-controller events

EventKind = Literal["added", "synced", "deleted", "watch_error", "list_error", "create_failed",
                    "sync_timeout", "sync_failed"]
#: Events after which earlier failures of the cluster no longer describe its current state.
RESET_KINDS = frozenset({"added", "synced", "deleted"})


@dataclass(frozen=True)
class ClusterEvent:
    """A secret-controller or informer event about a remote cluster."""

    kind: EventKind
    record: LogRecord
    cluster: str | None = None  # None: the line names no cluster (klog, queue, legacy timeout)
    secret: str | None = None  # "<namespace>/<name>" when the line names it
    error: str | None = None  # the error text as logged

    @property
    def cause(self) -> Cause | None:
        if self.kind == "sync_timeout":
            return "timeout"
        if self.error is None:
            return None
        found = classify_error(self.error)
        if found is None and self.kind == "create_failed":
            return "kubeconfig"  # istiod could not build a client from the kubeconfig
        return found

    @property
    def essential(self) -> str:
        return essential_error(self.error) if self.error else shorten(self.record.msg)


def _secret_label(rec: LogRecord) -> str | None:
    return rec.labels.get("secret") or rec.labels.get("config")


_PATTERNS: tuple[tuple[EventKind, re.Pattern], ...] = (
    ("watch_error", re.compile(r"^watch error in cluster (?P<cluster>\S+?): (?P<error>.+)", re.S)),
    ("list_error", re.compile(r"reflector\.go:\d+\]?:? (?P<error>[Ff]ailed to (?:list|watch) .+)",
                              re.S)),
    ("create_failed", re.compile(r"^(?:Add|Update) cluster: create remote cluster failed: "
                                 r"(?P<error>.+)", re.S)),
    ("create_failed", re.compile(r"^(?:Adding|Updating) cluster_id=(?P<cluster>\S+) from "
                                 r"secret=(?P<secret>\S+?): (?P<error>.+)", re.S)),
    ("create_failed", re.compile(r"^Failed to add remote cluster from secret=(?P<secret>\S+) "
                                 r"for cluster_id=(?P<cluster>\S+?): (?P<error>.+)", re.S)),
    ("create_failed", re.compile(r"error adding (?:secret|remote config) (?P<secret>\S+?): "
                                 r"(?P<error>.+)", re.S)),
    ("sync_timeout", re.compile(r"^remote cluster (?P<cluster>\S+) failed to sync after \S+")),
    ("sync_timeout", re.compile(r"^remote clusters failed to sync after \S+")),
    ("sync_failed", re.compile(r"^remote cluster (?P<cluster>\S+) failed to sync$")),
    ("added", re.compile(r"^(?:Add|Update) cluster$")),
    ("added", re.compile(r"^(?:Adding|Updating) cluster_id=(?P<cluster>\S+) from "
                         r"secret=(?P<secret>\S+)$")),
    ("deleted", re.compile(r"^Deleting cluster_id=(?P<cluster>\S+) configured by "
                           r"secret=(?P<secret>\S+)")),
)
_SYNCED_NAME = re.compile(r"cluster\[(?P<cluster>[^\]]+)\]")


def _event(rec: LogRecord) -> ClusterEvent | None:
    if rec.msg == "sync complete":
        m = _SYNCED_NAME.search(rec.labels.get("name", ""))
        return ClusterEvent("synced", rec, m.group("cluster")) if m else None
    text = rec.msg
    if "err" in rec.labels:  # newer client-go: `Unhandled Error err="...reflector.go:N: ..."`
        text = f"{text} {rec.labels['err'].strip(chr(34))}"
    for kind, pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            groups = m.groupdict()
            cluster = groups.get("cluster") or rec.labels.get("cluster")
            secret = groups.get("secret") or _secret_label(rec)
            return ClusterEvent(kind, rec, cluster, secret, groups.get("error"))
    return None


def cluster_events(records: Iterable[LogRecord]) -> list[ClusterEvent]:
    """The secret-controller and informer events among `records`, in log order."""
    return [e for e in map(_event, records) if e is not None]


def _mentions_server(text: str, host: str, port: int) -> bool:
    """Whether an error text concerns `host:port` (request URL or dial target)."""
    bracketed = f"[{host}]" if ":" in host else host
    targets = {f"{bracketed}:{port}"}
    if port == 443:
        targets.add(f"//{bracketed}/")
    return any(t in text for t in targets)


def events_for(events: list[ClusterEvent], cluster: str, secret: str | None = None,
               server: tuple[str, int] | None = None) -> list[ClusterEvent]:
    """Events about `cluster`: named by id, by its secret (queue errors), or, for client-go
    lines that name no cluster, by its API server `(host, port)`; plus the legacy global
    sync timeout."""
    out = []
    for e in events:
        if e.cluster is not None:
            if e.cluster == cluster:
                out.append(e)
        elif e.kind == "sync_timeout":
            out.append(e)
        elif secret and e.secret == secret:
            out.append(e)
        elif e.kind == "list_error" and server and e.error and _mentions_server(e.error, *server):
            out.append(e)
    return out


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


_FAILURE_KINDS = frozenset({"watch_error", "list_error", "create_failed", "sync_timeout",
                            "sync_failed"})


def sync_status_from_log(events: list[ClusterEvent]) -> str | None:
    """A clusterz-like status read from a cluster's log events, for istiods without clusterz.

    `absent` when istiod refused the kubeconfig or dropped the cluster, `timeout` after a sync
    timeout, `syncing` while lists fail, `synced` after a completed sync; None when the log
    says nothing about the cluster.
    """
    now = current(events)
    kinds = {e.kind for e in now}
    if "create_failed" in kinds:
        return "absent"
    if "sync_timeout" in kinds:
        return "timeout"
    if kinds & _FAILURE_KINDS:
        return "syncing"
    resets = [e.kind for e in events if e.kind in RESET_KINDS]
    if resets and resets[-1] == "synced":
        return "synced"
    if resets and resets[-1] == "deleted":
        return "absent"
    return None
