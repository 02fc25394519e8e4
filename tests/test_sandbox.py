"""The stand-ins themselves, driven by the real clients: what the bot's tests rely on must be true."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox


def test_web_api_tokens_paging_and_unknown_methods(slack: SlackSandbox) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    alice = slack.add_user("alice")
    channel = slack.add_channel("general", members=[alice])
    root = slack.seed_thread(channel, alice, [f"m{i}" for i in range(250)])
    pages, cursor = [], None
    while True:
        response = client.conversations_replies(channel=channel, ts=root, limit=100, cursor=cursor)
        pages.append(len(response["messages"]))
        cursor = response["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [100, 100, 50]
    with pytest.raises(SlackApiError) as err:
        client.api_call("nonexistent.method")
    assert err.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as err:
        WebClient(token=slack.bot_token, base_url=slack.api_url).apps_connections_open(app_token=slack.bot_token)
    assert err.value.response["error"] == "not_allowed_token_type"
    outsider = slack.add_channel("outside", members=[alice], bot_member=False)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=outsider, text="hi")
    assert err.value.response["error"] == "not_in_channel"


def test_unacked_envelopes_are_redelivered_with_retry_fields() -> None:
    with SlackSandbox(ack_timeout=0.5) as slack:
        received: list[dict[str, Any]] = []

        def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
            received.append(
                {
                    "retry_attempt": request.retry_attempt,
                    "retry_reason": request.retry_reason,
                    "event_id": request.payload.get("event_id"),
                }
            )  # never acknowledges

        client = SocketModeClient(app_token=slack.app_token, web_client=WebClient(base_url=slack.api_url))
        client.socket_mode_request_listeners.append(listener)
        client.connect()
        try:
            assert slack.wait_connected(1)
            slack.send_event({"type": "app_mention", "user": "U1", "text": "hi", "channel": "C1", "ts": "1.1"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(received) < 3:
                time.sleep(0.05)
        finally:
            client.close()
    assert [r["retry_attempt"] for r in received[:3]] == [0, 1, 2]
    assert received[1]["retry_reason"] == "timeout"
    assert len({r["event_id"] for r in received}) == 1


def test_openai_stand_in_streams_and_fails_like_openai() -> None:
    with OpenAIServer() as server:
        client = openai.OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        server.script(Reply.text("hello streaming world"), Reply.error(429, retry_after=2))
        chunks = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello streaming world"
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert err.value.response.headers["retry-after"] == "2"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="sk-wrong", base_url=server.base_url, max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
        assert json.loads(json.dumps(server.requests[0]))["stream"] is True
