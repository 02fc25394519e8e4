"""Per-user and per-channel request rates and daily token budgets, shared by every process through Redis.

Rates are token buckets (capacity = the per-minute figure, refilled continuously), updated atomically by a Lua
script on Redis's own clock so processes on different machines agree. Daily token budgets are counters per UTC day.
A figure of 0 turns that limit off; admins are never limited. When Redis is unreachable limits are not enforced
(logged): answering beats refusing because the limiter is down.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from synapse_bot.config import Settings
from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV capacity, refill per second, cost. Returns {allowed, seconds until enough tokens (x1000)}.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {allowed, math.ceil(wait * 1000)}
"""


@dataclass(frozen=True)
class LimitSettings:
    user_per_minute: int = 0
    channel_per_minute: int = 0
    user_daily_tokens: int = 0
    channel_daily_tokens: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitSettings:
        return cls(
            settings.user_requests_per_minute,
            settings.channel_requests_per_minute,
            settings.user_daily_tokens,
            settings.channel_daily_tokens,
        )


@dataclass(frozen=True)
class Admission:
    allowed: bool
    message: str = ""


def seconds_text(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def until_midnight_utc(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


class Limiter:
    def __init__(self, client: redis.Redis, keys: Keys, limits: LimitSettings, admins: frozenset[str]) -> None:
        self._r = client
        self._keys = keys
        self.limits = limits
        self.admins = admins
        self._bucket = client.register_script(TOKEN_BUCKET)

    def _day(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    def _usage_key(self, team: str, scope: str, ident: str) -> str:
        return self._keys.key(team, "usage", scope, ident, self._day())

    def admit(self, team: str, user: str, channel: str, *, rates: bool = True) -> Admission:
        """Take one request from the user's and the channel's buckets, unless a daily budget is spent; with
        `rates` off only the daily budgets apply."""
        if user in self.admins:
            return Admission(True)
        try:
            return self._admit(team, user, channel, rates)
        except (redis.RedisError, OSError) as exc:
            log.warning("limits not enforced: redis unavailable", extra={"error": type(exc).__name__})
            return Admission(True)

    def _admit(self, team: str, user: str, channel: str, rates_apply: bool) -> Admission:
        budgets = (
            ("user", user, self.limits.user_daily_tokens, "your"),
            ("channel", channel, self.limits.channel_daily_tokens, "this channel's"),
        )
        for scope, ident, budget, whose in budgets:
            if budget and ident:
                used = int(self._r.get(self._usage_key(team, scope, ident)) or 0)
                if used >= budget:
                    wait = seconds_text(until_midnight_utc(datetime.now(UTC)))
                    return Admission(
                        False,
                        f"Sorry — {whose} daily model budget of {budget:,} tokens is used up ({used:,} today). "
                        f"It resets at midnight UTC (in {wait}); explicit commands that need no model, like `help`, "
                        "still work. An admin can raise it with "
                        f"SYNAPSE_{scope.upper()}_DAILY_TOKENS.",
                    )
        rates = (
            ("user", user, self.limits.user_per_minute, "You are"),
            ("channel", channel, self.limits.channel_per_minute, "This channel is"),
        )
        for scope, ident, per_minute, who in rates if rates_apply else ():
            if per_minute and ident:
                key = self._keys.key(team, "rate", scope, ident)
                allowed, wait_ms = self._bucket(keys=[key], args=[per_minute, per_minute / 60.0, 1])
                if not int(allowed):
                    return Admission(
                        False,
                        f"{who} sending requests faster than Synapse allows ({per_minute} a minute). "
                        f"Please try again in {seconds_text(int(wait_ms) / 1000)}.",
                    )
        return Admission(True)

    def channel_wait(self, team: str, channel: str) -> float:
        """Take one post from the channel's rate (SYNAPSE_CHANNEL_REQUESTS_PER_MINUTE): 0 when it may post now, else
        the seconds until it may. What Synapse posts on a schedule waits its turn instead of being refused."""
        per_minute = self.limits.channel_per_minute
        if not per_minute or not channel:
            return 0.0
        try:
            key = self._keys.key(team, "rate", "channel", channel)
            allowed, wait_ms = self._bucket(keys=[key], args=[per_minute, per_minute / 60.0, 1])
        except (redis.RedisError, OSError) as exc:
            log.warning("limits not enforced: redis unavailable", extra={"error": type(exc).__name__})
            return 0.0
        return 0.0 if int(allowed) else int(wait_ms) / 1000

    def charge(self, team: str, user: str, channel: str, tokens: int) -> None:
        """Count the tokens a request used against today's budgets."""
        if tokens <= 0:
            return
        try:
            pipe = self._r.pipeline()
            for scope, ident in (("user", user), ("channel", channel)):
                if ident:
                    key = self._usage_key(team, scope, ident)
                    pipe.incrby(key, tokens)
                    pipe.expire(key, 2 * 86400)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("token usage not recorded: redis unavailable", extra={"error": type(exc).__name__})
