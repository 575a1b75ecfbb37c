"""Alertmanager webhook notifications (payload version 4), parsed leniently.

Field sets differ by Alertmanager version (`notification_reason` since 0.32, `routeLabels` since
0.34); unknown keys are ignored and missing optional ones defaulted. What identifies a
notification for idempotency is its group key plus each alert's fingerprint, status and times,
because Alertmanager repeats groups and HA peers may both deliver the same one.

Size: Alertmanager does not retry a 4xx, so a large group must not be refused. A body of up to
FULL_BODY is parsed in full (its first MAX_ALERTS alerts kept, the rest counted); a larger one
is read as a stream, in constant memory, up to MAX_BODY, and becomes a summary: the group's
labels from the body's first and last bytes (Alertmanager writes the alerts between them) and
the number of firing and resolved alerts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
ZERO_TIME = "0001-01-01T00:00:00Z"
MIB = 1024 * 1024
FULL_BODY = 16 * MIB  # parsed in full: about 15,000 alerts as Alertmanager writes them
MAX_ALERTS = 20_000  # alerts kept from one notification; the rest are counted
MAX_BODY = 256 * MIB  # read (streamed) for a summary; what comes after is not read
_HEAD, _TAIL = 64 * 1024, 1 * MIB  # bytes of an oversized body kept for its labels
_ALERT_STATUS = re.compile(rb'\{\s*"status"\s*:\s*"(firing|resolved)"')
_ALERTS_KEY = re.compile(rb'"alerts"\s*:\s*\[')
_AFTER_ALERTS = re.compile(rb'\]\s*,\s*"')


class AlertPayloadError(ValueError):
    """The body is not an Alertmanager notification; the message says why (answered 400)."""


@dataclass(frozen=True)
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    fingerprint: str

    @property
    def firing(self) -> bool:
        return self.status == FIRING


@dataclass(frozen=True)
class Notification:
    status: str
    alerts: tuple[Alert, ...]
    group_key: str
    receiver: str = ""
    group_labels: dict[str, str] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    reason: str = ""
    truncated: int = 0  # alerts of the group not in `alerts` (max_alerts, MAX_ALERTS, summary)
    summary_of: tuple[int, int, int] | None = None  # oversized: (bytes, firing, resolved)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.firing]

    @property
    def firing_count(self) -> int:
        if self.summary_of is not None:
            return self.summary_of[1]
        return len(self.firing)

    @property
    def incomplete(self) -> str:
        """What of the group meshbot did not read one by one, as a sentence; "" when all."""
        if self.summary_of is not None:
            size, firing, resolved = self.summary_of
            return (f"Alertmanager sent {size / MIB:.0f} MiB ({firing} firing and {resolved} "
                    f"resolved alerts): more than meshbot reads one by one ({FULL_BODY // MIB} "
                    "MiB), so it works from the group's labels.")
        if self.truncated:
            return (f"{self.truncated} more alerts of this group are not listed (Alertmanager's "
                    f"max_alerts, or more than the {MAX_ALERTS} meshbot reads).")
        return ""

    @property
    def identity(self) -> str:
        """The same content delivered twice (an HA peer, a retry) has the same identity."""
        parts = sorted((a.fingerprint, a.status, a.starts_at, a.ends_at) for a in self.alerts)
        material = json.dumps([self.group_key, self.status, parts, self.summary_of])
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    @property
    def labels(self) -> dict[str, str]:
        """Labels every firing alert shares (commonLabels, else the first alert's)."""
        if self.common_labels:
            return self.common_labels
        return dict(self.alerts[0].labels) if self.alerts else dict(self.group_labels)

    @property
    def title(self) -> str:
        name = self.labels.get("alertname") or self.group_labels.get("alertname") or "alert"
        summary = self.common_annotations.get("summary") or \
            next((a.annotations.get("summary") for a in self.alerts if a.annotations.get("summary")),
                 "")
        return f"{name}: {summary}" if summary else name


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError(f"{where} must be an object")
    return {str(k): str(v) for k, v in value.items()}


def _alert(raw: Any, index: int) -> Alert:
    if not isinstance(raw, dict):
        raise AlertPayloadError(f"alerts[{index}] must be an object")
    labels = _str_map(raw.get("labels"), f"alerts[{index}].labels")
    status = str(raw.get("status") or FIRING)
    if status not in (FIRING, RESOLVED):
        raise AlertPayloadError(f"alerts[{index}].status must be firing or resolved")
    fingerprint = str(raw.get("fingerprint") or
                      hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16])
    return Alert(status, labels, _str_map(raw.get("annotations"), f"alerts[{index}].annotations"),
                 str(raw.get("startsAt") or ""), str(raw.get("endsAt") or ZERO_TIME), fingerprint)


