"""A bot with GitHub subscriptions under test: the GitHub stand-in with a repository that changes while the bot runs,
and helpers to subscribe a channel and read what it posted (cards, and the lines in their threads)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings

REPO = "acme/widgets"
LABELS = ["bug", "crash", "enhancement", "documentation", "wontfix", "p1", "p2", "question"]


def github_with_repo(server: GitHubServer, *, private: str | None = None) -> GitHubServer:
    server.add_repo(REPO, labels=LABELS)
    if private:
        server.add_repo(private, private=True, labels=["bug"])
    return server


def feed_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, **extra: Any
) -> Runtime:
    """The bot, polling the stand-in every 5 s (the least SYNAPSE_GITHUB_POLL_SECONDS allows)."""
    values: dict[str, Any] = {
        "GITHUB_TOKEN": github.token,
        "GITHUB_API_URL": github.base_url,
        "SYNAPSE_GITHUB_POLL_SECONDS": 5,
        "SYNAPSE_GITHUB_WRITERS": "",
        **extra,
    }
    runtime = Runtime(make_settings(slack, redis_server, tmp_path, **values)).start()
    assert slack.wait_connected(1)
    return runtime


def subscribe(slack: SlackSandbox, user: str, channel: str, command: str, timeout: float = 15) -> str:
    """Ask for a subscription; the confirmation's text (a test fails here if it was refused)."""
    ts = slack.mention(user, channel, command)
    reply = slack.wait_for_bot_message(channel, thread_ts=ts, timeout=timeout)
    return str(reply["text"])


def cards(slack: SlackSandbox, channel: str) -> list[dict[str, Any]]:
    """The channel's top-level bot messages that are GitHub cards (a link to an issue or PR of the repository)."""
    return [
        m
        for m in slack.bot_messages(channel)
        if re.search(r"github\.com/[^/\s]+/[^/\s]+/(?:issues|pull)/\d+", str(m.get("text", "")))
        and m.get("thread_ts") in (None, m["ts"])
    ]


def card_for(slack: SlackSandbox, channel: str, number: int) -> dict[str, Any] | None:
    pattern = re.compile(rf"#{number}\b")
    return next((m for m in cards(slack, channel) if pattern.search(str(m.get("text", "")).split("\n")[0])), None)


def thread_lines(slack: SlackSandbox, channel: str, card_ts: str) -> list[str]:
    return [str(m.get("text", "")) for m in slack.bot_messages(channel, thread_ts=card_ts) if m["ts"] != card_ts]
