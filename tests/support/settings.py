"""Settings and environments for a bot under test: the sandbox's endpoints, a keyspace and stores of its own."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from synapse_bot.config import Settings
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import clean_env

# Never let a developer's real credentials or endpoints leak into a test run.
ISOLATED_ENV = [
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


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Slack/model/GitHub/Redis/MLflow setting, plus `extra`."""
    return clean_env(**extra)


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
    return Settings(_env_file=None, **values)


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
