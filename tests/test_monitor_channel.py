"""Keyword monitors through the sandbox: rules, alerts, flood digests, rights, persistence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings
from tests.support.waits import settled, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def team(slack: SlackSandbox) -> dict[str, str]:
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    carol = slack.add_user("carol")
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "general": slack.add_channel("general", members=[alice, bob, carol]),
        "alerts": slack.add_channel("alerts", members=[alice, bob, carol]),
        "quiet": slack.add_channel("quiet", members=[alice], bot_member=False),
    }


@pytest.fixture
def monitor_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, team: dict[str, str]
) -> Iterator[Runtime]:
    settings = make_settings(
        slack, redis_server, tmp_path, SYNAPSE_MONITOR_ALERT_INTERVAL_SECONDS=2, SYNAPSE_ADMINS=team["carol"]
    )
    runtime = Runtime(settings).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


def ask(slack: SlackSandbox, user: str, channel: str, text: str) -> dict[str, Any]:
    ts = slack.mention(user, channel, text)
    return slack.wait_for_bot_message(channel, thread_ts=ts)


def dms(slack: SlackSandbox, user: str) -> list[dict[str, Any]]:
    return slack.bot_messages(slack.im_channel(user).id)


def wait_dms(slack: SlackSandbox, user: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        found = dms(slack, user)
        return found if len(found) >= count else None

    return wait_until(enough, timeout, f"{count} DMs to {user}")


def test_a_keyword_in_the_channel_alerts_the_creator_by_dm(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    reply = ask(slack, team["alice"], team["general"], "monitor slack channel #alerts for keywords: error, disk full")
    assert "Watching" in reply["text"] and "`error`" in reply["text"] and "DM" in reply["text"]
    ts = slack.post_message(team["bob"], team["alerts"], "ERROR: Disk full on db-1")
    [alert] = wait_dms(slack, team["alice"], 1)
    assert "**error**" in alert["text"] and "**disk full**" in alert["text"]
    assert f"<@{team['bob']}>" in alert["text"] and f"<#{team['alerts']}>" in alert["text"]
    assert ts.replace(".", "") in alert["text"]  # the link to the message


def test_no_alert_without_a_whole_word_match(monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: down")
    slack.post_message(team["bob"], team["alerts"], "sundown and downtime, nothing to see")
    slack.post_message(team["bob"], team["alerts"], "all quiet")
    settled(slack, monitor_bot)
    assert dms(slack, team["alice"]) == []


def test_alerts_posted_in_the_watched_channel_do_not_trigger_themselves(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(
        slack,
        team["alice"],
        team["general"],
        f"monitor <#{team['alerts']}|alerts> for keywords: outage, alert in <#{team['alerts']}|alerts>",
    )
    slack.post_message(team["bob"], team["alerts"], "we have an outage")
    slack.wait_for_bot_message(team["alerts"], predicate=lambda m: "outage" in m["text"])
    settled(slack, monitor_bot)  # including the message event for the alert itself
    assert len([m for m in slack.bot_messages(team["alerts"]) if "**outage**" in m["text"]]) == 1


def test_an_edited_message_alerts_at_most_once(monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: critical")
    ts = slack.post_message(team["bob"], team["alerts"], "all fine")
    slack.edit_message(team["bob"], team["alerts"], ts, "actually critical")
    wait_dms(slack, team["alice"], 1)
    slack.edit_message(team["bob"], team["alerts"], ts, "actually critical, still critical")
    settled(slack, monitor_bot)
    assert len(dms(slack, team["alice"])) == 1


def test_a_flood_becomes_one_alert_and_a_digest(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: error")
    for i in range(5):
        slack.post_message(team["bob"], team["alerts"], f"error number {i}")
    first, digest = wait_dms(slack, team["alice"], 2, timeout=15)
    assert "error number" in first["text"]
    assert "Digest: 4 more matching messages" in digest["text"] and "**error** ×4" in digest["text"]
    settled(slack, monitor_bot)
    assert monitor_bot.alerts is not None and monitor_bot.alerts.flush_digests() == 0  # nothing more due
    assert len(dms(slack, team["alice"])) == 2


def test_list_and_stop_rights(monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: error")
    listing = ask(slack, team["bob"], team["general"], "list monitors")
    assert f"<#{team['alerts']}>" in listing["text"] and "`error`" in listing["text"]
    refused = ask(slack, team["bob"], team["general"], "stop monitoring #alerts")
    assert "Only a monitor's creator or an admin" in refused["text"]
    stopped = ask(slack, team["carol"], team["general"], "stop monitoring #alerts")  # carol is an admin
    assert "Stopped 1 monitor" in stopped["text"]
    assert "No channel monitors are active" in ask(slack, team["alice"], team["general"], "list monitors")["text"]
    slack.post_message(team["bob"], team["alerts"], "error after stop")
    settled(slack, monitor_bot)
    assert dms(slack, team["alice"]) == []


def test_the_bot_must_be_in_the_channel(monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]) -> None:
    reply = ask(slack, team["alice"], team["general"], f"monitor <#{team['quiet']}|quiet> for keywords: error")
    assert "/invite @synapse" in reply["text"]


def test_unusable_keywords_are_refused(monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]) -> None:
    reply = ask(slack, team["alice"], team["general"], 'monitor #alerts for keywords: "!!!", error')
    assert "can't watch for these keywords" in reply["text"]


def test_monitors_survive_a_restart(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, team: dict[str, str]
) -> None:
    settings = make_settings(slack, redis_server, tmp_path)
    first = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: deploy failed")
    finally:
        first.stop()
    second = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        slack.post_message(team["bob"], team["alerts"], "the deploy failed again")
        [alert] = wait_dms(slack, team["alice"], 1)
        assert "**deploy failed**" in alert["text"]
    finally:
        second.stop()


def _wait_home(slack: SlackSandbox, user: str, contains: str, timeout: float = 10.0) -> dict[str, Any]:
    def view() -> dict[str, Any] | None:
        found = slack.home_views.get(user)
        return found if found is not None and contains in str(found["blocks"]) else None

    return wait_until(view, timeout, f"a home view of {user} containing {contains!r}")


def test_home_tab_shows_my_monitors_and_summaries_and_stops_a_monitor(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: pager")
    root = slack.post_message(team["bob"], team["general"], "incident retro notes")
    slack.post_message(team["alice"], team["general"], "decided to add alerts", thread_ts=root)
    slack.message_shortcut(team["alice"], team["general"], root)
    slack.wait_for_bot_message(team["general"], thread_ts=root)
    slack.open_home(team["alice"])
    view = _wait_home(slack, team["alice"], "incident retro notes")
    assert "`pager`" in str(view["blocks"]) and "Summarize thread" in str(view["blocks"])
    # Bob cannot stop Alice's monitor, even with her button's payload...
    slack.click_home_button(team["bob"], "synapse_stop_monitor", view_owner=team["alice"])
    refusal = wait_dms(slack, team["bob"], 1)[0]
    assert "Only the monitor's creator" in refusal["text"]
    # ...but Alice can.
    slack.click_home_button(team["alice"], "synapse_stop_monitor")
    assert "Stopped the monitor" in wait_dms(slack, team["alice"], 1)[0]["text"]
    _wait_home(slack, team["alice"], "None yet._ Try")
    slack.post_message(team["bob"], team["alerts"], "pager went off")
    settled(slack, monitor_bot)
    assert len(dms(slack, team["alice"])) == 1  # just the "Stopped" note, no alert


def test_asking_for_the_same_monitor_twice_is_answered_already_watching_and_listed_once(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: error, disk full")
    again = ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: Disk Full, ERROR")
    assert "already watching" in again["text"]
    listed = ask(slack, team["alice"], team["general"], "list monitors")
    assert "1 active monitor" in listed["text"]


def test_one_message_alerts_a_person_once_even_through_two_of_their_rules(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: error")
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: disk full")
    ask(slack, team["bob"], team["general"], "monitor #alerts for keywords: error")
    ts = slack.post_message(team["carol"], team["alerts"], "error: disk full on db-1")
    [alert] = wait_dms(slack, team["alice"], 1)
    assert "**error**" in alert["text"] and "**disk full**" in alert["text"]
    wait_dms(slack, team["bob"], 1)  # another person's rule still alerts them
    slack.edit_message(team["carol"], team["alerts"], ts, "error: disk full on db-1 and db-2")
    slack.post_message(team["carol"], team["alerts"], "another error")
    wait_dms(slack, team["bob"], 2)  # bob's alert (or digest) for the later message: the edit was handled before it
    assert len([m for m in dms(slack, team["alice"]) if ts.replace(".", "") in m["text"]]) == 1


def test_a_digest_never_carries_a_live_mass_mention_from_a_keyword(
    monitor_bot: Runtime, slack: SlackSandbox, team: dict[str, str]
) -> None:
    ask(slack, team["alice"], team["general"], "monitor #alerts for keywords: <!channel>")
    for i in range(3):
        slack.post_message(team["bob"], team["alerts"], f"channel update {i}")
    first, digest = wait_dms(slack, team["alice"], 2, timeout=15)
    for message in (first, digest):
        assert "<!" not in message["text"], message["text"]
