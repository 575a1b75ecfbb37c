"""How many of the real istiod lines in tests/fixtures/istiod-logs/real-lines.yaml meshbot reads
right, at the line level and end to end.

- line: the parser gives the expected event (kind, and cause where the line names one), and no
  event at all for lines that are not about reading a cluster;
- diagnosis: placed into a snapshot in place of the generated log (tests/real_lines_support.py),
  `remote-clusters` names the line's cause for cluster2, and names none for a line about
  istiod's own identity.

`--repo` runs another checkout's `diagnostics` (for example the commit before a change) against
the same lines, so the rates before and after a change can be compared:

    .venv/bin/python bench/istiod_log_recognition.py
    .venv/bin/python bench/istiod_log_recognition.py --repo /tmp/meshbot-base
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _support():
    spec = importlib.util.spec_from_file_location("real_lines_support",
                                                  HERE / "tests" / "real_lines_support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line_ok(entry: dict) -> bool:
    from diagnostics.parse.istiod_logs import cluster_events, parse_log

    expect = entry["expect"]
    events = cluster_events(parse_log(entry["text"]))
    if expect["kind"] == "none":
        return not events
    if not events or events[0].kind != expect["kind"]:
        return False
    return "cause" not in expect or events[0].cause == expect["cause"]


async def _diagnosis_ok(support, entry: dict, scenarios: Path) -> bool:
    want = support.expected_finding(entry)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = support.snapshot_with_line(scenarios, entry, Path(tmp))
        found = await support.findings_for(snapshot)
    if want is None:
        return "remote-api-unauthorized" not in found
    return want in found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", type=Path, default=HERE, help="meshbot checkout to measure")
    ap.add_argument("--verbose", "-v", action="store_true", help="list the lines missed")
    args = ap.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    support = _support()
    entries = support.real_lines()
    line_hits = [_line_ok(e) for e in entries]
    judged = [e for e in entries if support.expected_finding(e) is not None
              or e["expect"].get("identity") == "local"]
    scenarios = args.repo / "tests" / "scenarios"
    diag_hits = [asyncio.run(_diagnosis_ok(support, e, scenarios)) for e in judged]
    print(f"repo: {args.repo.resolve()}")
    print(f"line level:      {sum(line_hits)}/{len(entries)} real lines read as expected")
    print(f"diagnosis level: {sum(diag_hits)}/{len(judged)} lines give the right finding "
          "(or, for istiod's own identity, none)")
    if args.verbose:
        for entry, ok in zip(entries, line_hits):
            if not ok:
                print(f"  line missed: {entry['source']}  {entry['shape']}")
        for entry, ok in zip(judged, diag_hits):
            if not ok:
                print(f"  diagnosis missed: {entry['source']}  {entry['shape']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