def parse_notification(body: bytes | str) -> Notification:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlertPayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AlertPayloadError("body must be a JSON object")
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        raise AlertPayloadError("'alerts' must be a list")
    alerts = tuple(_alert(a, i) for i, a in enumerate(raw_alerts[:MAX_ALERTS]))
    group_labels = _str_map(data.get("groupLabels"), "groupLabels")
    group_key = str(data.get("groupKey") or json.dumps(group_labels, sort_keys=True))
    status = str(data.get("status") or (FIRING if any(a.firing for a in alerts) else RESOLVED))
    truncated = _count(data.get("truncatedAlerts")) + max(0, len(raw_alerts) - MAX_ALERTS)
    return Notification(
        status=status, alerts=alerts, group_key=group_key, receiver=str(data.get("receiver") or ""),
        group_labels=group_labels,
        common_labels=_str_map(data.get("commonLabels"), "commonLabels"),
        common_annotations=_str_map(data.get("commonAnnotations"), "commonAnnotations"),
        external_url=str(data.get("externalURL") or ""),
        reason=str(data.get("notification_reason") or ""), truncated=truncated)


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


class AlertSkim:
    """An oversized notification read in passing: its first and last bytes and the number of
    alerts by status; memory stays constant however large the body."""

    def __init__(self) -> None:
        self.head, self.tail, self.size = b"", b"", 0
        self.firing = self.resolved = 0
        self._carry = b""  # the end of the previous chunk, for a status split across chunks

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if len(self.head) < _HEAD:
            self.head += chunk[: _HEAD - len(self.head)]
        self.tail = (self.tail + chunk)[-_TAIL:]
        window = self._carry + chunk
        for m in _ALERT_STATUS.finditer(window):
            if m.end() > len(self._carry):  # not counted with the previous chunk
                if m.group(1) == b"firing":
                    self.firing += 1
                else:
                    self.resolved += 1
        self._carry = window[-32:]

    def notification(self) -> Notification:
        """The summary; AlertPayloadError when neither end looks like a notification."""
        top = {**_object_before_alerts(self.head), **_object_after_alerts(self.tail)}
        if not top and not (self.firing or self.resolved):
            raise AlertPayloadError("body is neither a notification nor a JSON object")
        status = str(top.get("status") or (FIRING if self.firing else RESOLVED))
        group_labels = _str_map(top.get("groupLabels"), "groupLabels")
        return Notification(
            status=status, alerts=(), receiver=str(top.get("receiver") or ""),
            group_key=str(top.get("groupKey") or json.dumps(group_labels, sort_keys=True)),
            group_labels=group_labels,
            common_labels=_str_map(top.get("commonLabels"), "commonLabels"),
            common_annotations=_str_map(top.get("commonAnnotations"), "commonAnnotations"),
            external_url=str(top.get("externalURL") or ""),
            reason=str(top.get("notification_reason") or ""),
            truncated=self.firing + self.resolved + _count(top.get("truncatedAlerts")),
            summary_of=(self.size, self.firing, self.resolved))


def _object_before_alerts(head: bytes) -> dict:
    """The keys Alertmanager writes before `alerts` (receiver, status), closed into an object."""
    m = _ALERTS_KEY.search(head)
    prefix = head[: m.start()].rstrip().rstrip(b",") if m else b""
    return _json_object(prefix + b"}") if prefix.lstrip().startswith(b"{") else {}


def _object_after_alerts(tail: bytes) -> dict:
    """The keys Alertmanager writes after `alerts` (labels, groupKey, ...): from the last
    `], "` that leaves a JSON object (one inside a string would not)."""
    for m in reversed(list(_AFTER_ALERTS.finditer(tail))[-64:]):
        found = _json_object(b"{" + tail[m.end() - 1:])
        if found:
            return found
    return {}


def _json_object(text: bytes) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
