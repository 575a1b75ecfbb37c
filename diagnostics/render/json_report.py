"""A report as contract C2 JSON."""

from __future__ import annotations

import json

from diagnostics.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
