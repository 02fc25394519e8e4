"""SlackRequests for tests that hand a request straight to the code under test (no Slack event in between)."""

from __future__ import annotations

from synapse_bot.request import RequestKind, SlackRequest


def mention(
    text: str = "hello",
    *,
    dedupe_key: str = "e1",
    channel_id: str = "C1",
    thread_ts: str | None = None,
    message_ts: str | None = None,
) -> SlackRequest:
    """A mention by U1 in team T1; in a thread when `thread_ts` is given."""
    return SlackRequest(
        kind=RequestKind.MENTION,
        dedupe_key=dedupe_key,
        team_id="T1",
        user_id="U1",
        channel_id=channel_id,
        text=text,
        thread_ts=thread_ts,
        message_ts=message_ts,
    )
