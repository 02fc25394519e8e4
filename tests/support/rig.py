"""One deployment under test, as separate processes: Slack, a workspace, a model, a killable Redis, and the
`python -m synapse_bot` processes started; the helpers the fault suites share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import BotProcess


@dataclass
class Rig:
    """One deployment under test: Slack, a workspace, a model, a killable Redis, and the processes started."""

    slack: SlackSandbox
    workspace: dict[str, str]
    tmp_path: Path
    tcp_redis: EmbeddedRedis
    model: OpenAIServer
    processes: list[BotProcess] = field(default_factory=list)


def model_env(model: OpenAIServer, **extra: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url, **extra}


def launch(processes: list[BotProcess], shape: str, env: dict[str, str], workdir: Path) -> BotProcess:
    process = BotProcess(shape, env, workdir).start()
    processes.append(process)
    return process


def replies(slack: SlackSandbox, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return slack.bot_messages(channel, thread_ts=thread_ts)


def wait_answered(slack: SlackSandbox, channel: str, threads: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for ts in threads:
        slack.wait_for_bot_message(channel, thread_ts=ts, timeout=max(0.1, deadline - time.monotonic()))


def assert_exactly_once(slack: SlackSandbox, channel: str, threads: list[str]) -> None:
    counts = {ts: len(replies(slack, channel, ts)) for ts in threads}
    assert all(n == 1 for n in counts.values()), f"replies per request: {counts}"
