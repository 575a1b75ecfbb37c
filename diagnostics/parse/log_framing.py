"""istiod's log lines as they reach meshbot, however they were framed on the way.

istiod writes `time TAB level TAB [scope TAB] message [TAB k=v ...]`, or with `--log_as_json`
one JSON object per line (`time`, `level`, `scope`, `msg`, one key per label; the Stackdriver
encoder says `timestamp`, `severity`, `logger`, `message`). By the time a person or a tool hands
the log over it has often been reframed (docs/istiod-log-versions.md, tests/fixtures/istiod-logs):

- the container runtime's own format, `<RFC 3339> stdout|stderr F|P <line>` (CRI; `P` is a
  partial line continued by the next), or Docker's `{"log": "...", "stream": ..., "time": ...}`;
- a prefix naming the pod: `kubectl logs --prefix` (`[pod/istiod-x/discovery] `), aggregators
  and UIs (`istio-system/istiod-x[discovery]: `, `<date> | `);
- TABs turned into runs of spaces by a terminal or an issue tracker, or into one space;
- lines pasted without their timestamp (`error    ads    Failed to ...`).

All of it is undone here, so that every record has the same five fields whatever the framing.
A go-multierror spreads one record over several lines; lines that start no record continue the
previous one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

LEVELS = frozenset({"debug", "info", "warn", "warning", "error", "fatal"})
#: Scopes istiod registers (pkg/log RegisterScope across 1.1-1.31): where a line lost its TABs,
#: a word is taken for the scope only when it is one of these.
KNOWN_SCOPES = frozenset({
    "ads", "adsc", "analysis", "authn", "authorization", "ca", "cache", "citadelclient",
    "controllers", "controlleruntime", "delta", "deltaadsc", "dns", "endpoint", "epp", "file",
    "forwarder", "fullpush", "galley", "gateway", "gatewaycommon", "grpcgen", "hbone",
    "healthcheck", "ip-autoallocate", "k8sController", "klog", "krt", "kube", "mcp", "model",
    "monitoring", "pkica", "pkira", "processing", "retry", "rootcertrotator", "sds",
    "secretcontroller", "security", "server", "serverca", "serviceentry", "spiffe", "status",
    "tag-watcher", "trustBundle", "validation", "validationController", "validationServer",
    "wasm", "wle", "xdsproxy",
})
_JSON_SKIP = frozenset({"time", "timestamp", "level", "severity", "scope", "logger", "msg",
                        "message", "caller", "stack", "stacktrace"})

_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_LEVEL = r"(?:debug|info|warn|warning|error|fatal)"
_RECORD = re.compile(rf"^(?P<time>{_TS})(?P<sep>\t| +)(?P<level>{_LEVEL})(?:\t| +|$)(?P<rest>.*)",
                     re.S)
_BARE = re.compile(rf"^(?P<level>{_LEVEL})(?:\t| {{2,}})(?P<rest>\S.*)", re.S)
# A record further into the line, after some prefix ending in a separator (pod names, UI dates).
_EMBEDDED = re.compile(rf"(?:^|(?<=[\s|:\]]))(?={_TS}(?:\t| +){_LEVEL}(?:\t| |$))")
_MAX_PREFIX = 160
_CRI = re.compile(rf"^{_TS} (?:stdout|stderr) (?P<tag>[FP])(?: (?P<line>.*))?$", re.S)
_KUBECTL_PREFIX = re.compile(r"^\[pod/[^/\]\s]+/[^\]\s]+\] ")
_SCOPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_LABELS = re.compile(r"^[A-Za-z_][\w./-]*=\S*")
_LABEL_SPLIT = re.compile(r"\s+(?=[A-Za-z_][\w./-]*=)")
_WIDE = re.compile(r" {2,}")


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


# ---------------------------------------------------------------------------- runtime framing


def _docker_json(line: str) -> str | None:
    """The line inside Docker's json-file framing, or None when it is not that."""
    if not line.startswith('{"log":'):
        return None
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return str(doc.get("log", "")).rstrip("\n") if isinstance(doc, dict) else None


