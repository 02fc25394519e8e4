"""Time windows in people's words: "since yesterday", "last 24 hours", "monday", "2026-11-28 09:00" → a window.

Pure: the current time and the person's time zone are passed in. Calendar words ("today", "yesterday", "monday",
"this week") start at midnight in the person's zone. A duration ("24 hours", "3d", "past week") counts back from
now and is rounded down to a quarter of an hour (to the minute under an hour), so the same question asked twice a
few minutes apart names the same window and can be answered from the cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
_DURATION = re.compile(
    r"^(?:(?:the\s+)?(?:last|past)\s+)?(\d{1,4}|an?|one)?\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
    r"(?:\s+ago)?$"
)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_TS = re.compile(r"^\d{9,11}\.\d{1,6}$")
MAX_DAYS = 92
EXAMPLES = "`yesterday`, `today`, `monday`, `24 hours`, `3 days`, `this week`, `2026-11-28`, `09:00`"


class WindowError(ValueError):
    """A window that cannot be read or makes no sense; the message says what would work."""


@dataclass(frozen=True)
class TimeWindow:
    start: datetime  # aware
    end: datetime | None  # aware; None: up to now

    @property
    def oldest_ts(self) -> str:
        """Slack's `oldest` for this window."""
        return f"{self.start.timestamp():.6f}"

    @property
    def latest_ts(self) -> str | None:
        return f"{self.end.timestamp():.6f}" if self.end else None

    def label(self) -> str:
        """e.g. `since Sun 29 Nov 00:00 (Europe/London)`."""
        zone = getattr(self.start.tzinfo, "key", None) or self.start.tzname() or "UTC"
        text = f"since {self.start:%a %d %b %H:%M}"
        if self.end is not None:
            text += f" until {self.end:%a %d %b %H:%M}"
        return f"{text} ({zone})"


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _round_down(moment: datetime, seconds: int) -> datetime:
    step = 60 if seconds < 3600 else 900
    epoch = int(moment.timestamp()) // step * step
    return datetime.fromtimestamp(epoch, moment.tzinfo)


def parse_point(text: str, now: datetime, zone: tzinfo) -> datetime:
    """One moment in time from a person's words, in `zone`; WindowError if it cannot be read."""
    words = re.sub(r"\s+", " ", text.strip().lower()).removeprefix("since ").removeprefix("from ").strip()
    local = now.astimezone(zone)
    if words in ("now", ""):
        return local
    if words in ("today", "this morning"):
        return _midnight(local)
    if words == "yesterday":
        return _midnight(local) - timedelta(days=1)
    if words == "this week":
        return _midnight(local) - timedelta(days=local.weekday())
    if words == "this month":
        return _midnight(local).replace(day=1)
    if words == "last week":
        return _round_down(local - timedelta(days=7), 86400)
    day = words.removeprefix("last ").removeprefix("on ")
    for index, name in enumerate(WEEKDAYS):
        if day in (name, name[:3]):
            back = (local.weekday() - index) % 7
            if back == 0 and words.startswith("last "):
                back = 7
            return _midnight(local) - timedelta(days=back)
    duration = _DURATION.match(words)
    if duration:
        count = duration.group(1)
        amount = 1 if count in (None, "a", "an", "one") else int(count)
        seconds = amount * _UNITS[duration.group(2)]
        if seconds <= 0:
            raise WindowError(f"“{text}” is not a length of time I can use. Try {EXAMPLES}.")
        return _round_down(local - timedelta(seconds=seconds), seconds)
    clock = _CLOCK.match(words)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise WindowError(f"“{text}” is not a time of day.")
        moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return moment - timedelta(days=1) if moment > local else moment
    if _TS.match(words):
        return datetime.fromtimestamp(float(words), zone)
    try:
        parsed = datetime.fromisoformat(words.upper().replace(" ", "T") if "-" in words else words)
    except ValueError:
        raise WindowError(f"I can't tell when “{text}” is. Try {EXAMPLES}.") from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)


def parse_window(since: str | None, until: str | None, now: datetime, zone: tzinfo) -> TimeWindow:
    """The window from `since` (default: the last 24 hours) to `until` (default: now)."""
    start = parse_point(since, now, zone) if since else parse_point("24 hours", now, zone)
    end = parse_point(until, now, zone) if until else None
    if end is not None and end >= now:
        end = None
    if start >= (end or now):
        raise WindowError(f"That window is empty: it starts {start:%a %d %b %H:%M}, after it ends.")
    if (end or now) - start > timedelta(days=MAX_DAYS):
        raise WindowError(f"That window is longer than {MAX_DAYS} days; ask for a shorter one.")
    return TimeWindow(start, end)
