"""Build the Bolt app from explicit parts (no import-time side effects)."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from synapse_bot.config import Settings
from synapse_bot.listeners import register_all
from synapse_bot.listeners.follow_ups import FollowUps
from synapse_bot.listeners.intake import Intake
from synapse_bot.store.conversations import AssistantContexts
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.external import CountingConnectionHandler, CountingRateLimitHandler, CountingWebClient


def build_sign_client(settings: Settings, token: str) -> WebClient:
    """The client of the working signs: short timeout, no waiting out 429s (a sign that would wait is dropped)."""
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=5, logger=logging.getLogger("slack_sdk.web"))


def build_web_client(settings: Settings, token: str) -> WebClient:
    """A WebClient on SLACK_API_URL that waits out 429s (Retry-After) and retries dropped connections."""
    return CountingWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            CountingConnectionHandler(max_retry_count=2),
            CountingRateLimitHandler(max_retry_count=3),
        ],
        logger=logging.getLogger("slack_sdk.web"),
    )


def build_app(
    client: WebClient,
    intake: Intake,
    registry: ToolRegistry,
    *,
    follow_ups: FollowUps | None = None,
    assistant_contexts: AssistantContexts | None = None,
) -> App:
    """A Socket Mode Bolt app whose listeners only claim, enqueue and acknowledge.

    `process_before_response=True` makes Bolt acknowledge after the listener returns, i.e. after the job is
    queued, instead of before it runs (Bolt's default for events).
    """
    app = App(
        client=client,
        process_before_response=True,
        token_verification_enabled=False,  # the runtime calls auth.test itself, with a readable error
        ignoring_self_events_enabled=True,
        logger=logging.getLogger("slack_bolt.synapse"),
    )
    register_all(app, intake, registry, follow_ups=follow_ups, assistant_contexts=assistant_contexts)
    return app
