"""`synapse-bot check`: one line per part, ok or the exact problem, non-zero on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.openai_server import OpenAIServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import subprocess_env

pytestmark = pytest.mark.e2e


def _check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = subprocess_env()
    return subprocess.run(
        [sys.executable, "-m", "synapse_bot", "check"],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_reaches_every_part(slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    with OpenAIServer() as model, GitHubServer() as github:
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "REDIS_URL": redis_server.url,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}",
            "OPENAI_API_KEY": model.api_key,
            "OPENAI_BASE_URL": model.base_url,
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.base_url,
        }
        good = _check(env, tmp_path)
        bad = _check(
            {
                **env,
                "SLACK_BOT_TOKEN": "xoxb-not-the-right-one",
                "REDIS_URL": "redis://127.0.0.1:9/0",
                "OPENAI_API_KEY": "sk-wrong-key-123",
            },
            tmp_path,
        )
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    for part in ("slack bot token", "slack app token", "redis", "mlflow", "model", "github"):
        assert any(line.startswith("ok") and part in line for line in lines), (part, good.stdout)
    assert bad.returncode == 1
    assert "FAIL  slack bot token" in bad.stdout and "invalid_auth" in bad.stdout
    assert "FAIL  redis" in bad.stdout and "cannot reach REDIS_URL" in bad.stdout
    assert "rejected OPENAI_API_KEY" in bad.stdout
    assert "xoxb-not-the-right-one" not in bad.stdout + bad.stderr and "sk-wrong-key-123" not in bad.stdout + bad.stderr
