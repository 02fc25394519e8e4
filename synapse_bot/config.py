"""Synapse's one settings object.

The variable names are an interface (docs/architecture.md): operators, `.env` files and outside tooling rely on them, so
each field carries its exact environment name as an alias. Everything Synapse adds is prefixed `SYNAPSE_`.
Secrets are `SecretStr`, so printing a Settings object never shows them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from synapse_bot.access import AccessRules
from synapse_bot.llm.prices import PriceTable

MANIFEST_HINT = (
    "No Slack app yet? Create one from manifest.yml: https://api.slack.com/apps?new_app=1 → 'From a manifest'."
)

TOKEN_HELP: dict[str, str] = {
    "SLACK_BOT_TOKEN": (
        "SLACK_BOT_TOKEN is the bot user OAuth token (starts with xoxb-). Find it after installing the app to "
        "your workspace: https://api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token. "
        + MANIFEST_HINT
    ),
    "SLACK_APP_TOKEN": (
        "SLACK_APP_TOKEN is the app-level token (starts with xapp-) with the connections:write scope that "
        "Socket Mode needs. Make it at https://api.slack.com/apps → your app → Basic Information → App-Level "
        "Tokens → Generate Token and Scopes, and add connections:write. " + MANIFEST_HINT
    ),
}

TOKEN_PREFIXES: dict[str, tuple[str, ...]] = {
    "SLACK_BOT_TOKEN": ("xoxb-",),
    "SLACK_APP_TOKEN": ("xapp-",),
}


SUMMARY_CALL_CEILING = 32_000  # tokens of one summary call when sized to the model (see summary_call_budget)


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _check_prefix(env_name: str, value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    secret = value.get_secret_value().strip()
    prefixes = TOKEN_PREFIXES[env_name]
    if not secret.startswith(prefixes):
        kind = re.match(r"^(xox[a-z]|xapp)-", secret)
        # Name only the token kind, never characters of the secret itself.
        seen = f"it is a {kind.group(0)} token" if kind else "it does not look like a Slack token"
        raise ValueError(f"{env_name} must start with {' or '.join(prefixes)}, but {seen}. " + TOKEN_HELP[env_name])
    return SecretStr(secret)


def parse_github_users(value: str) -> dict[str, str]:
    """`{"U123": "octocat", …}`; ValueError naming what is wrong."""
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f'SYNAPSE_GITHUB_USERS is not JSON ({exc.msg}); use {{"U0123ABCD": "octocat"}}') from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError('SYNAPSE_GITHUB_USERS must map Slack user ids to GitHub logins: {"U0123ABCD": "octocat"}')
    return {k.strip(): v.strip().lstrip("@") for k, v in data.items() if k.strip() and v.strip()}


class Settings(BaseSettings):
    """Read from the environment and `.env`; passed explicitly to everything that needs it."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    # Model
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")
    openai_context_tokens: int = Field(default=0, ge=0, alias="OPENAI_CONTEXT_TOKENS")

    # GitHub
    github_token: SecretStr | None = Field(default=None, alias="GITHUB_TOKEN")
    github_api_url: str = Field(default="https://api.github.com", alias="GITHUB_API_URL")
    github_app_id: str = Field(default="", alias="SYNAPSE_GITHUB_APP_ID")
    github_app_private_key: SecretStr | None = Field(default=None, alias="SYNAPSE_GITHUB_APP_PRIVATE_KEY")
    github_app_installation_id: int | None = Field(default=None, alias="SYNAPSE_GITHUB_APP_INSTALLATION_ID")

    # State and tracking
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    mlflow_tracking_uri: str | None = Field(default=None, alias="MLFLOW_TRACKING_URI")
    mlflow_experiment_name: str = Field(default="synapse", alias="MLFLOW_EXPERIMENT_NAME")

    # Synapse's own
    data_dir: Path = Field(default=Path(".synapse"), alias="SYNAPSE_DATA_DIR")
    log_level: str = Field(default="INFO", alias="SYNAPSE_LOG_LEVEL")
    log_format: str = Field(default="json", alias="SYNAPSE_LOG_FORMAT")
    key_prefix: str = Field(default="synapse", alias="SYNAPSE_KEY_PREFIX")
    dedupe_ttl_seconds: int = Field(default=24 * 3600, ge=60, alias="SYNAPSE_DEDUPE_TTL_SECONDS")
    worker_threads: int = Field(default=8, ge=1, le=256, alias="SYNAPSE_WORKER_THREADS")
    tracking_enabled: bool = Field(default=True, alias="SYNAPSE_TRACKING_ENABLED")
    tracking_queue_size: int = Field(default=1000, ge=10, alias="SYNAPSE_TRACKING_QUEUE_SIZE")
    trace_content: bool = Field(default=False, alias="SYNAPSE_TRACE_CONTENT")
    metrics_interval_seconds: float = Field(default=60.0, gt=0, alias="SYNAPSE_METRICS_INTERVAL_SECONDS")
    trace_redact_patterns: str = Field(default="", alias="SYNAPSE_TRACE_REDACT_PATTERNS")
    model_prices: str = Field(default="", alias="SYNAPSE_MODEL_PRICES")

    # Model behaviour
    openai_fallback_models: str = Field(default="", alias="SYNAPSE_OPENAI_FALLBACK_MODELS")
    openai_timeout_seconds: float = Field(default=60.0, gt=0, le=600, alias="SYNAPSE_OPENAI_TIMEOUT_SECONDS")
    openai_max_retries: int = Field(default=2, ge=0, le=10, alias="SYNAPSE_OPENAI_MAX_RETRIES")
    request_token_budget: int = Field(default=500_000, ge=1_000, alias="SYNAPSE_REQUEST_TOKEN_BUDGET")
    summary_call_tokens: int = Field(default=0, ge=0, alias="SYNAPSE_SUMMARY_CALL_TOKENS")
    summary_parallel_calls: int = Field(default=4, ge=1, le=32, alias="SYNAPSE_SUMMARY_PARALLEL_CALLS")
    summary_output_tokens: int = Field(default=1_200, ge=200, alias="SYNAPSE_SUMMARY_OUTPUT_TOKENS")
    monitor_alert_interval_seconds: int = Field(default=300, ge=1, alias="SYNAPSE_MONITOR_ALERT_INTERVAL_SECONDS")
    monitor_max_rules_per_channel: int = Field(default=50, ge=1, alias="SYNAPSE_MONITOR_MAX_RULES_PER_CHANNEL")
    admins: str = Field(default="", alias="SYNAPSE_ADMINS")
    github_writers: str = Field(default="", alias="SYNAPSE_GITHUB_WRITERS")
    github_writer_group: str = Field(default="", alias="SYNAPSE_GITHUB_WRITER_GROUP")
    github_timeout_seconds: float = Field(default=15.0, gt=0, le=300, alias="SYNAPSE_GITHUB_TIMEOUT_SECONDS")
    github_max_wait_seconds: float = Field(default=30.0, ge=0, le=600, alias="SYNAPSE_GITHUB_MAX_WAIT_SECONDS")
    github_poll_seconds: float = Field(default=60.0, ge=5, le=86_400, alias="SYNAPSE_GITHUB_POLL_SECONDS")
    github_burst_posts: int = Field(default=5, ge=1, le=1000, alias="SYNAPSE_GITHUB_BURST_POSTS")
    github_digest_seconds: int = Field(default=60, ge=5, le=86_400, alias="SYNAPSE_GITHUB_DIGEST_SECONDS")
    github_webhook_port: int | None = Field(default=None, ge=1, le=65535, alias="SYNAPSE_GITHUB_WEBHOOK_PORT")
    github_webhook_host: str = Field(default="0.0.0.0", alias="SYNAPSE_GITHUB_WEBHOOK_HOST")
    github_webhook_secret: SecretStr | None = Field(default=None, alias="SYNAPSE_GITHUB_WEBHOOK_SECRET")
    triage_call_tokens: int = Field(default=16_000, ge=2_000, alias="SYNAPSE_TRIAGE_CALL_TOKENS")
    review_call_tokens: int = Field(default=24_000, ge=2_000, alias="SYNAPSE_REVIEW_CALL_TOKENS")
    summary_ttl_seconds: int = Field(default=7 * 86400, ge=60, alias="SYNAPSE_SUMMARY_TTL_SECONDS")
    max_output_tokens: int = Field(default=2_000, ge=64, alias="SYNAPSE_MAX_OUTPUT_TOKENS")
    memory_turns: int = Field(default=12, ge=0, le=100, alias="SYNAPSE_MEMORY_TURNS")
    memory_ttl_seconds: int = Field(default=7 * 86400, ge=60, alias="SYNAPSE_MEMORY_TTL_SECONDS")
    thread_context_tokens: int = Field(default=2_000, ge=500, alias="SYNAPSE_THREAD_CONTEXT_TOKENS")
    default_repos: str = Field(default="", alias="SYNAPSE_DEFAULT_REPOS")
    streaming: bool = Field(default=True, alias="SYNAPSE_STREAMING")
    follow_ups: bool = Field(default=True, alias="SYNAPSE_FOLLOW_UPS")
    follow_up_window_seconds: float = Field(default=600.0, ge=0, alias="SYNAPSE_FOLLOW_UP_WINDOW_SECONDS")

    # Jobs, workers and health
    queue_heartbeat_seconds: float = Field(default=5.0, ge=1.0, le=600, alias="SYNAPSE_QUEUE_HEARTBEAT_SECONDS")
    queue_poll_ms: int = Field(default=200, ge=10, le=10_000, alias="SYNAPSE_QUEUE_POLL_MS")
    job_time_limit_seconds: int = Field(default=600, ge=10, alias="SYNAPSE_JOB_TIME_LIMIT_SECONDS")
    health_port: int = Field(default=0, ge=0, le=65535, alias="SYNAPSE_HEALTH_PORT")
    health_host: str = Field(default="0.0.0.0", alias="SYNAPSE_HEALTH_HOST")

    # Limits and access
    user_requests_per_minute: int = Field(default=0, ge=0, alias="SYNAPSE_USER_REQUESTS_PER_MINUTE")
    channel_requests_per_minute: int = Field(default=0, ge=0, alias="SYNAPSE_CHANNEL_REQUESTS_PER_MINUTE")
    user_daily_tokens: int = Field(default=2_000_000, ge=0, alias="SYNAPSE_USER_DAILY_TOKENS")
    channel_daily_tokens: int = Field(default=0, ge=0, alias="SYNAPSE_CHANNEL_DAILY_TOKENS")
    access_rules: str = Field(default="", alias="SYNAPSE_ACCESS_RULES")
    github_users: str = Field(default="", alias="SYNAPSE_GITHUB_USERS")

    @field_validator("slack_bot_token", mode="after")
    @classmethod
    def _bot_token_prefix(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_prefix("SLACK_BOT_TOKEN", value)

    @field_validator("slack_app_token", mode="after")
    @classmethod
    def _app_token_prefix(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_prefix("SLACK_APP_TOKEN", value)

    @field_validator("github_webhook_port", mode="before")
    @classmethod
    def _blank_port_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        secret = self.github_webhook_secret.get_secret_value() if self.github_webhook_secret else ""
        if secret and len(secret) < 16:
            raise ValueError(
                "SYNAPSE_GITHUB_WEBHOOK_SECRET is too short: use at least 16 random characters (e.g. the output of "
                "`openssl rand -hex 20`), the same in the GitHub webhook's Secret field; a short one can be guessed."
            )
        if self.github_webhook_port and self.github_webhook_secret is None:
            raise ValueError(
                "SYNAPSE_GITHUB_WEBHOOK_SECRET is required when SYNAPSE_GITHUB_WEBHOOK_PORT is set: it is the secret "
                "of the GitHub webhook (Settings → Webhooks → Secret), and without it anyone who can reach the port "
                "could post fake events. Set the same random string in both places."
            )
        return self

    @field_validator("openai_api_key", "github_token", "github_webhook_secret", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("model_prices", mode="after")
    @classmethod
    def _prices_parse(cls, value: str) -> str:
        try:
            PriceTable(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"SYNAPSE_MODEL_PRICES is not a valid price table: {exc}") from None
        return value

    @field_validator("github_users", mode="after")
    @classmethod
    def _github_users_parse(cls, value: str) -> str:
        parse_github_users(value)  # raises ValueError with the problem named
        return value

    @field_validator("access_rules", mode="after")
    @classmethod
    def _rules_parse(cls, value: str) -> str:
        AccessRules.parse(value)  # raises ValueError with the problem named
        return value

    @field_validator("default_repos", mode="after")
    @classmethod
    def _repos_parse(cls, value: str) -> str:
        for repo in (r.strip() for r in value.split(",") if r.strip()):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", repo):
                raise ValueError(f"SYNAPSE_DEFAULT_REPOS names {repo!r}, which is not a repository as owner/name.")
        return value

    @field_validator("slack_api_url", mode="after")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        # slack_sdk joins base_url + method name, so the base must end with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("redis_url", "mlflow_tracking_uri", "openai_base_url", mode="after")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    # Derived values -------------------------------------------------------------------------------

    @property
    def offline(self) -> bool:
        """No model key: the fast path and deterministic fallbacks only."""
        return self.openai_api_key is None

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def fallback_models(self) -> list[str]:
        return [m.strip() for m in self.openai_fallback_models.split(",") if m.strip()]

    def summary_call_budget(self, context_tokens: int) -> int:
        """Largest summary call: SYNAPSE_SUMMARY_CALL_TOKENS, or sized to the model (its window, at most 32,000:
        past that, models drop detail from the middle of a long prompt, so longer threads are summarised in parts)."""
        if self.summary_call_tokens:
            return min(self.summary_call_tokens, context_tokens)
        return min(context_tokens, SUMMARY_CALL_CEILING)

    @property
    def default_repo_list(self) -> list[str]:
        """SYNAPSE_DEFAULT_REPOS: the repositories "the widgets repo" may mean (owner/name, comma-separated)."""
        return [r.strip() for r in self.default_repos.split(",") if r.strip()]

    @property
    def github_logins(self) -> dict[str, str]:
        """SYNAPSE_GITHUB_USERS: Slack user id → GitHub login, set by an operator (`my github is` overrides it)."""
        return parse_github_users(self.github_users)

    @property
    def admin_ids(self) -> set[str]:
        """Slack user ids with admin rights in Synapse (comma-separated SYNAPSE_ADMINS)."""
        return {u.strip() for u in self.admins.split(",") if u.strip()}

    def github_app_key(self) -> str | None:
        """The GitHub App's private key: the PEM itself, or a path to a .pem file."""
        if self.github_app_private_key is None:
            return None
        value = self.github_app_private_key.get_secret_value().strip()
        if value and "BEGIN" not in value and Path(value).is_file():
            return Path(value).read_text()
        return value.replace("\\n", "\n") or None

    @property
    def github_writer_ids(self) -> set[str]:
        """Slack user ids allowed to confirm GitHub writes (labels, reviews)."""
        return {u.strip() for u in self.github_writers.split(",") if u.strip()}

    def secrets(self) -> list[str]:
        """Every configured secret value: the log filter and the secret scans redact these."""
        values = [
            self.slack_bot_token,
            self.slack_app_token,
            self.openai_api_key,
            self.github_token,
            self.github_app_private_key,
            self.github_webhook_secret,
        ]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

    def require_bot_token(self) -> str:
        """The bot token (workers post but hold no Socket Mode connection, so they need no app token)."""
        if self.slack_bot_token is None:
            raise ConfigError(["SLACK_BOT_TOKEN is missing. " + TOKEN_HELP["SLACK_BOT_TOKEN"]])
        return self.slack_bot_token.get_secret_value()

    def require_slack(self) -> tuple[str, str]:
        """Both Slack tokens, or a ConfigError that says what each one is and where to get it."""
        problems = []
        if self.slack_bot_token is None:
            problems.append("SLACK_BOT_TOKEN is missing. " + TOKEN_HELP["SLACK_BOT_TOKEN"])
        if self.slack_app_token is None:
            problems.append("SLACK_APP_TOKEN is missing. " + TOKEN_HELP["SLACK_APP_TOKEN"])
        if problems:
            raise ConfigError(problems)
        assert self.slack_bot_token is not None and self.slack_app_token is not None
        return self.slack_bot_token.get_secret_value(), self.slack_app_token.get_secret_value()


def _field_env_name(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "configuration"
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.alias, str):
        return field.alias
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return name.upper()


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment (and `.env`), turning validation errors into a ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            env_name = _field_env_name(tuple(error.get("loc", ())))
            message = str(error.get("msg", "invalid value"))
            message = message.removeprefix("Value error, ")
            if env_name in message or not error.get("loc"):  # a check across settings names them itself
                problems.append(message)
            else:
                problems.append(f"{env_name}: {message}")
        raise ConfigError(problems) from None
