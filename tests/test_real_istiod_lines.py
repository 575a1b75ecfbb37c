"""Each real istiod line from tests/fixtures/istiod-logs/real-lines.yaml, placed into a snapshot in
place of the generated log, gives the finding it should (tests/real_lines_support.py).

A line naming a cause must produce that cause's finding for the remote cluster whose secret
points at the server the line names, or, naming no server, through the remote reader identity;
a `forbidden` for istiod's own service account must not be blamed on a remote cluster.
bench/istiod_log_recognition.py prints the same measurement as a rate, for any checkout.
"""

from __future__ import annotations

import pytest

from tests.real_lines_support import (attributable, expected_finding, findings_for, real_lines,
                                      snapshot_with_line)
from tests.scenario_support import SCENARIOS_DIR

JUDGED = [e for e in real_lines()
          if expected_finding(e) is not None or e["expect"].get("identity") == "local"]


def test_there_are_real_lines_of_every_cause():
    causes = {expected_finding(e) for e in JUDGED} - {None}
    assert causes == {"remote-api-unreachable", "remote-api-dns", "remote-api-tls",
                      "remote-api-unauthorized"}
    assert all(attributable(e) for e in JUDGED if expected_finding(e))


@pytest.mark.parametrize("entry", JUDGED, ids=[e["source"].rsplit("/", 1)[-1] + "-" +
                                                e["shape"][:40] for e in JUDGED])
async def test_real_line_in_a_snapshot(entry, tmp_path):
    snapshot = snapshot_with_line(SCENARIOS_DIR, entry, tmp_path)
    found = await findings_for(snapshot)
    want = expected_finding(entry)
    if want is None:
        assert "remote-api-unauthorized" not in found, found
        assert "remote-cluster-not-synced" in found  # still not read, for no named reason
    else:
        assert found[:2] == [want, "remote-cluster-not-synced"], found
