"""`synapse-bot check`: reach every part Synapse depends on and say, per part, ok or the exact problem.

The parts are probed side by side and each gets at most `PART_DEADLINE_S`: a part that has not answered by then
is reported as not answering, in one line, whatever its client library would have gone on retrying.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from synapse_bot.config import Settings
from synapse_bot.startup import network_cause, tracking_unreachable, where

PART_DEADLINE_S = 10.0
PROBE_TIMEOUT_S = 5.0
GITHUB_PROBE_TIMEOUT = int(PROBE_TIMEOUT_S)  # PyGithub wants an int


@dataclass(frozen=True)
class CheckResult:
    part: str
    ok: bool
    detail: str
    required: bool = True


def check_slack_bot_token(settings: Settings) -> CheckResult:
    [result] = _check_slack_bot(settings)
    return result


def check_slack_app_token(settings: Settings) -> CheckResult:
    [result] = _check_slack_app(settings)
    return result


def _check_slack_bot(settings: Settings) -> list[CheckResult]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    results = []
    if settings.slack_bot_token is None:
        results.append(CheckResult("slack bot token", False, "SLACK_BOT_TOKEN is not set"))
    else:
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=int(PROBE_TIMEOUT_S),
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
                CheckResult(
                    "slack bot token",
                    False,
                    f"cannot reach SLACK_API_URL {where(settings.slack_api_url)}: {network_cause(exc)}",
                )
            )
    return results


def _check_slack_app(settings: Settings) -> list[CheckResult]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    results = []
    if settings.slack_app_token is None:
        results.append(CheckResult("slack app token", False, "SLACK_APP_TOKEN is not set (xapp-, connections:write)"))
    else:
        client = WebClient(base_url=settings.slack_api_url, timeout=int(PROBE_TIMEOUT_S))
        try:
            client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
            results.append(CheckResult("slack app token", True, "apps.connections.open ok (Socket Mode available)"))
        except SlackApiError as exc:
            results.append(
                CheckResult("slack app token", False, f"apps.connections.open failed: {exc.response.get('error')}")
            )
        except OSError as exc:
            results.append(
                CheckResult(
                    "slack app token",
                    False,
                    f"cannot reach SLACK_API_URL {where(settings.slack_api_url)}: {network_cause(exc)}",
                )
            )
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
    except redis.AuthenticationError:
        return CheckResult("redis", False, f"{where(settings.redis_url)} refused the password in REDIS_URL")
    except (redis.RedisError, OSError) as exc:
        return CheckResult("redis", False, f"cannot reach REDIS_URL {where(settings.redis_url)}: {network_cause(exc)}")
    finally:
        client.close()


def check_mlflow(settings: Settings) -> CheckResult:
    unreachable = tracking_unreachable(settings.tracking_uri, timeout_s=PROBE_TIMEOUT_S)
    if unreachable is not None:  # asked first, quickly: MLflow's own client retries a dead server for minutes
        return CheckResult(
            "mlflow",
            False,
            f"cannot reach MLFLOW_TRACKING_URI {where(settings.tracking_uri)}: {unreachable}",
            required=False,
        )
    uri, name = settings.tracking_uri, settings.mlflow_experiment_name
    try:
        if uri.startswith("sqlite:///"):
            found = _sqlite_experiment(Path(uri.removeprefix("sqlite:///")), name)
        elif urlsplit(uri).scheme in ("http", "https"):
            found = _server_experiment(uri, name)
        else:
            found = _client_experiment(uri, name)
    except Exception as exc:
        return CheckResult("mlflow", False, f"store {where(uri)}: {_one_line(exc)}", required=False)
    state = "exists" if found else "will be created on first request"
    return CheckResult("mlflow", True, f"store {uri} reachable; experiment {name!r} {state}")


def _sqlite_experiment(path: Path, name: str) -> bool:
    """Read the sqlite store directly: importing MLflow and migrating a new store takes seconds, a read does not."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(f"cannot create {path}: its folder is not writable")
        return False
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S)) as db:
        try:
            row = db.execute("SELECT 1 FROM experiments WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:
            return False  # an empty file: MLflow creates its tables on first use
    return row is not None


def _server_experiment(uri: str, name: str) -> bool:
    """Ask the tracking server's REST API, without loading MLflow's client."""
    query = urlencode({"experiment_name": name})
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def _client_experiment(uri: str, name: str) -> bool:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(PROBE_TIMEOUT_S)))
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri).get_experiment_by_name(name) is not None


def check_model(settings: Settings) -> CheckResult:
    if settings.openai_api_key is None:
        return CheckResult("model", True, "OPENAI_API_KEY unset: offline mode (explicit commands only)", required=False)
    import openai

    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=PROBE_TIMEOUT_S,
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
        where_ = where(str(client.base_url))
        return CheckResult("model", False, f"cannot reach the model endpoint {where_}: {network_cause(exc)}")


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
    except GithubException as exc:
        return CheckResult("github", False, f"{where(settings.github_api_url)} answered {exc.status}")
    except OSError as exc:
        return CheckResult(
            "github", False, f"cannot reach GITHUB_API_URL {where(settings.github_api_url)}: {network_cause(exc)}"
        )
    finally:
        client.close()


def _one_line(exc: BaseException) -> str:
    """An exception as one short line: its network cause when it has one."""
    cause = network_cause(exc)
    return cause if not cause.startswith(type(exc).__name__) else cause[:200]


def run_checks(settings: Settings, deadline_s: float = PART_DEADLINE_S) -> list[CheckResult]:
    """Every part probed at once; a part still silent after `deadline_s` is reported as not answering."""
    probes: list[tuple[str, Callable[[], list[CheckResult] | CheckResult]]] = [
        ("slack bot token", lambda: check_slack_bot_token(settings)),
        ("slack app token", lambda: check_slack_app_token(settings)),
        ("redis", lambda: check_redis(settings)),
        ("mlflow", lambda: check_mlflow(settings)),
        ("model", lambda: check_model(settings)),
        ("github", lambda: check_github(settings)),
    ]
    outcomes: dict[str, list[CheckResult]] = {}

    def run(part: str, probe: Callable[[], list[CheckResult] | CheckResult]) -> None:
        try:
            outcome = probe()
        except Exception as exc:  # a probe that breaks is a failed part, never a traceback
            outcome = CheckResult(part, False, f"the check failed: {_one_line(exc)}")
        outcomes[part] = outcome if isinstance(outcome, list) else [outcome]

    threads = [
        threading.Thread(target=run, args=(part, probe), name=f"check-{part}", daemon=True) for part, probe in probes
    ]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline_s
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    results: list[CheckResult] = []
    for part, _ in probes:
        results.extend(
            outcomes.get(part) or [CheckResult(part, False, f"no answer within {deadline_s:.0f} s", part != "mlflow")]
        )
    return results
