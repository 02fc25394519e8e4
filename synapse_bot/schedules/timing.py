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


def parse_days(text: str) -> frozenset[int]:
    """`day`, `weekday`, a day name (`monday`, `mon`, `mondays`) or a comma list of them, as weekday numbers."""
    words = [w for w in re.split(r"[,\s]+|\band\b", text.strip().lower()) if w]
    if not words:
        raise TimingError("say which days: `day`, `weekday`, `monday` … `sunday`, or a list such as `monday, thursday`")
    days: set[int] = set()
    for word in words:
        if word in ("day", "days", "daily"):
            days |= EVERY_DAY
        elif word in ("weekday", "weekdays"):
            days |= WEEKDAYS
        elif word.rstrip("s")[:3] in _SHORT and (word.rstrip("s") in DAY_NAMES or len(word.rstrip("s")) == 3):
            days.add(_SHORT[word.rstrip("s")[:3]])
        else:
            raise TimingError(
                f"`{word}` is not a day — use `day`, `weekday`, `monday` … `sunday`, or a list such as "
                "`monday, thursday`"
            )
    return frozenset(days)


def parse_time(text: str) -> time:
    """`09:00`, `9:30`, `17:05`, `9am`, `5:30pm` as a wall-clock time."""
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
