"""Every scenario, read from istioctl bug-report archives in every layout, against its snapshot.

tests/test_bug_report_parity.py runs a selection on each commit; this runs all of them in the
layouts of several istioctl versions (1.22: combined resources; 1.24: +ambientz; 1.25: +krtz;
1.30: split resources, no Endpoints or Event objects) and prints, per version, how many
diagnoses match the snapshot's (verdict and findings) and every difference, with or without
`--full-secrets`, plus the time a translation takes. Expected differences: findings that rest
on what only meshbot's capture holds (application logs, a snapshot folder's name, istiod
refusing meshbot's own debug requests).

    .venv/bin/python bench/bug_report_parity.py [--versions 1.22.0 1.30.0] [--no-secrets]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diagnostics.engine import diagnose  # noqa: E402
from diagnostics.snapshot import Snapshot  # noqa: E402
from diagnostics.sources.snapshot import SnapshotSource  # noqa: E402
from tests.meshgen.bug_report import write_archives  # noqa: E402
from tests.meshgen.scenarios import build  # noqa: E402
from tests.scenario_support import scenarios  # noqa: E402


def _key(report) -> tuple:
    names = {c.name: c.name.removeprefix("ctx-") for c in report.clusters}
    return report.verdict, sorted((f.id, names.get(f.cluster, f.cluster)) for f in report.findings)


async def run(versions: list[str], secrets: bool) -> int:
    differences = 0
    for version in versions:
        same, diffs, opened = 0, [], []
        for sc in scenarios():
            mesh, _ = build(sc.name)
            with tempfile.TemporaryDirectory(prefix="meshbot-parity-") as tmp:
                paths = write_archives(mesh, Path(tmp), version, full_secrets=secrets)
                started = time.perf_counter()
                snapshot = Snapshot.open_many(paths)
                opened.append(time.perf_counter() - started)
            want = await diagnose(sc.request.plan(), SnapshotSource(Snapshot.open(sc.snapshot_dir)),
                                  now=sc.now)
            got = await diagnose(sc.request.plan(), SnapshotSource(snapshot), now=sc.now)
            if _key(want) == _key(got):
                same += 1
            else:
                diffs.append(f"  {sc.name}: snapshot {_key(want)}\n{' ' * len(sc.name)}    "
                             f"archives {_key(got)}")
        opened.sort()
        print(f"istioctl {version} layout{'' if secrets else ' (no --full-secrets)'}: "
              f"{same}/{same + len(diffs)} scenarios diagnose as their snapshot; translation "
              f"median {opened[len(opened) // 2] * 1000:.0f} ms, max {opened[-1] * 1000:.0f} ms")
        print("\n".join(diffs))
        differences += len(diffs)
    return differences


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--versions", nargs="*", default=["1.22.0", "1.24.0", "1.25.0", "1.30.0"])
    ap.add_argument("--no-secrets", action="store_true", help="archives without --full-secrets")
    args = ap.parse_args()
    asyncio.run(run(args.versions, not args.no_secrets))


if __name__ == "__main__":
    main()
