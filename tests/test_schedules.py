"""Schedules over the wire: made with a mention, run by the scheduler onto the real request queue, posted by the
bot's worker into the Slack sandbox from what the GitHub stand-in serves. The scheduler's clock is a parameter: these
tests move time on to the due time instead of waiting for it (the bot's own scheduler keeps the real clock)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse_bot.background.scheduler import Scheduler
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.workspace import SlackSandbox
from tests.support.github_feed import REPO, feed_bot, github_with_repo
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        github_with_repo(server, private="acme/secret")
        server.add_repo("acme/quiet")  # nothing waiting there
        server.add_pull(REPO, "Old change nobody reviews", user="alice", created_at="2026-11-01T10:00:00Z")
        server.add_pull(
            REPO, "Waiting on bob", user="carol", requested_reviewers=["bob-gh"], created_at="2026-11-20T10:00:00Z"
        )
        approved = server.add_pull(REPO, "Approved already", user="carol", created_at="2026-11-21T10:00:00Z")
        server.add_review(REPO, approved, "bob-gh", "APPROVED")
        server.add_pull(REPO, "A draft", user="alice", draft=True, created_at="2026-11-02T10:00:00Z")
        changes = server.add_pull(REPO, "Needs another pass", user="alice-gh", created_at="2026-11-25T10:00:00Z")
        server.add_review(REPO, changes, "bob-gh", "CHANGES_REQUESTED")
        yield server


@pytest.fixture
def people(slack: SlackSandbox) -> dict[str, str]:
    alice = slack.add_user("alice", real_name="Alice Admin", tz="Europe/Berlin")
    bob = slack.add_user("bob", real_name="Bob Builder", tz="America/Los_Angeles")
    return {"alice": alice, "bob": bob, "dev": slack.add_channel("dev", members=[alice, bob])}


@pytest.fixture
def bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> Iterator[Runtime]:
    runtime = feed_bot(
        slack,
        redis_server,
        tmp_path,
        github,
        SYNAPSE_GITHUB_POLL_SECONDS=600,
        SYNAPSE_GITHUB_USERS=json.dumps({people["bob"]: "bob-gh"}),
    )
    yield runtime
    runtime.stop()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ask(slack: SlackSandbox, user: str, channel: str, text: str) -> str:
    ts = slack.mention(user, channel, text)
    return str(slack.wait_for_bot_message(channel, thread_ts=ts, timeout=15)["text"])


def make(slack: SlackSandbox, user: str, channel: str, text: str) -> str:
    """Make a schedule; its id (the test fails here if it was refused)."""
    reply = ask(slack, user, channel, text)
    assert reply.startswith("Scheduled"), reply
    return reply.split("`")[1]


def made_due(bot: Runtime, slack: SlackSandbox, user: str, channel: str, text: str) -> tuple[str, float]:
    """Make a schedule; its id and its first due time."""
    schedule_id = make(slack, user, channel, text)
    assert bot.schedules is not None
    due = bot.schedules.next_due(slack.team_id, schedule_id)
    assert due is not None
    return schedule_id, due


def scheduler(bot: Runtime, now: float) -> tuple[Scheduler, Clock]:
    assert bot.schedules is not None and bot.queue is not None and bot.services is not None
    assert bot.services.slack is not None
    clock = Clock(now)
    return Scheduler(bot.schedules, bot.queue, bot.services.slack, clock=clock), clock


def top_level(slack: SlackSandbox, channel: str) -> list[str]:
    return [str(m["text"]) for m in slack.bot_messages(channel) if m.get("thread_ts") in (None, m["ts"])]


def test_a_review_reminder_posts_once_at_its_due_time_listing_what_waits_oldest_first(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    schedule_id, due = made_due(
        bot,
        slack,
        people["alice"],
        people["dev"],
        f"remind <#{people['dev']}|dev> about reviews in {REPO} every weekday at 09:00",
    )
    assert bot.schedules is not None
    first, clock = scheduler(bot, due - 5)
    second, other_clock = scheduler(bot, due - 5)
    assert first.run_due() <= 5  # it sleeps until the due time, not a minute
    assert top_level(slack, people["dev"]) == []
    clock.now = other_clock.now = due + 0.5
    first.run_due()
    second.run_due()  # another process at the same moment: the claim is taken
    assert first.submitted + second.submitted == 1
    wait_until(lambda: top_level(slack, people["dev"]), 15, "the reminder")
    [reminder] = top_level(slack, people["dev"])
    assert "Pull requests waiting for review" in reminder
    assert (
        reminder.index("Old change nobody reviews")
        < reminder.index("Waiting on bob")
        < reminder.index("Needs another pass")
    )
    assert "Approved already" not in reminder and "A draft" not in reminder
    assert "no reviewer" in reminder and "waiting on bob-gh" in reminder and "changes requested by bob-gh" in reminder
    next_due = bot.schedules.next_due(slack.team_id, schedule_id)
    assert next_due is not None and next_due - due >= 86400 - 3600  # the next weekday at 09:00 Berlin
    first.run_due()
    assert first.submitted + second.submitted == 1  # nothing more at the same moment


def test_a_missed_run_is_skipped_and_the_next_post_says_so(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    schedule_id, due = made_due(
        bot,
        slack,
        people["alice"],
        people["dev"],
        f"remind <#{people['dev']}|dev> about reviews in {REPO} every day at 09:00",
    )
    assert bot.schedules is not None
    late, clock = scheduler(bot, due + 86400 + 2 * 3600)  # down for a day and two hours
    late.run_due()
    assert late.submitted == 0 and late.skipped == 1
    next_due = bot.schedules.next_due(slack.team_id, schedule_id)
    assert next_due == due + 2 * 86400
    clock.now = next_due + 1
    late.run_due()
    wait_until(lambda: top_level(slack, people["dev"]), 15, "the post after the missed runs")
    assert "2 earlier runs were missed while Synapse was down" in top_level(slack, people["dev"])[0]


def test_a_schedule_in_an_archived_channel_is_paused_and_its_owner_told_once(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    schedule_id, due = made_due(
        bot, slack, people["alice"], people["dev"], f"recap <#{people['dev']}|dev> every day at 09:00"
    )
    assert bot.schedules is not None
    slack.archive_channel(people["dev"])
    run, clock = scheduler(bot, due + 1)
    run.run_due()
    assert run.submitted == 0 and bot.schedules.next_due(slack.team_id, schedule_id) is None
    dm = slack.im_channel(people["alice"]).id
    wait_until(lambda: slack.bot_messages(dm), 10, "the owner's notice")
    [notice] = slack.bot_messages(dm)
    assert f"paused your schedule `{schedule_id}`" in notice["text"] and "archived" in notice["text"]
    clock.now = due + 2 * 86400
    run.run_due()
    assert len(slack.bot_messages(dm)) == 1


def test_cancel_and_list_schedules(bot: Runtime, slack: SlackSandbox, people: dict[str, str]) -> None:
    mine = make(
        slack,
        people["alice"],
        people["dev"],
        f"remind <#{people['dev']}|dev> about reviews in {REPO} every monday at 10:00",
    )
    listed = ask(slack, people["bob"], people["dev"], "list schedules")
    assert mine in listed and "every Monday at 10:00 (Europe/Berlin)" in listed
    refused = ask(slack, people["bob"], people["dev"], f"cancel schedule {mine}")
    assert "only they or an admin" in refused
    assert "Cancelled" in ask(slack, people["alice"], people["dev"], f"cancel schedule {mine}")
    assert bot.schedules is not None and bot.schedules.get(slack.team_id, mine) is None
    assert "No schedules" in ask(slack, people["alice"], people["dev"], "list schedules")


def test_my_reviews_come_by_dm_from_the_login_the_operator_set(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    refused = ask(slack, people["alice"], people["dev"], f"remind me about my reviews in {REPO} every day at 08:45")
    assert "my github is" in refused
    assert "Noted" in ask(slack, people["alice"], people["dev"], "my github is alice-gh")
    _, due = made_due(
        bot, slack, people["bob"], people["dev"], f"remind me about my reviews in {REPO} every day at 08:45"
    )
    assert bot.schedules is not None
    run, _ = scheduler(bot, due + 1)
    run.run_due()
    dm = slack.im_channel(people["bob"]).id
    wait_until(lambda: slack.bot_messages(dm), 15, "bob's DM")
    text = slack.bot_messages(dm)[0]["text"]
    assert "Asked of you" in text and "Waiting on bob" in text and "Old change" not in text


def test_bad_schedules_are_refused_with_what_to_say(bot: Runtime, slack: SlackSandbox, people: dict[str, str]) -> None:
    dev = f"<#{people['dev']}|dev>"
    assert "is not a day" in ask(
        slack, people["alice"], people["dev"], f"remind {dev} about reviews in {REPO} every someday at 09:00"
    )
    assert "HH:MM" in ask(
        slack, people["alice"], people["dev"], f"remind {dev} about reviews in {REPO} every day at 25:00"
    )
    private = ask(slack, people["bob"], people["dev"], f"remind {dev} about reviews in acme/secret every day at 09:00")
    assert "private" in private and "admin" in private
    six = ", ".join(f"acme/r{n}" for n in range(6))
    assert "At most 5 repositories" in ask(
        slack, people["alice"], people["dev"], f"remind {dev} about reviews in {six} every day at 09:00"
    )


def test_a_quiet_schedule_posts_nothing_when_nothing_waits_and_a_plain_one_says_so_in_one_line(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    dev = f"<#{people['dev']}|dev>"
    quiet = make(
        slack, people["alice"], people["dev"], f"remind {dev} about reviews in acme/quiet every day at 09:00 quiet"
    )
    plain = make(slack, people["alice"], people["dev"], f"remind {dev} about reviews in acme/quiet every day at 09:00")
    assert bot.schedules is not None
    due = bot.schedules.next_due(slack.team_id, quiet)
    assert due is not None and due == bot.schedules.next_due(slack.team_id, plain)
    run, _ = scheduler(bot, due + 1)
    run.run_due()
    assert run.submitted == 2
    wait_until(lambda: top_level(slack, people["dev"]), 15, "the plain schedule's line")
    wait_until(lambda: int(bot.health().get("jobs_done", 0)) >= 4, 15, "both runs done")  # 2 made + 2 runs
    assert top_level(slack, people["dev"]) == ["No pull requests are waiting for review in `acme/quiet`."]


def test_a_recap_schedule_posts_the_channels_recap_since_the_last_day(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    slack.post_message(people["bob"], people["dev"], "The deploy of 2.4 is blocked on the flaky auth test")
    slack.post_message(people["alice"], people["dev"], "Decision: we roll back the cache change and retry tomorrow")
    # Due within the next day: the window (the day before it) holds the messages above.
    _, due = made_due(bot, slack, people["alice"], people["dev"], f"recap <#{people['dev']}|dev> every day at 09:00")
    run, _ = scheduler(bot, due + 1)
    run.run_due()

    def recap() -> list[str]:
        return [t for t in top_level(slack, people["dev"]) if "Recap of" in t]

    wait_until(recap, 15, "the scheduled recap")
    assert "roll back the cache change" in recap()[0]


def test_a_schedule_in_a_channel_synapse_was_removed_from_is_paused_and_resumed_by_its_owner(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    schedule_id, due = made_due(
        bot,
        slack,
        people["alice"],
        people["dev"],
        f"remind <#{people['dev']}|dev> about reviews in {REPO} every day at 09:00",
    )
    assert bot.schedules is not None
    slack.remove_bot(people["dev"])
    run, _ = scheduler(bot, due + 1)
    run.run_due()
    dm = slack.im_channel(people["alice"]).id
    wait_until(lambda: slack.bot_messages(dm), 10, "the owner's notice")
    assert "no longer in" in slack.bot_messages(dm)[0]["text"]
    ts = slack.mention(people["alice"], dm, f"resume schedule {schedule_id}")
    assert "Resumed" in str(slack.wait_for_bot_message(dm, thread_ts=ts, timeout=15)["text"])
    assert bot.schedules.next_due(slack.team_id, schedule_id) is not None


def test_runs_hold_to_the_channels_posting_rate_and_still_post_once(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    bot = feed_bot(
        slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_POLL_SECONDS=600, SYNAPSE_CHANNEL_REQUESTS_PER_MINUTE=60
    )
    try:
        dev = f"<#{people['dev']}|dev>"
        first = make(slack, people["alice"], people["dev"], f"remind {dev} about reviews in {REPO} every day at 09:00")
        second = make(
            slack, people["alice"], people["dev"], f"remind {dev} about reviews in acme/quiet every day at 09:00"
        )
        assert bot.schedules is not None and bot.limiter is not None
        due = bot.schedules.next_due(slack.team_id, first)
        assert due is not None
        while bot.limiter.channel_wait(slack.team_id, people["dev"]) == 0:
            pass  # the channel has just used up its posts for the minute
        run, clock = scheduler(bot, due + 1)
        run.limiter = bot.limiter
        run.run_due()
        assert run.submitted == 0 and run.deferred == 2  # nothing posted over the rate

        def caught_up() -> bool:
            clock.now += 1
            run.run_due()
            return run.submitted == 2

        wait_until(caught_up, 30, "both runs in their turn")
        wait_until(lambda: len(top_level(slack, people["dev"])) == 2, 15, "two reminders")
        assert {bot.schedules.next_due(slack.team_id, s) for s in (first, second)} == {due + 86400}
    finally:
        bot.stop()


def test_schedules_survive_a_restart(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, github: GitHubServer, people: dict[str, str]
) -> None:
    prefix = f"restart-{uuid.uuid4().hex[:8]}"  # both processes' keyspace (each test has its own by default)
    first = feed_bot(slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_POLL_SECONDS=600, SYNAPSE_KEY_PREFIX=prefix)
    try:
        made = make(
            slack,
            people["alice"],
            people["dev"],
            f"remind <#{people['dev']}|dev> about reviews in {REPO} every friday at 16:00",
        )
        assert first.schedules is not None
        due = first.schedules.next_due(slack.team_id, made)
    finally:
        first.stop()
    again = feed_bot(slack, redis_server, tmp_path, github, SYNAPSE_GITHUB_POLL_SECONDS=600, SYNAPSE_KEY_PREFIX=prefix)
    try:
        assert made in ask(slack, people["alice"], people["dev"], "list schedules")
        assert again.schedules is not None and again.schedules.next_due(slack.team_id, made) == due
    finally:
        again.stop()


def test_the_home_tab_lists_my_schedules_and_cancels_one_only_for_its_owner(
    bot: Runtime, slack: SlackSandbox, people: dict[str, str]
) -> None:
    made = make(
        slack,
        people["alice"],
        people["dev"],
        f"remind <#{people['dev']}|dev> about reviews in {REPO} every monday at 10:00",
    )
    slack.open_home(people["alice"])

    def home(contains: str) -> bool:
        view = slack.home_views.get(people["alice"])
        return view is not None and contains in str(view["blocks"])

    wait_until(lambda: home(made), 10, "alice's home tab with her schedule")
    slack.click_home_button(people["bob"], "synapse_cancel_schedule", view_owner=people["alice"])
    bob_dm = slack.im_channel(people["bob"]).id
    wait_until(lambda: slack.bot_messages(bob_dm), 10, "bob's refusal")
    assert "only they or an admin" in slack.bot_messages(bob_dm)[0]["text"]
    assert bot.schedules is not None and bot.schedules.get(slack.team_id, made) is not None
    slack.click_home_button(people["alice"], "synapse_cancel_schedule")
    alice_dm = slack.im_channel(people["alice"]).id
    wait_until(lambda: slack.bot_messages(alice_dm), 10, "alice's confirmation")
    assert "Cancelled schedule" in slack.bot_messages(alice_dm)[0]["text"]
    wait_until(lambda: home("remind #dev about reviews"), 10, "the home tab without it")
    assert bot.schedules.get(slack.team_id, made) is None
