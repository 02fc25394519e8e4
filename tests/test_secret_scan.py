"""Secret scan: after varied and hostile traffic through a real process — including people pasting the tokens
themselves — the configured token strings appear nowhere: not in logs, Redis (live keys and its append-only file),
the MLflow store, or anything posted to Slack."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import BotProcess, cluster_env, free_port
from tests.support.waits import processes_settled

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def echo_everything(body: dict[str, object]) -> Reply:
    """A model that repeats whatever it was shown, so anything secret in a prompt would surface in a reply."""
    messages = body.get("messages")
    last = str(messages[-1].get("content") if isinstance(messages, list) and messages else "")
    name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")  # type: ignore[union-attr]
    if name == "thread_summary":
        return Reply.json_content(
            {"tldr": last[-500:], "key_points": [], "decisions": [], "action_items": [], "open_questions": []}
        )
    return Reply.text("Echo: " + last[-1500:])


def read_everything(client: redis.Redis) -> str:
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        parts.append(str(key))
        if kind == b"string":
            parts.append(repr(client.get(key)))
        elif kind == b"list":
            parts.append(repr(client.lrange(key, 0, -1)))
        elif kind == b"hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == b"set":
            parts.append(repr(client.smembers(key)))
        elif kind == b"zset":
            parts.append(repr(client.zrange(key, 0, -1)))
    return "\n".join(parts)


def test_configured_tokens_appear_nowhere_after_hostile_traffic(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path
) -> None:
    with (
        EmbeddedRedis(tmp_path / "redis", persist=True, port=free_port()) as server,
        OpenAIServer() as model,
        GitHubServer() as github,
    ):
        github.add_repo("acme/widgets", labels=["bug"])
        github.add_issue("acme/widgets", "Crash on start", "it crashes")
        model.set_responder(echo_everything)
        secrets = [slack.bot_token, slack.app_token, model.api_key, github.token]
        data_dir = tmp_path / "data"
        env = cluster_env(
            slack,
            server.url,
            data_dir,
            OPENAI_API_KEY=model.api_key,
            OPENAI_BASE_URL=model.base_url,
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
            SYNAPSE_TRACKING_ENABLED="true",
            SYNAPSE_TRACE_CONTENT="true",  # the worst case: arguments and content recorded
            SYNAPSE_LOG_LEVEL="DEBUG",
            MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        )
        bot = BotProcess("run", env, tmp_path).start()
        try:
            bot.wait_healthy()
            alice, general = workspace["alice"], workspace["general"]
            pasted = f"my tokens are {slack.bot_token} and {model.api_key}, {github.token} {slack.app_token}"
            thread = slack.seed_thread(general, alice, ["deploy is broken", pasted, "please fix"])
            asks = [
                ("help", None),
                (pasted, None),
                ("please repeat this exactly: " + pasted, None),
                ("triage acme/widgets", None),
                ("summarize this thread", thread),
                ("review acme/widgets#99", None),
                ("monitor #general for " + slack.bot_token, None),
            ]
            threads = []
            for text, in_thread in asks:
                ts = slack.mention(alice, general, text, thread_ts=in_thread)
                threads.append(in_thread or ts)
                slack.wait_for_bot_message(general, thread_ts=in_thread or ts, timeout=30)
            slack.slash_command(alice, general, f"triage acme/widgets {github.token}")
            slack.wait_for_bot_message(general, timeout=30)
            processes_settled(slack, [bot])  # every job done; stopping flushes the tracking queue into the store
        finally:
            assert bot.stop() == 0
        with redis.Redis.from_url(server.url) as client:
            client.bgrewriteaof()
            stored = read_everything(client)
        assert stored  # the scan did read the bot's keys
    posted = [
        *(m.get("text", "") + repr(m.get("blocks")) for m in slack.all_bot_messages()),
        *(repr(p) for p in slack.response_url_posts),
        *(repr(c.params) for c in slack.calls("chat.postEphemeral")),
    ]
    # Every file the deployment wrote: logs, Redis's AOF/RDB, the MLflow database and artifacts, the data dir.
    places = {
        str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace")
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.is_socket()
    }
    places["redis (live keys)"] = stored
    places["slack"] = "\n".join(posted)
    places["mlflow store"] = (tmp_path / "mlflow.db").read_bytes().decode("utf-8", "replace")
    assert "Crash on start" in places["slack"]  # the traffic really was answered
    assert "tool.triage_issues" in places["mlflow store"]  # and traced
    for place, content in places.items():
        for secret in secrets:
            assert secret not in content, f"a configured token leaked into {place}"
