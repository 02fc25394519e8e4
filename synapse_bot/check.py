"""`synapse-bot check`: reach every part Synapse depends on and say, per part, ok or the exact problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synapse_bot.config import Settings

GITHUB_PROBE_TIMEOUT = 10


@dataclass(frozen=True)
class CheckResult:
    part: str
    ok: bool
    detail: str
    required: bool = True


def check_slack(settings: Settings) -> list[CheckResult]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    results = []
    if settings.slack_bot_token is None:
        results.append(CheckResult("slack bot token", False, "SLACK_BOT_TOKEN is not set"))
    else:
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=10
        )
        try:
            who = client.auth_test()
            results.append(
                CheckResult("slack bot token", True, f"auth.test ok: bot {who.get('user')} in team {who.get('team')}")
            )
        except SlackApiError as exc:
            results.append(CheckResult("slack bot token", False, f"auth.test failed: {exc.response.get('error')}"))
        except OSError as exc:
            results.append(
                CheckResult("slack bot token", False, f"cannot reach {settings.slack_api_url}: {type(exc).__name__}")
            )
    if settings.slack_app_token is None:
        results.append(CheckResult("slack app token", False, "SLACK_APP_TOKEN is not set (xapp-, connections:write)"))
    else:
        client = WebClient(base_url=settings.slack_api_url, timeout=10)
        try:
            client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
            results.append(CheckResult("slack app token", True, "apps.connections.open ok (Socket Mode available)"))
        except SlackApiError as exc:
            results.append(
                CheckResult("slack app token", False, f"apps.connections.open failed: {exc.response.get('error')}")
            )
        except OSError as exc:
            results.append(CheckResult("slack app token", False, f"cannot reach Slack: {type(exc).__name__}"))
    return results


def check_redis(settings: Settings) -> CheckResult:
    import redis

    if not settings.redis_url:
        return CheckResult(
            "redis",
            True,
            f"REDIS_URL unset: embedded redis-server under {settings.data_dir}/redis",
            required=False,
        )
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
        return CheckResult("redis", True, "PING ok")
    except (redis.RedisError, OSError) as exc:
        return CheckResult("redis", False, f"cannot reach REDIS_URL: {type(exc).__name__}: {exc}"[:300])
    finally:
        client.close()


def check_mlflow(settings: Settings) -> CheckResult:
    try:
        from mlflow import MlflowClient

        if not settings.mlflow_tracking_uri:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        client = MlflowClient(tracking_uri=settings.tracking_uri)
        experiment = client.get_experiment_by_name(settings.mlflow_experiment_name)
        where = "exists" if experiment else "will be created on first request"
        return CheckResult(
            "mlflow",
            True,
            f"store {settings.tracking_uri} reachable; experiment {settings.mlflow_experiment_name!r} {where}",
        )
    except Exception as exc:
        return CheckResult(
            "mlflow",
            False,
            f"store {settings.tracking_uri}: {type(exc).__name__}: {exc}"[:300],
            required=False,
        )


def check_model(settings: Settings) -> CheckResult:
    if settings.openai_api_key is None:
        return CheckResult("model", True, "OPENAI_API_KEY unset: offline mode (explicit commands only)", required=False)
    import openai

    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=10,
        max_retries=0,
    )
    try:
        client.models.list()
        return CheckResult("model", True, f"endpoint ok; model {settings.openai_model}")
    except openai.AuthenticationError:
        return CheckResult("model", False, "the model endpoint rejected OPENAI_API_KEY (401)")
    except openai.APIStatusError as exc:
        return CheckResult(
            "model",
            exc.status_code == 404,
            f"endpoint answered {exc.status_code} to /models; model {settings.openai_model}",
        )
    except openai.APIConnectionError as exc:
        return CheckResult("model", False, f"cannot reach the model endpoint: {type(exc).__name__}")


def check_github(settings: Settings) -> CheckResult:
    from github import Auth, BadCredentialsException, Github, GithubException

    auth = Auth.Token(settings.github_token.get_secret_value()) if settings.github_token else None
    client = Github(auth=auth, base_url=settings.github_api_url.rstrip("/"), timeout=GITHUB_PROBE_TIMEOUT, retry=None)
    try:
        limits = client.get_rate_limit()
        core = limits.resources.core
        who = "token ok" if auth else "no GITHUB_TOKEN: public repositories only, 60 requests/hour"
        return CheckResult(
            "github", True, f"{who}; {core.remaining}/{core.limit} requests left", required=auth is not None
        )
    except BadCredentialsException:
        return CheckResult("github", False, "GitHub rejected GITHUB_TOKEN (401 Bad credentials)")
    except (GithubException, OSError) as exc:
        return CheckResult("github", False, f"cannot reach {settings.github_api_url}: {type(exc).__name__}")
    finally:
        client.close()


def run_checks(settings: Settings) -> list[CheckResult]:
    probes: list[Callable[[], list[CheckResult] | CheckResult]] = [
        lambda: check_slack(settings),
        lambda: check_redis(settings),
        lambda: check_mlflow(settings),
        lambda: check_model(settings),
        lambda: check_github(settings),
    ]
    results: list[CheckResult] = []
    for probe in probes:
        outcome = probe()
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    return results
