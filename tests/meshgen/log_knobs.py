"""Knobs for how a cluster's istiod logs and answers the capture's debug requests.

Defaults change nothing. `json` is istiod's `--log_as_json` (what log pipelines usually run);
`debug_refused` makes every replica refuse the capture's `/debug/*` requests with that status,
as istiod does for a caller that is not on loopback (a direct URL): 401 without credentials,
403 for an authenticated caller outside the system namespace once debug endpoint authorization
applies (1.27.6, 1.28.4, 1.29+). The snapshot then holds what `meshbot snapshot` captures from
such an istiod: no debug bodies, `istiod/<pod>/refused.json`, and the log and /metrics, which
are not behind that authorization.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LogKnobs:
    json: bool = False                 # --log_as_json: one JSON object per record
    debug_refused: int | None = None   # 401 or 403 for every /debug/* request of the capture
