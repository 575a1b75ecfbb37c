"""Alertmanager webhook notifications (payload version 4), parsed leniently.

Field sets differ by Alertmanager version (`notification_reason` since 0.32, `routeLabels` since
0.34); unknown keys are ignored and missing optional ones defaulted. What identifies a
notification for idempotency is its group key plus each alert's fingerprint, status and times,
because Alertmanager repeats groups and HA peers may both deliver the same one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
ZERO_TIME = "0001-01-01T00:00:00Z"


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
    truncated: int = 0

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.firing]

    @property
    def identity(self) -> str:
        """The same content delivered twice (an HA peer, a retry) has the same identity."""
        parts = sorted((a.fingerprint, a.status, a.starts_at, a.ends_at) for a in self.alerts)
        material = json.dumps([self.group_key, self.status, parts])
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
    alerts = tuple(_alert(a, i) for i, a in enumerate(raw_alerts))
    group_labels = _str_map(data.get("groupLabels"), "groupLabels")
    group_key = str(data.get("groupKey") or json.dumps(group_labels, sort_keys=True))
    status = str(data.get("status") or (FIRING if any(a.firing for a in alerts) else RESOLVED))
    try:
        truncated = int(data.get("truncatedAlerts") or 0)
    except (TypeError, ValueError):
        truncated = 0
    return Notification(
        status=status, alerts=alerts, group_key=group_key, receiver=str(data.get("receiver") or ""),
        group_labels=group_labels,
        common_labels=_str_map(data.get("commonLabels"), "commonLabels"),
        common_annotations=_str_map(data.get("commonAnnotations"), "commonAnnotations"),
        external_url=str(data.get("externalURL") or ""),
        reason=str(data.get("notification_reason") or ""), truncated=truncated)
