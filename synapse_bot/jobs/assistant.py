"""Agent-view threads (Slack's assistant side panel): the greeting with suggested prompts, and each thread's title.

The prompts are the tools' own help examples (so a new tool shows up here with no change), skipping the ones that
only make sense inside a channel thread; Slack shows at most four.
"""

from __future__ import annotations

import logging
import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.jobs.reply import ReplyPoster
from synapse_bot.request import SlackRequest
from synapse_bot.store.conversations import AssistantContexts
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

MAX_PROMPTS = 4
TITLE_CHARS = 60
NOT_FROM_THE_PANEL = re.compile(r"this thread|\d{9,}\.\d+", re.IGNORECASE)


def suggested_prompts(registry: ToolRegistry) -> list[dict[str, str]]:
    prompts = []
    for tool in registry:
        example = next((e for e in tool.examples if not NOT_FROM_THE_PANEL.search(e)), None)
        if example is None or tool.name == "help":
            continue
        title = tool.summary.split(":")[0].strip()
        prompts.append({"title": (title[:1].upper() + title[1:])[:TITLE_CHARS], "message": example})
    return prompts[:MAX_PROMPTS]


def greeting(request: SlackRequest) -> str:
    where = (
        f' You\'re looking at <#{request.context_channel_id}>: ask about it and "this channel" means it.'
        if request.context_channel_id
        else ""
    )
    return (
        f"Hi <@{request.user_id}>, I'm Synapse. I summarize threads and channels, watch channels for keywords, "
        f"triage GitHub issues and review pull requests.{where} Pick a suggestion or just ask; `help` lists it all."
    )


def thread_title(text: str) -> str:
    clean = re.sub(r"<[@#!][^>]*>", "", text).strip() or "Question"
    return clean if len(clean) <= TITLE_CHARS else clean[: TITLE_CHARS - 1].rstrip() + "…"


class AssistantThreadJob:
    def __init__(
        self, registry: ToolRegistry, client: WebClient, poster: ReplyPoster, contexts: AssistantContexts
    ) -> None:
        self.registry = registry
        self.client = client
        self.poster = poster
        self.contexts = contexts

    def __call__(self, request: SlackRequest, trace: RequestTrace) -> None:
        """A new agent-view thread: greet (exactly once) and offer the prompts."""
        try:
            self.client.assistant_threads_setSuggestedPrompts(
                channel_id=request.channel_id,
                thread_ts=request.thread_ts,
                prompts=suggested_prompts(self.registry),
                title="Try one of these",
            )
        except SlackApiError as exc:
            log.info("suggested prompts refused", extra={"error": exc.response.get("error")})
        self.poster.post_once(request, trace, greeting(request))

    def on_question(self, request: SlackRequest) -> None:
        """The thread's first question names it (`assistant.threads.setTitle`)."""
        if not request.thread_ts or not self.contexts.first_title(request.channel_id, request.thread_ts):
            return
        try:
            self.client.assistant_threads_setTitle(
                channel_id=request.channel_id, thread_ts=request.thread_ts, title=thread_title(request.text)
            )
        except SlackApiError as exc:
            log.info("thread title refused", extra={"error": exc.response.get("error")})
