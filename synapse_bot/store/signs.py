"""Which sign of life a request shows, shared by the gateway that sets it and the worker that clears it.

The gateway sets the sign right after queueing (off the ack path) and records `status` or `reaction`; the worker
records `done` when the answer is out. Each side writes with SET … GET, so whichever comes second sees the other's
value: a worker that finds `status`/`reaction` clears that sign; a gateway that finds `done` (the job beat the sign)
clears what it just set, and one that sees `done` before sending sends nothing.

A worker that shows a progress status ("is looking up the monitors…") before the gateway's sign went out records
`progress` where nothing is recorded yet: the person already sees that Synapse has the request, and the generic
sign, arriving later, would only replace the more telling status.
"""

from __future__ import annotations

from typing import cast

import redis

from synapse_bot.store.keys import Keys

DONE = "done"
PROGRESS = "progress"
TTL_SECONDS = 3600


class SignRecords:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def _key(self, team_id: str, dedupe_key: str) -> str:
        return self._keys.key(team_id, "sign", dedupe_key)

    def mark(self, team_id: str, dedupe_key: str, value: str) -> str | None:
        """Record `value`; returns what was recorded before (None: nothing)."""
        previous = self._redis.set(self._key(team_id, dedupe_key), value, ex=TTL_SECONDS, get=True)
        if isinstance(previous, bytes):
            return previous.decode()
        return cast(str | None, previous)

    def note_progress(self, team_id: str, dedupe_key: str) -> None:
        """The worker showed a progress status; recorded only if no sign is (a recorded sign must still be cleared)."""
        self._redis.set(self._key(team_id, dedupe_key), PROGRESS, ex=TTL_SECONDS, nx=True)

    def settled(self, team_id: str, dedupe_key: str) -> bool:
        """Whether the gateway's sign is no longer wanted: the answer is out, or a progress status shows."""
        value = self._redis.get(self._key(team_id, dedupe_key))
        return value in (DONE, DONE.encode(), PROGRESS, PROGRESS.encode())
