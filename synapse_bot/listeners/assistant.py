"""Slack's agent view (the assistant side panel), through Bolt's `Assistant` middleware.

- `assistant_thread_started`: a job greets the person and suggests prompts built from the tools.
- `assistant_thread_context_changed`: the channel the person is looking at is stored for the thread (Redis), so
  "summarize this channel's last day" means that channel.
- a person's message in the thread (any DM thread: Bolt routes them all here): a question like a mention, carrying
  the stored context channel; the answer goes to the thread.

As everywhere, the listeners only claim, queue and acknowledge; the Web API calls happen in jobs.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, App, BoltContext, BoltRequest
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from slack_bolt.middleware.assistant import Assistant

from synapse_bot.listeners.intake import Intake, answer_key, retry_attempt, slack_request
from synapse_bot.request import RequestKind, Surface
from synapse_bot.store.conversations import AssistantContexts

log = logging.getLogger(__name__)


class RedisThreadContextStore(AssistantThreadContextStore):
    """Bolt's context store interface over `AssistantContexts` (Bolt's default keeps it in message metadata)."""

    def __init__(self, contexts: AssistantContexts) -> None:
        self._contexts = contexts

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        self._contexts.save(channel_id, thread_ts, context)

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        try:
            found = self._contexts.find(channel_id, thread_ts)
        except (redis.RedisError, OSError) as exc:
            log.info("assistant context unavailable", extra={"error": type(exc).__name__})
            return None
        return AssistantThreadContext(found) if found and found.get("channel_id") else None


def _context_channel(thread_context: dict[str, Any] | None) -> str | None:
    channel = (thread_context or {}).get("channel_id")
    return str(channel) if channel else None


def build_assistant(intake: Intake, contexts: AssistantContexts) -> Assistant:
    store = RedisThreadContextStore(contexts)
    assistant = Assistant(thread_context_store=store, logger=logging.getLogger("slack_bolt.synapse.assistant"))

    @assistant.thread_started
    def on_thread_started(body: dict[str, Any], event: dict[str, Any], context: BoltContext, ack: Ack) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = str(thread.get("channel_id", "")), str(thread.get("thread_ts", ""))
        if thread.get("context"):
            store.save(channel_id=channel, thread_ts=thread_ts, context=dict(thread["context"]))
        request = slack_request(
            context,
            RequestKind.THREAD_STARTED,
            str(body.get("event_id") or f"thread_started:{channel}:{thread_ts}"),
            thread_ts=thread_ts,
            surface=Surface.ASSISTANT,
            context_channel_id=_context_channel(thread.get("context")),
        )
        intake.accept(request.model_copy(update={"channel_id": channel, "user_id": str(thread.get("user_id", ""))}))
        ack()

    @assistant.thread_context_changed
    def on_context_changed(event: dict[str, Any], ack: Ack) -> None:
        thread = event.get("assistant_thread") or {}
        if thread.get("channel_id") and thread.get("thread_ts"):
            store.save(
                channel_id=str(thread["channel_id"]),
                thread_ts=str(thread["thread_ts"]),
                context=dict(thread.get("context") or {}),
            )
        ack()

    @assistant.user_message
    def on_user_message(event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack) -> None:
        channel, ts, thread_ts = str(event.get("channel")), str(event.get("ts")), str(event.get("thread_ts"))
        found = store.find(channel_id=channel, thread_ts=thread_ts)
        intake.accept(
            slack_request(
                context,
                RequestKind.MENTION,
                answer_key(channel, ts),
                text=str(event.get("text", "")),
                thread_ts=thread_ts,
                message_ts=ts,
                surface=Surface.ASSISTANT,
                context_channel_id=_context_channel(dict(found) if found else None),
                retry_attempt=retry_attempt(request.headers),
            )
        )
        ack()

    return assistant


def register(app: App, intake: Intake, contexts: AssistantContexts) -> None:
    app.assistant(build_assistant(intake, contexts))
