"""Time windows from people's words (pure): calendar words in the person's zone, rounded durations, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from synapse_bot.summaries.window import WindowError, parse_point, parse_window

LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 30, 17, 47, 31, tzinfo=UTC)  # a Monday


def at(text: str, zone: ZoneInfo = LONDON) -> str:
    return parse_point(text, NOW, zone).strftime("%a %Y-%m-%d %H:%M")


def test_calendar_words_start_at_midnight_in_the_persons_zone() -> None:
    assert at("yesterday") == "Sun 2026-11-29 00:00"
    assert at("today") == "Mon 2026-11-30 00:00"
    assert at("today", TOKYO) == "Tue 2026-12-01 00:00"  # already Tuesday in Tokyo
    assert at("this week") == "Mon 2026-11-30 00:00"
    assert at("friday") == "Fri 2026-11-27 00:00" and at("since fri") == "Fri 2026-11-27 00:00"
    assert at("monday") == "Mon 2026-11-30 00:00" and at("last monday") == "Mon 2026-11-23 00:00"


def test_durations_count_back_from_now_rounded_down_to_a_quarter_hour() -> None:
    assert at("24 hours") == "Sun 2026-11-29 17:45"
    assert at("last 24h") == "Sun 2026-11-29 17:45"
    assert at("past 3 days") == "Fri 2026-11-27 17:45"
    assert at("last hour") == "Mon 2026-11-30 16:45"
    assert at("an hour ago") == "Mon 2026-11-30 16:45"
    assert at("30 minutes") == "Mon 2026-11-30 17:17"  # under an hour: to the minute


def test_dates_times_of_day_and_slack_timestamps() -> None:
    assert at("2026-11-28") == "Sat 2026-11-28 00:00"
    assert at("2026-11-28 09:30") == "Sat 2026-11-28 09:30"
    assert at("09:00") == "Mon 2026-11-30 09:00"
    assert at("18:00") == "Sun 2026-11-29 18:00"  # later than now today: yesterday's
    assert at(f"{NOW.timestamp() - 60:.6f}") == "Mon 2026-11-30 17:46"


def test_a_window_defaults_to_the_last_day_and_asked_twice_minutes_apart_is_the_same() -> None:
    first = parse_window(None, None, NOW, LONDON)
    later = parse_window(None, None, NOW.replace(minute=52), LONDON)
    assert first == later and first.end is None
    assert first.label() == "since Sun 29 Nov 17:45 (Europe/London)"


def test_a_closed_window_has_an_end_and_says_so() -> None:
    window = parse_window("friday", "saturday", NOW, LONDON)
    assert window.latest_ts is not None and "until Sat 28 Nov 00:00" in window.label()


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("the day the music died", None, "I can't tell when"),
        ("today", "yesterday", "empty"),
        ("2025-01-01", None, "longer than"),
        ("25:00", None, "not a time of day"),
    ],
)
def test_windows_that_cannot_work_say_why(since: str, until: str | None, says: str) -> None:
    with pytest.raises(WindowError, match=says):
        parse_window(since, until, NOW, LONDON)
