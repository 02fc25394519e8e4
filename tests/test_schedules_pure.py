"""Schedules without I/O: days and times as people say them, the next due time in a zone across daylight-saving
changes, what a late or missed run does, why a pull request is stuck, and the commands' grammar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from synapse_bot.github_data import ReviewData, WaitingPull
from synapse_bot.schedules.model import Schedule, ScheduleKind
from synapse_bot.schedules.plan import MISSED_GRACE_S, plan_run
from synapse_bot.schedules.reviews import RepoQueue, render_queue, waiting, why_stuck
from synapse_bot.schedules.timing import TimingError, next_due, parse_days, parse_time
from synapse_bot.tools.grammar import ToolCall
from synapse_bot.tools.schedule import _parse


def at(zone: str, *parts: int) -> float:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


def local(epoch: float, zone: str) -> datetime:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone))


def test_days_and_times_as_people_say_them() -> None:
    assert parse_days("day") == frozenset(range(7))
    assert parse_days("weekday") == frozenset(range(5))
    assert parse_days("monday, thursday") == frozenset({0, 3})
    assert parse_days("Mondays and Fridays") == frozenset({0, 4})
    assert parse_days("monday-thursday") == parse_days("mon to thu") == frozenset({0, 1, 2, 3})
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert parse_time("noon").hour == 12
    assert parse_time("09:00").hour == 9 and parse_time("5:30pm").hour == 17 and parse_time("12am").hour == 0
    with pytest.raises(TimingError, match="is not a day"):
        parse_days("someday")
    with pytest.raises(TimingError, match="HH:MM"):
        parse_time("25:00")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
def test_the_next_weekday_morning_in_the_owners_zone(zone: str) -> None:
    friday_evening = at(zone, 2026, 12, 11, 18, 0)
    due = next_due(parse_days("weekday"), parse_time("09:00"), zone, friday_evening)
    assert local(due, zone) == datetime(2026, 12, 14, 9, 0, tzinfo=ZoneInfo(zone))  # Monday, 09:00 there
    again = next_due(parse_days("weekday"), parse_time("09:00"), zone, due)
    assert local(again, zone).day == 15  # strictly after: not the same instant twice


def test_daylight_saving_keeps_the_wall_clock_time() -> None:
    zone = "Europe/Berlin"  # clocks go forward on 2026-03-29 and back on 2026-10-25
    before = next_due(parse_days("day"), parse_time("09:00"), zone, at(zone, 2026, 3, 27, 12, 0))
    after = next_due(parse_days("day"), parse_time("09:00"), zone, before)
    assert local(before, zone).hour == 9 and local(after, zone).hour == 9
    assert after - before == timedelta(hours=23).total_seconds()  # the short day
    autumn = next_due(parse_days("day"), parse_time("09:00"), zone, at(zone, 2026, 10, 24, 9, 0))
    assert autumn - at(zone, 2026, 10, 24, 9, 0) == timedelta(hours=25).total_seconds()  # the long day


def test_a_time_the_clock_skips_posts_right_after_the_gap_and_a_repeated_one_the_first_time() -> None:
    zone = "Europe/Berlin"
    skipped = next_due(parse_days("sunday"), parse_time("02:30"), zone, at(zone, 2026, 3, 28, 12, 0))
    assert local(skipped, zone).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)
    twice = next_due(parse_days("sunday"), parse_time("02:30"), zone, at(zone, 2026, 10, 24, 12, 0))
    assert datetime.fromtimestamp(twice, UTC).hour == 0  # 02:30 CEST (UTC+2), the first of the two


def schedule(**changes: object) -> Schedule:
    values: dict[str, object] = {
        "team_id": "T1",
        "kind": ScheduleKind.REVIEWS,
        "owner": "U1",
        "channel_id": "C1",
        "repos": ["acme/widgets"],
        "days": list(range(7)),
        "at": "09:00",
        "tz": "UTC",
        "created_at": 0.0,
    }
    return Schedule.model_validate({**values, **changes})


def test_a_run_late_by_less_than_an_hour_runs_once_and_an_older_one_is_skipped_and_counted() -> None:
    s = schedule()
    due = at("UTC", 2026, 12, 8, 9, 0)
    late = plan_run(s, due, due + MISSED_GRACE_S - 60)
    assert late.run and late.missed == 0 and late.next_due == at("UTC", 2026, 12, 9, 9, 0)
    three_days = plan_run(s, due, due + 2 * 86400 + 7200)
    assert not three_days.run and three_days.missed == 3  # the 8th, 9th and 10th
    assert three_days.next_due == at("UTC", 2026, 12, 11, 9, 0)


def pull(number: int, **changes: object) -> WaitingPull:
    values: dict[str, object] = {
        "repo": "acme/widgets",
        "number": number,
        "title": f"Change {number}",
        "url": f"https://github.com/acme/widgets/pull/{number}",
        "author": "alice",
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
        "requested": [],
        "reviews": [],
        "failed_checks": [],
        "pending_checks": 0,
    }
    return WaitingPull(**{**values, **changes})  # type: ignore[arg-type]


def test_why_a_pull_request_is_stuck_names_who_has_to_act() -> None:
    assert why_stuck(pull(1)) == "no reviewer"
    assert why_stuck(pull(2, requested=["bob"])) == "waiting on bob"
    assert "changes requested by carol" in why_stuck(pull(3, reviews=[ReviewData("carol", "CHANGES_REQUESTED")]))
    assert "failing checks (test)" in why_stuck(pull(4, failed_checks=["test"], requested=["bob"]))
    approved = pull(5, reviews=[ReviewData("bob", "APPROVED")])
    assert not waiting(approved) and waiting(pull(6, reviews=[ReviewData("bob", "APPROVED")], requested=["carol"]))


def test_the_reminder_lists_oldest_first_with_age_and_says_how_many_more() -> None:
    now = datetime(2026, 12, 8, tzinfo=UTC)
    text = render_queue([RepoQueue("acme/widgets", [pull(1), pull(2, requested=["bob"])], more=3)], now)
    assert text is not None
    assert text.index("#1 Change 1") < text.index("#2 Change 2") and "7 days old" in text
    assert "(5)" in text and "3 more" in text
    assert render_queue([RepoQueue("acme/widgets", [])], now) is None


def test_the_schedule_commands_parse_into_calls() -> None:
    assert _parse("remind #dev about reviews in acme/widgets, acme/api every weekday at 09:00", "") == [
        ToolCall(
            "schedule",
            {
                "kind": "reviews",
                "channel": "#dev",
                "repos": ["acme/widgets", "acme/api"],
                "days": "weekday",
                "at": "09:00",
                "quiet": False,
            },
        )
    ]
    [recap] = _parse("recap <#C0000001|dev> every monday, thursday at 9:30 quiet", "")  # type: ignore[misc]
    assert recap.args["kind"] == "recap" and recap.args["channel"] == "C0000001" and recap.args["quiet"]
    [mine] = _parse("remind me about my reviews every day at 08:45", "")  # type: ignore[misc]
    assert mine.args["kind"] == "my_reviews" and mine.args["repos"] == []
    assert _parse("cancel schedule s1a2b3c", "") == [ToolCall("cancel_schedule", {"id": "s1a2b3c"})]
    assert _parse("list schedules", "") == [ToolCall("list_schedules", {})]
    [ranged] = _parse("recap #dev every mon-fri at noon", "")  # type: ignore[misc]
    assert ranged.args["days"] == "mon-fri" and ranged.args["at"] == "noon"
    assert _parse("recap #dev since yesterday", "") is None  # a recap now, not a schedule
    assert "didn't get the schedule" in str(_parse("remind everyone every so often", "remind everyone every so often"))
