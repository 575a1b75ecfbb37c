"""Envoy access-log lines out of an `istio-proxy` container log.

Istio's default TEXT format (meshConfig.accessLogFile, accessLogEncoding TEXT) is

    [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
    %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
    "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
    %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
    "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
    %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
    %REQUESTED_SERVER_NAME% %ROUTE_NAME%

Older releases had an extra quoted field (mixer status) before the transport failure reason, TCP
connections print `"- - -"` as the request, and JSON encoding prints an object per line. So the
parser anchors on what is stable: the bracketed time first, then code and flags, and the upstream
host as the *last* quoted field, followed by the upstream cluster. Agent lines (tab-separated
istio log lines) in the same container log are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

# Response flags meaning the upstream could not be reached: connection failure, retries (or
# connect attempts) exhausted, no healthy upstream.
CONNECT_FAILURE_FLAGS = frozenset({"UF", "URX", "UH"})
_TOKEN = re.compile(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+')
_INT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class AccessLogEntry:
    """One request or connection as the client's Envoy logged it."""

    start: str
    request: str  # "GET /hello HTTP/1.1" or "- - -" for TCP
    code: int | None
    flags: tuple[str, ...]
    details: str
    transport_failure: str
    duration_ms: int | None
    authority: str
    upstream_host: str
    upstream_cluster: str
    line: str
    downstream_local: str = ""  # the address the client connected to (VIP or pod IP : port)
    downstream_remote: str = ""  # the client's address

    @property
    def failed_to_connect(self) -> bool:
        """The upstream could not be reached (flag UF/URX/UH or a transport/TLS failure)."""
        return bool(CONNECT_FAILURE_FLAGS & set(self.flags)) or bool(self.transport_failure)

    @property
    def failure(self) -> str:
        """What went wrong, as the log says it: code, flags, details, transport failure."""
        parts = [str(self.code) if self.code is not None else "", ",".join(self.flags),
                 self.details if self.details not in ("", "-") else "", self.transport_failure]
        return " ".join(p for p in parts if p)

    def short(self, limit: int = 220) -> str:
        """The decisive fields of the line, for evidence: time, request, outcome, upstream."""
        text = (f"[{self.start}] \"{self.request}\" {self.failure or self.code} "
                f"\"{self.upstream_host}\" {self.upstream_cluster}")
        return text if len(text) <= limit else text[:limit - 1] + "…"


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


def _dash(value: str) -> str:
    return "" if value == "-" else value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flags(raw: str) -> tuple[str, ...]:
    return tuple(f for f in re.split(r"[,\s]+", raw or "") if f and f != "-")


def _text_entry(line: str) -> AccessLogEntry | None:
    tokens = _TOKEN.findall(line)
    if len(tokens) < 5 or not tokens[0].startswith("[") or not tokens[1].startswith('"'):
        return None
    if not _INT.match(tokens[2]):
        return None
    quoted = [i for i, t in enumerate(tokens) if t.startswith('"')]
    host_at = quoted[-1]
    # Between the flags and the first run of integers: details, then quoted failure reason(s).
    rest = tokens[4:host_at]
    ints_at = next((i for i in range(len(rest) - 2)
                    if all(_INT.match(t) for t in rest[i:i + 3])), None)
    head = rest[:ints_at] if ints_at is not None else rest
    details = next((t for t in head if not t.startswith('"')), "")
    reasons = [_dash(_unquote(t)) for t in head if t.startswith('"')]
    duration = _int_or_none(rest[ints_at + 2]) if ints_at is not None else None
    authority = _dash(_unquote(tokens[quoted[-2]])) if len(quoted) >= 3 else ""
    cluster = tokens[host_at + 1] if host_at + 1 < len(tokens) else ""
    after = [_dash(t) for t in tokens[host_at + 2:host_at + 5]] + ["", "", ""]
    return AccessLogEntry(
        start=tokens[0][1:-1], request=_unquote(tokens[1]), code=_int_or_none(tokens[2]),
        flags=_flags(tokens[3]), details=_dash(details),
        transport_failure=reasons[-1] if reasons else "", duration_ms=duration,
        authority=authority, upstream_host=_dash(_unquote(tokens[host_at])),
        upstream_cluster=_dash(cluster), line=line, downstream_local=after[1],
        downstream_remote=after[2])


def _json_entry(line: str) -> AccessLogEntry | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not ({"response_flags", "upstream_host"} & set(obj)):
        return None
    get = lambda k: _dash(str(obj.get(k) if obj.get(k) is not None else ""))  # noqa: E731
    request = " ".join(x for x in (get("method"), get("path"), get("protocol")) if x) or "- - -"
    return AccessLogEntry(
        start=get("start_time"), request=request, code=_int_or_none(obj.get("response_code")),
        flags=_flags(get("response_flags")), details=get("response_code_details"),
        transport_failure=get("upstream_transport_failure_reason"),
        duration_ms=_int_or_none(obj.get("duration")), authority=get("authority"),
        upstream_host=get("upstream_host"), upstream_cluster=get("upstream_cluster"), line=line,
        downstream_local=get("downstream_local_address"),
        downstream_remote=get("downstream_remote_address"))


def parse_line(line: str) -> AccessLogEntry | None:
    """An access-log entry, or None for anything else (agent log lines, blank lines)."""
    text = line.strip()
    if text.startswith("{"):
        return _json_entry(text)
    if text.startswith("["):
        return _text_entry(text)
    return None


def parse_access_log(text: str | None) -> Iterator[AccessLogEntry]:
    """Every access-log entry of a container log, in order."""
    for line in (text or "").splitlines():
        entry = parse_line(line)
        if entry is not None:
            yield entry
