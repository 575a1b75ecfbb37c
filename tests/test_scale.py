"""A diagnosis costs the same API calls on a mesh of 6 or 150 pods per cluster, and its Slack
answer has the same shape: the design's promise that cost and answer size do not grow with the
pods (a list is one request, however long). Container logs are read for at most 2 pods per
workload, which both sizes exceed.

The meshes come from the scenario generator with a share of proxies out of sync, are served by
`meshbot replay`, and are read by the kubernetes client over HTTP.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from bot.answer_blocks import thread
from diagnostics.config import Config
from diagnostics.model import Report
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from handlers.commands import parse
from handlers.run import Answerer
from tests.meshgen.render import write_snapshot
from tests.meshgen.scale import scaled_mesh

SMALL, LARGE = 6, 150
STALE = 0.34  # out of sync: 2 of 6, 51 of 150
COMMANDS = ["why-local-only helloworld -n sample", "proxy-status", "control-plane",
            "remote-clusters", "trust", "check ns/sample", "digest"]


@pytest.fixture(scope="module")
def meshes(tmp_path_factory) -> dict[int, Path]:
    out = {}
    for pods in (SMALL, LARGE):
        out[pods] = tmp_path_factory.mktemp(f"mesh{pods}")
        write_snapshot(scaled_mesh(pods, STALE), out[pods])
    return out


async def _answers(snapshot_dir: Path) -> dict[str, Report]:
    servers = await start_replay(Snapshot.open(snapshot_dir))
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
        source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=30)
        try:
            answerer = Answerer(source, timeout=30)
            return {c: await answerer.answer(parse(c, terminal=False)) for c in COMMANDS}
        finally:
            await source.close()
            await servers.close()


def _ids(report: Report) -> set[str]:
    return {f.id for f in report.findings}


async def test_calls_findings_and_answer_size_do_not_grow_with_the_pods(meshes):
    small, large = await _answers(meshes[SMALL]), await _answers(meshes[LARGE])
    assert len(large["proxy-status"].findings) and "proxy-stale" in _ids(large["proxy-status"])
    for command in COMMANDS:
        s, big = small[command], large[command]
        assert big.api_calls == s.api_calls, (command, s.api_calls, big.api_calls)
        assert _ids(big) == _ids(s), command
        assert big.verdict == s.verdict, command
        s_thread, big_thread = thread(s, command), thread(big, command)
        assert len(big_thread) == len(s_thread), command
        for message in big_thread:
            assert len(message.blocks) <= 50, command
        # the report itself: a long list (endpoints, endpoint pods, stale proxies) is counted by
        # kind with examples or cut with a count, never given whole
        longest = max(len(step.evidence) for step in big.steps)
        assert longest <= 30, (command, longest)
