"""Configuration: the documented names, secrets that never print, and errors written for people."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synapse_bot.config import ConfigError, Settings, load_settings
from synapse_bot.logs import REDACTED, redact


def _settings(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def test_documented_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("OPENAI_MODEL", "my-model")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6390/2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "exp")
    monkeypatch.setenv("SYNAPSE_DATA_DIR", "/tmp/somewhere")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"  # slash added: slack_sdk appends method names
    assert settings.openai_model == "my-model"
    assert settings.github_api_url == "https://ghe.example/api/v3"
    assert settings.redis_url == "redis://localhost:6390/2"
    assert settings.tracking_uri == "sqlite:///x.db"
    assert settings.mlflow_experiment_name == "exp"
    assert settings.data_dir == Path("/tmp/somewhere")
    assert settings.offline  # no OPENAI_API_KEY


def test_defaults_match_the_design() -> None:
    settings = _settings()
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.github_api_url == "https://api.github.com"
    assert settings.mlflow_experiment_name == "synapse"
    assert settings.tracking_uri.startswith("sqlite:///") and settings.tracking_uri.endswith(".synapse/mlflow.db")


def test_secrets_never_print() -> None:
    settings = _settings(SLACK_BOT_TOKEN="xoxb-very-secret-1", OPENAI_API_KEY="sk-very-secret-2")
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "very-secret" not in shown


def test_missing_app_token_explains_what_it_is_and_where_to_get_it() -> None:
    with pytest.raises(ConfigError) as err:
        _settings(SLACK_BOT_TOKEN="xoxb-1").require_slack()
    message = str(err.value)
    assert "SLACK_APP_TOKEN" in message
    assert "app-level token" in message and "connections:write" in message
    assert "xapp-" in message and "manifest.yml" in message
    assert "SLACK_BOT_TOKEN" not in message.split("\n")[0].split(" is ")[0]  # only the missing one is reported


def test_wrong_prefix_says_so_without_echoing_the_secret() -> None:
    with pytest.raises(ConfigError) as err:
        _settings(SLACK_APP_TOKEN="xoxb-123-secretpart")
    message = str(err.value)
    assert "SLACK_APP_TOKEN must start with xapp-" in message
    assert "xoxb- token" in message
    assert "secretpart" not in message


@pytest.mark.e2e
def test_run_without_tokens_exits_with_a_readable_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "synapse_bot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is missing" in result.stderr
    assert "SLACK_APP_TOKEN is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_redaction_covers_configured_and_token_shaped_values() -> None:
    text = "token xoxb-12345-abcdef and sk-abcdefghijkl and ghp_abcdefghijkl and custom-secret"
    cleaned = redact(text, ["custom-secret"])
    assert "xoxb-12345" not in cleaned and "sk-abc" not in cleaned and "ghp_abc" not in cleaned
    assert "custom-secret" not in cleaned
    assert cleaned.count(REDACTED) == 4


def test_the_webhook_needs_a_long_secret_when_its_port_is_set() -> None:
    from synapse_bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as missing:
        load_settings(_env_file=None, SYNAPSE_GITHUB_WEBHOOK_PORT="8090")
    assert "SYNAPSE_GITHUB_WEBHOOK_SECRET is required" in str(missing.value)
    with pytest.raises(ConfigError) as short:
        load_settings(_env_file=None, SYNAPSE_GITHUB_WEBHOOK_PORT="8090", SYNAPSE_GITHUB_WEBHOOK_SECRET="hunter2")
    assert "too short" in str(short.value) and "openssl rand" in str(short.value)
    ok = load_settings(_env_file=None, SYNAPSE_GITHUB_WEBHOOK_PORT="8090", SYNAPSE_GITHUB_WEBHOOK_SECRET="x" * 20)
    assert ok.github_webhook_port == 8090 and "x" * 20 in ok.secrets()
    with pytest.raises(ConfigError) as fast:
        load_settings(_env_file=None, SYNAPSE_GITHUB_POLL_SECONDS="2")
    assert "SYNAPSE_GITHUB_POLL_SECONDS" in str(fast.value)
