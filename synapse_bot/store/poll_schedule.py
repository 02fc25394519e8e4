"""When each subscribed repository is polled next, and who polls it: one poller per repository across every
process, by leases in Redis.

Repositories sit in one sorted set scored by when they are due. A poller claims the earliest due one by taking its
lease (`SET NX PX`) and moving its due time to the lease's end, so nobody else sees it due while it is held; it
renews the lease as it works and, when done, sets the next due time. A poller that dies simply stops renewing: when
the lease runs out the repository is due again and another process takes it over, with the cursor where the dead one
left it. The next due time is computed, not polled for: an idle poller sleeps until the earliest one.

Requests to GitHub are also paced here, for every process together: a token bucket (`REQUESTS_PER_MINUTE`, below
GitHub's secondary limit of about 900 points a minute, leaving room for people's own requests), and a hold that
stops all polling until a time GitHub named (Retry-After, an exhausted rate limit's reset).
"""

from __future__ import annotations

import time

import redis

from synapse_bot.store.keys import Keys
from synapse_bot.store.limits import TOKEN_BUCKET

REQUESTS_PER_MINUTE = 600
BURST_REQUESTS = 10

# KEYS[1] due zset, KEYS[2] lease prefix; ARGV now, lease ms, token. Returns the claimed repository or false.
_CLAIM = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 20)
for _, repo in ipairs(due) do
  if redis.call('SET', KEYS[2] .. repo, ARGV[3], 'NX', 'PX', tonumber(ARGV[2])) then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]) / 1000, repo)
    return repo
  end
end
return false
"""
# KEYS[1] due zset, KEYS[2] lease key; ARGV repo, token, next due (release) or lease ms and now (renew).
_RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[3]), ARGV[1])
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[4]) + tonumber(ARGV[3]) / 1000, ARGV[1])
return 1
"""


class PollSchedule:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._bucket = client.register_script(TOKEN_BUCKET)

    def _due(self) -> str:
        return self._keys.key("all", "ghpoll", "due")

    def _lease_prefix(self) -> str:
        return self._keys.key("all", "ghpoll", "lease") + ":"

    # The schedule ------------------------------------------------------------------------------

    def add(self, repo_key: str, due_at: float | None = None) -> None:
        """Put a repository on the schedule (due now unless said); one already there keeps its time."""
        self._r.zadd(self._due(), {repo_key: time.time() if due_at is None else due_at}, nx=True)

    def due_now(self, repo_key: str) -> None:
        """Poll this repository as soon as a poller is free (a new subscription), unless it is being polled."""
        if not self._r.exists(self._lease_prefix() + repo_key):
            self._r.zadd(self._due(), {repo_key: time.time()})

    def drop(self, repo_key: str) -> None:
        self._r.zrem(self._due(), repo_key)

    def scheduled(self) -> list[str]:
        return [str(r) for r in self._r.zrange(self._due(), 0, -1)]

    def size(self) -> int:
        return int(self._r.zcard(self._due()))

    def next_due(self) -> float | None:
        first = self._r.zrange(self._due(), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    # Leases ------------------------------------------------------------------------------------

    def claim(self, token: str, lease_s: float, now: float | None = None) -> str | None:
        """The earliest due repository nobody holds, now leased to `token`; None when nothing is due."""
        now = time.time() if now is None else now
        repo = self._claim(keys=[self._due(), self._lease_prefix()], args=[now, int(lease_s * 1000), token])
        return str(repo) if repo else None

    def renew(self, repo_key: str, token: str, lease_s: float) -> bool:
        """Keep holding it (False: the lease was lost, another poller has it now)."""
        keys = [self._due(), self._lease_prefix() + repo_key]
        return bool(self._renew(keys=keys, args=[repo_key, token, int(lease_s * 1000), time.time()]))

    def release(self, repo_key: str, token: str, next_due: float) -> bool:
        keys = [self._due(), self._lease_prefix() + repo_key]
        return bool(self._release(keys=keys, args=[repo_key, token, next_due]))

    # Pacing ------------------------------------------------------------------------------------

    def take_request(self) -> float:
        """Take one request from the shared budget: 0 when it may go now, else the seconds to wait first."""
        key = self._keys.key("all", "ghpoll", "budget")
        allowed, wait_ms = self._bucket(keys=[key], args=[BURST_REQUESTS, REQUESTS_PER_MINUTE / 60, 1])
        return 0.0 if int(allowed) else int(wait_ms) / 1000

    def hold(self, until: float, reason: str) -> None:
        """Stop every poller until `until` (GitHub said so); a later hold wins."""
        key = self._keys.key("all", "ghpoll", "hold")
        current = self.held_until()
        if current is None or until > current[0]:
            self._r.set(key, f"{until}|{reason}", exat=int(until) + 1)

    def held_until(self) -> tuple[float, str] | None:
        value = self._r.get(self._keys.key("all", "ghpoll", "hold"))
        if not value:
            return None
        until, _, reason = str(value).partition("|")
        return (float(until), reason) if float(until) > time.time() else None
