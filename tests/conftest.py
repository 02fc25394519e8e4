"""Shared fixtures: a real redis-server for the session, a local Slack sandbox, and the real bot.

Nothing here mocks Synapse: the bot runs its real Bolt app over a real Socket Mode connection to the sandbox,
with a real Redis (the embedded redis-server, on a unix socket in a temp dir).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from synapse_bot.config import Settings
from synapse_bot.runtime import Runtime
from synapse_bot.sandbox.openai_server import OpenAIServer
from synapse_bot.sandbox.workspace import SlackSandbox
from synapse_bot.store.embedded import EmbeddedRedis
from tests.support.cluster import clean_env

# Never let a developer's real credentials or endpoints leak into a test run.
_ISOLATED_ENV = [
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "REDIS_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
]
for _name in _ISOLATED_ENV:
    os.environ.pop(_name, None)


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Slack/model/GitHub/Redis/MLflow setting, plus `extra`."""
    return clean_env(**extra)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow exports MLFLOW_TRACKING_URI when a URI is set; no test may see another's settings."""
    for name in _ISOLATED_ENV:
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


def make_settings(sandbox: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": sandbox.bot_token,
        "SLACK_APP_TOKEN": sandbox.app_token,
        "SLACK_API_URL": sandbox.api_url,
        "REDIS_URL": redis_server.url,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "SYNAPSE_DATA_DIR": tmp_path / "data",
        "SYNAPSE_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",  # each test its own keyspace
        "SYNAPSE_TRACKING_ENABLED": False,
        # Tests never reach api.github.com: by default GitHub is a closed port on loopback.
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "SYNAPSE_LOG_FORMAT": "text",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_model_settings(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, model: OpenAIServer, **overrides: Any
) -> Settings:
    """Settings for a bot whose model is the scripted OpenAI-compatible server."""
    values: dict[str, Any] = {
        "OPENAI_API_KEY": model.api_key,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        **overrides,
    }
    return make_settings(sandbox, redis_server, tmp_path, **values)


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