def unframe(lines: list[str]) -> list[str]:
    """The container's own lines: CRI and Docker framing removed, CRI partial lines joined,
    and `kubectl logs --prefix` dropped."""
    out: list[str] = []
    partial = ""
    for raw in lines:
        line = raw.rstrip("\r")
        inner = _docker_json(line)
        if inner is not None:
            line = inner
        cri = _CRI.match(line)
        if cri:
            text = cri.group("line") or ""
            if cri.group("tag") == "P":
                partial += text
                continue
            line, partial = partial + text, ""
        out.append(_KUBECTL_PREFIX.sub("", line, count=1))
    if partial:
        out.append(partial)
    return out


# ------------------------------------------------------------------------------- one record


def _json_record(line: str, number: int) -> LogRecord | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not ({"msg", "message"} & doc.keys()):
        return None
    labels = {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()
              if k not in _JSON_SKIP}
    level = str(doc.get("level") or doc.get("severity") or "").lower()
    return LogRecord(str(doc.get("time") or doc.get("timestamp") or ""), level,
                     str(doc.get("scope") or doc.get("logger") or ""),
                     str(doc.get("msg", doc.get("message"))), labels, number)


def _tab_fields(time: str, level: str, rest: str, number: int) -> LogRecord:
    """`[scope TAB] msg [TAB labels]`: the scope is omitted for the default scope."""
    fields = rest.split("\t")
    labels: dict[str, str] = {}
    if len(fields) >= 2 and _LABELS.match(fields[-1]) and not _LABELS.match(fields[-2]):
        labels = parse_labels(fields.pop())
    scope = fields.pop(0) if len(fields) >= 2 and _SCOPE.match(fields[0]) else ""
    return LogRecord(time, level, scope, "\t".join(fields), labels, number)


def _space_fields(time: str, level: str, rest: str, number: int) -> LogRecord:
    """The same fields where TABs became spaces: a scope is a known scope name, labels are the
    last run of `k=v` words after a wide gap."""
    parts = _WIDE.split(rest)
    labels: dict[str, str] = {}
    if len(parts) >= 2 and _LABELS.match(parts[-1]) and not _LABELS.match(parts[-2]):
        labels = parse_labels(parts.pop())
    text = "  ".join(parts)
    head, _, tail = text.partition(" ")
    scope = ""
    if head in KNOWN_SCOPES and tail:
        scope, text = head, tail.lstrip()
    return LogRecord(time, level, scope, text, labels, number)


def _text_record(line: str, number: int) -> LogRecord | None:
    match = _RECORD.match(line)
    if match is None:
        bare = _BARE.match(line)  # pasted without its timestamp
        if bare is None:
            return None
        time, level, sep, rest = "", bare.group("level"), line[len(bare.group("level"))], \
            bare.group("rest")
    else:
        time, level, sep, rest = (match.group("time"), match.group("level"), match.group("sep"),
                                  match.group("rest"))
    if "\t" in sep or ("\t" in rest and not rest.startswith(" ")):
        return _tab_fields(time, level, rest, number)
    return _space_fields(time, level, rest.lstrip(" "), number)


def record_of(line: str, number: int) -> LogRecord | None:
    """The record a line starts, after any prefix before its timestamp; None for a line that
    starts none (a continuation, or not a log line)."""
    stripped = line.strip()
    if stripped.startswith("{"):
        return _json_record(stripped, number)
    record = _text_record(line, number)
    if record is not None:
        return record
    found = _EMBEDDED.search(line, 0, _MAX_PREFIX)
    if found and found.start() > 0:
        return _text_record(line[found.start():], number)
    brace = line.find("{", 0, _MAX_PREFIX)
    if brace > 0 and line[:brace].rstrip().endswith((":", "|", "]")):
        return _json_record(line[brace:].strip(), number)
    return None


# ---------------------------------------------------------------------------------- a whole log


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
    """Every record of a log in any of the framings above; lines before the first record and
    lines that fit no layout are skipped."""
    records: list[LogRecord] = []
    pending: list[str] = []
    for number, line in enumerate(unframe(text.splitlines()), start=1):
        record = record_of(line, number)
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
