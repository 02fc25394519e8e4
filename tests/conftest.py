"""Shared fixtures: a real redis-server for the session, a local Slack sandbox, and the real bot.

Nothing here mocks Synapse: the bot runs its real Bolt app over a real Socket Mode connection to the sandbox,
with a real Redis (the embedded redis-server, on a unix socket in a temp dir).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from synapse_bot.config import Settings
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import free_port
from tests.support.rig import Rig
from tests.support.settings import ISOLATED_ENV, make_model_settings, make_settings

for _name in ISOLATED_ENV:
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow exports MLFLOW_TRACKING_URI when a URI is set; no test may see another's settings."""
    for name in ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    # Its own directory, not pytest's basetemp: pytest prunes old basetemps, which would pull the socket out from
    # under a session running alongside another one.
    directory = Path(tempfile.mkdtemp(prefix="synapse-test-redis-"))
    server = EmbeddedRedis(directory, persist=False).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def settings(slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path) -> Settings:
    return make_settings(slack, redis_server, tmp_path)


@pytest.fixture
def bot(settings: Settings, slack: SlackSandbox) -> Iterator[Runtime]:
    runtime = Runtime(settings).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


@pytest.fixture
def model() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def model_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, model: OpenAIServer
) -> Iterator[Runtime]:
    """The bot with a model: the scripted OpenAI-compatible server."""
    settings = make_model_settings(slack, redis_server, tmp_path, model)
    runtime = Runtime(settings).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


@pytest.fixture
def workspace(slack: SlackSandbox) -> dict[str, str]:
    """Two people and a channel everyone (the bot too) is in."""
    alice = slack.add_user("alice", real_name="Alice Liddell")
    bob = slack.add_user("bob", real_name="Bob Builder")
    general = slack.add_channel("general", members=[alice, bob])
    return {"alice": alice, "bob": bob, "general": general}


# Fixtures that start the full bot over Socket Mode: a test using one is end to end, and must say so, or it would
# slow down `make test-fast`.
_E2E_FIXTURES = frozenset({"bot", "model_bot"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if _E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())) and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError("these tests start the bot but are not marked e2e: " + ", ".join(unmarked))


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own, on TCP, persisted (AOF) so it can be killed and restarted."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True, port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def rig(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path, tcp_redis: EmbeddedRedis, model: OpenAIServer
) -> Iterator[Rig]:
    deployment = Rig(slack, workspace, tmp_path, tcp_redis, model)
    yield deployment
    for process in deployment.processes:
        process.stop(timeout=30)
