"""Shared pytest fixtures.

Keep fixtures here generic (usable by any test module) and documented; module-specific helpers
belong in the test module itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from diagnostics.replay.runner import ReplayThread
from diagnostics.snapshot import Snapshot

# Every catalog template parameter must be supplied by the check that emits the finding: in
# tests a missing one raises instead of rendering as <name>.
os.environ["MESHBOT_STRICT_TEMPLATES"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEBIAN_KUBECTL = REPO_ROOT / ".cache" / "debian-kubectl" / "usr" / "bin" / "kubectl"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures/."""
    return FIXTURES


@pytest.fixture(scope="session")
def replay_mini_dir() -> Path:
    """tests/fixtures/replay-mini/: a tiny two-cluster snapshot (see its snapshot.yaml)."""
    return FIXTURES / "replay-mini"


@pytest.fixture(scope="session")
def replay_mini(replay_mini_dir: Path) -> Snapshot:
    """The replay-mini snapshot, loaded once (readers never modify a Snapshot)."""
    return Snapshot.open(replay_mini_dir)


@pytest.fixture(scope="module")
def replay_mini_thread(replay_mini: Snapshot) -> Iterator[ReplayThread]:
    """replay-mini served as Kubernetes API servers (one per cluster, ephemeral ports) on a
    background thread, for synchronous clients and subprocesses; stopped after the module."""
    with ReplayThread(replay_mini) as replay:
        yield replay


@pytest.fixture(scope="module")
def replay_mini_kubeconfig(replay_mini_thread: ReplayThread,
                           tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig file for replay_mini_thread: contexts named after the clusters."""
    return replay_mini_thread.write_kubeconfig(tmp_path_factory.mktemp("replay") / "kubeconfig")


@pytest.fixture(scope="session")
def debian_kubectl() -> Path:
    """Debian's kubectl (1.20), installed by scripts/install-test-deps. Missing is a failure,
    not a skip: the tests that use it guard a contract with users' kubectl."""
    if not DEBIAN_KUBECTL.is_file():
        pytest.fail(f"{DEBIAN_KUBECTL} is missing: run scripts/install-test-deps", pytrace=False)
    return DEBIAN_KUBECTL


# ---------------------------------------------------------------------------------------------
# Slack fakes (tests/slackfake): a fake Web API + Socket Mode server + signing client.
# ---------------------------------------------------------------------------------------------


@pytest.fixture
async def slack():
    """A running Slack harness (tests/slackfake.slack_harness) with the default workspace:
    team T0MESH, bot U0MESHBOT/B0MESHBOT, #general C0GENERAL (bot member), #inc-42 C0INCIDENT,
    users U0ALICE/U0BOB, usergroup S0ONCALL=[U0ALICE]. `.api`, `.socket`, `.client(base_url)`."""
    from tests.slackfake import slack_harness

    async with slack_harness() as harness:
        yield harness
# --------------------------------------------------------------------------- end Slack fakes


# --------------------------------------------------------------------------- redis-server
@pytest.fixture
def redis_server():
    """A fresh real redis-server on a free port (tests/redis_support.RedisServer); `.stop()` and
    `.start()` simulate an outage and its end."""
    from tests.redis_support import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
