"""When a schedule is due: its days and wall-clock time in its owner's time zone, as the next instant after a moment.

Pure: no clock is read here. A time kept in a zone keeps its wall-clock reading across daylight-saving changes
(09:00 stays 09:00); on the spring-forward day a time that does not exist (02:30 in Berlin) is posted at the first
minute after the gap, and on the fall-back day an hour that happens twice is posted the first time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT = {name[:3]: i for i, name in enumerate(DAY_NAMES)}
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.I)


class TimingError(ValueError):
    """A day list, time or time zone a person can correct; the message says how."""


def _day(word: str) -> int | None:
    name = word.rstrip("s") if len(word) > 3 else word
    if name in DAY_NAMES or (len(name) == 3 and name in _SHORT):
        return _SHORT[name[:3]]
    return None


def parse_days(text: str) -> frozenset[int]:
    """`day`, `weekday`, a day name (`monday`, `mon`, `mondays`), a range (`monday-friday`, `mon to thu`) or a comma
    list of them, as weekday numbers (Monday = 0)."""
    spaced = re.sub(r"\s*(?:-|–|\bto\b|\bthrough\b)\s*", "-", text.strip().lower())
    words = [w for w in re.split(r"[,\s]+|\band\b", spaced) if w and w != "and"]
    if not words:
        raise TimingError("say which days: `day`, `weekday`, `monday` … `sunday`, or a list such as `monday, thursday`")
    days: set[int] = set()
    for word in words:
        if word in ("day", "days", "daily"):
            days |= EVERY_DAY
        elif word in ("weekday", "weekdays"):
            days |= WEEKDAYS
        elif "-" in word and all(_day(end) is not None for end in word.split("-", 1)):
            first, last = (_day(end) for end in word.split("-", 1))
            assert first is not None and last is not None
            days |= {(first + step) % 7 for step in range((last - first) % 7 + 1)}
        elif (number := _day(word)) is not None:
            days.add(number)
        else:
            raise TimingError(
                f"`{word}` is not a day — use `day`, `weekday`, `monday` … `sunday`, a range such as `monday-thursday`"
                " or a list such as `monday, thursday`"
            )
    return frozenset(days)


def parse_time(text: str) -> time:
    """`09:00`, `9:30`, `17:05`, `9am`, `5:30pm` as a wall-clock time."""
    named = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}.get(text.strip().lower())
    if named is not None:
        return named
    match = _TIME.match(text.strip())
    if not match:
        raise TimingError(f"`{text}` is not a time — use `HH:MM` such as `09:00` or `17:30`")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            raise TimingError(f"`{text}` is not a time — with am/pm the hour is 1–12")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise TimingError(f"`{text}` is not a time — use `HH:MM` between `00:00` and `23:59`")
    return time(hour, minute)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingError(f"`{name}` is not a time zone I know (an IANA name such as `Europe/Berlin`)") from None


def describe_days(days: frozenset[int]) -> str:
    if days == EVERY_DAY:
        return "every day"
    if days == WEEKDAYS:
        return "every weekday"
    return "every " + ", ".join(DAY_NAMES[d].capitalize() for d in sorted(days))


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant the wall clock in `tz` shows `at` on `day`: for a time skipped by a spring-forward change, the
    first whole minute after the gap; for one that happens twice, the first of the two."""
    reading = datetime.combine(day, at)
    for minutes in range(0, 24 * 60):
        probe = reading + timedelta(minutes=minutes)
        candidate = probe.replace(tzinfo=tz, fold=0)
        if candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == probe:
            return candidate
    raise AssertionError(f"no wall-clock minute exists after {reading} in {tz}")


def next_due(days: frozenset[int], at: time, tz_name: str, after: float) -> float:
    """The first instant strictly after `after` (epoch seconds) that falls on one of `days` at `at` in `tz_name`."""
    if not days:
        raise TimingError("a schedule needs at least one day")
    tz = zone(tz_name)
    start = datetime.fromtimestamp(after, tz).date()
    for offset in range(0, 8):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        instant = local_instant(day, at, tz).timestamp()
        if instant > after:
            return instant
    raise AssertionError("a weekly schedule is always due within eight days")
