"""Follow-ups without a mention, over the wire: in a thread where Synapse has answered, a message meant for it is
answered — a question or request from someone who asked it there, or a complete command from anyone — and people
talking among themselves are left alone (statements, thanks, questions to the group or to someone else; a question
that could be for anyone is put to the model in one small call). Never for bots, never in threads Synapse has not
answered in, never twice when it also mentions Synapse, not at all with SYNAPSE_FOLLOW_UPS=false; monitors still
see those messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings
from tests.support.waits import settled

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _answered_thread(slack: SlackSandbox, workspace: dict[str, str]) -> str:
    root = slack.mention(workspace["alice"], workspace["general"], "list monitors")
    slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    return root


def _queued_by(bot: Runtime, slack: SlackSandbox, act: object) -> int:
    """How many jobs the gateway queued for the event(s) `act` sent (decided before each ack)."""
    assert bot.failover is not None
    before = bot.failover.queued
    sent = len(slack.hub.envelopes)
    if callable(act):
        act()
    for envelope_id in list(slack.hub.envelopes)[sent:]:
        slack.wait_for_ack(envelope_id)
    return bot.failover.queued - before


def test_a_follow_up_without_a_mention_is_answered_in_the_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    root = _answered_thread(slack, workspace)
    slack.post_message(workspace["bob"], workspace["general"], "help", thread_ts=root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=2)
    assert "summarize_thread" in reply["text"]


def test_messages_for_someone_else_in_other_threads_or_from_bots_are_left_alone(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    alice, bob, general = workspace["alice"], workspace["bob"], workspace["general"]
    root = _answered_thread(slack, workspace)
    quiet = slack.post_message(alice, general, "standup notes")
    other_bot = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0OTHER",
        "text": "help",
        "channel": general,
        "channel_type": "channel",
        "thread_ts": root,
        "ts": slack.workspace.next_ts(),
    }
    assert _queued_by(bot, slack, lambda: slack.post_message(alice, general, f"<@{bob}> can you check?", root)) == 0
    assert _queued_by(bot, slack, lambda: slack.post_message(alice, general, "<!here> heads up", root)) == 0
    assert _queued_by(bot, slack, lambda: slack.post_message(bob, general, "help", thread_ts=quiet)) == 0
    assert _queued_by(bot, slack, lambda: slack.send_event(other_bot)) == 0
    assert len(slack.bot_messages(general, thread_ts=root)) == 1


def test_a_follow_up_that_also_mentions_synapse_is_answered_once(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    root = _answered_thread(slack, workspace)
    queued = _queued_by(bot, slack, lambda: slack.mention(workspace["bob"], workspace["general"], "help", root))
    slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=2)
    assert queued == 1  # the app_mention; the message event beside it queued nothing
    assert len(slack.bot_messages(workspace["general"], thread_ts=root)) == 2


def test_a_follow_up_still_feeds_the_channel_monitors(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    alice, general = workspace["alice"], workspace["general"]
    ts = slack.mention(alice, general, f"monitor slack channel <#{general}> for keywords: rollback")
    slack.wait_for_bot_message(general, thread_ts=ts, predicate=lambda m: "Watching" in m["text"])
    slack.post_message(alice, general, "can you check whether we need a rollback?", thread_ts=ts)
    slack.wait_for_bot_message(general, thread_ts=ts, count=2)
    dm = slack.im_channel(alice).id
    alert = slack.wait_for_bot_message(dm, predicate=lambda m: "rollback" in m["text"])
    assert "rollback" in alert["text"]


@pytest.fixture
def bot_without_follow_ups(slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(make_settings(slack, redis_server, tmp_path, SYNAPSE_FOLLOW_UPS=False)).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


def test_follow_ups_can_be_turned_off(
    bot_without_follow_ups: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    root = _answered_thread(slack, workspace)
    queued = _queued_by(
        bot_without_follow_ups,
        slack,
        lambda: slack.post_message(workspace["bob"], workspace["general"], "help", thread_ts=root),
    )
    assert queued == 0


def test_people_talking_among_themselves_get_no_answer_and_real_follow_ups_do(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    """The thread of one question, then the team's own conversation with two real follow-ups in it."""
    alice, bob, general = workspace["alice"], workspace["bob"], workspace["general"]
    meant = {"is the retry queue the bottleneck?": "yes", "is it the cache?": "no"}

    def respond(body: dict[str, Any]) -> Reply:
        system = str(body["messages"][0]["content"])
        if "Reply with one word: yes or no" in system:
            newest = str(body["messages"][-1]["content"])
            return Reply.text(next((v for k, v in meant.items() if k in newest), "no"))
        return Reply.text(f"Answer {len(model.requests)}.")

    model.set_responder(respond)
    root = slack.mention(alice, general, "why is checkout slow since 09:00?")
    slack.wait_for_bot_message(general, thread_ts=root)
    chatter = [
        (bob, "I think it's the token refresh race again."),
        (alice, "thanks!"),
        (bob, "does anyone know who owns the billing service?"),
        (alice, f"<@{bob}> can you look at the dashboards?"),
        (bob, "can you also check the staging logs?"),  # bob never asked Synapse here
        (alice, "I'll open a ticket."),
        (alice, "is it the cache?"),  # the model says this one is for the people
        (bob, "+1"),
    ]
    for who, text in chatter:
        slack.post_message(who, general, text, thread_ts=root)
    settled(slack, model_bot)
    assert len(slack.bot_messages(general, thread_ts=root)) == 1  # only the first answer
    checks = [r for r in model.requests if "yes or no" in str(r["messages"][0]["content"])]
    assert len(checks) == 1 and checks[0]["max_tokens"] <= 3  # "is it the cache?": one small call
    slack.post_message(alice, general, "can you also check the staging logs?", thread_ts=root)
    slack.post_message(alice, general, "is the retry queue the bottleneck?", thread_ts=root)
    slack.wait_for_bot_message(general, thread_ts=root, count=3)
    settled(slack, model_bot)
    assert len(slack.bot_messages(general, thread_ts=root)) == 3  # both real follow-ups answered, nothing else
