"""What a listener hands to a worker: one Slack request, fully described, serialisable (JSON) for a queue."""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, Field


class RequestKind(StrEnum):
    MENTION = "mention"
    COMMAND = "command"
    SHORTCUT = "shortcut"
    MESSAGE = "message"
    ACTION = "action"
    HOME = "home"
    THREAD_STARTED = "thread_started"  # the agent view opened a thread: greet, suggest prompts
    AUTOMATIC = "automatic"  # work nobody asked for just now: a subscription's triage or review of what arrived


class Surface(StrEnum):
    """Where a question was asked: it decides what "here" means and how the answer is shown."""

    CHANNEL = "channel"  # an @-mention, a command or a shortcut in a channel
    DM = "dm"  # a direct message to Synapse (the DM thread is "this thread")
    ASSISTANT = "assistant"  # a thread of Slack's agent view (the side panel), or any DM thread
    FOLLOW_UP = "follow_up"  # a message without a mention in a thread where Synapse has answered


class SlackRequest(BaseModel):
    """One thing a person asked of Synapse, with where the answer must go."""

    kind: RequestKind
    dedupe_key: str = Field(description="Unique per Slack delivery: event_id, or the trigger id of a command")
    team_id: str
    user_id: str
    channel_id: str = ""
    text: str = ""
    thread_ts: str | None = Field(default=None, description="The thread the reply goes to")
    message_ts: str | None = Field(default=None, description="The message that triggered the request")
    response_url: str | None = None
    callback_id: str | None = None
    action_id: str | None = None
    action_value: str | None = None
    retry_attempt: int = 0
    received_at: float = Field(default_factory=time.time)
    event: dict[str, object] = Field(default_factory=dict, description="The raw event, for message routing")
    surface: Surface = Surface.CHANNEL
    confirm_addressed: bool = Field(
        default=False, description="A follow-up that may be for the people in the thread: check before answering"
    )
    context_channel_id: str | None = Field(
        default=None, description="The channel the person is looking at in the agent view ('this channel')"
    )

    @property
    def thread_asked_in(self) -> str | None:
        """The thread this was asked in — one place for the question, which the thread context, the model's
        prompt, the progress line and the thread tools all ask: a reply's thread (a DM thread and a follow-up
        included); for the message shortcut, the thread of the message it was used on (its `thread_ts` is that
        message's thread even at the top level); None at a channel's top level."""
        if not self.thread_ts:
            return None
        if self.kind is RequestKind.SHORTCUT or self.thread_ts != self.message_ts:
            return self.thread_ts
        return None
