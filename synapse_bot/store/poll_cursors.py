"""Where the poller is in each repository: its `since` cursor, the ETags of its last reads, the open pull requests
whose checks it watches, and whether the repository is paused because GitHub refuses it.

One JSON record per repository, written only by the poller holding the repository's lease, after its observations
are queued: a poller that dies before writing leaves the cursor where it was, and the next one reads the same
changes again (the events job finds nothing new in them).
"""

from __future__ import annotations

import redis
from pydantic import BaseModel, Field

from synapse_bot.feed.model import Problem
from synapse_bot.store.keys import Keys

CURSOR_TTL_S = 90 * 86400


class RepoCursor(BaseModel):
    tracked_since: float  # when the repository was first subscribed to: what happened before is not news
    since: float | None = None  # items updated at or after this are read (GitHub's `since`)
    seen_at_since: dict[str, float] = Field(default_factory=dict)  # items read since `since`: number → updated
    comments_since: float | None = None
    comments_seen: list[int] = Field(default_factory=list)  # comment ids read at exactly `comments_since`
    etags: dict[str, str] = Field(default_factory=dict)  # "issues", "comments", "releases", "check:<sha>"
    heads: dict[str, str] = Field(default_factory=dict)  # open PRs whose checks are watched: number → head sha
    problem: Problem | None = None  # paused: GitHub refuses the repository
    problem_since: float | None = None
    interval_s: float | None = None  # GitHub's X-Poll-Interval, when it asked for a longer one


class PollCursors:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def _key(self, repo_key: str) -> str:
        return self._keys.key("all", "ghpoll", "cursor", repo_key)

    def get(self, repo_key: str) -> RepoCursor | None:
        raw = self._r.get(self._key(repo_key))
        return RepoCursor.model_validate_json(raw) if raw else None

    def save(self, repo_key: str, cursor: RepoCursor) -> None:
        self._r.set(self._key(repo_key), cursor.model_dump_json(), ex=CURSOR_TTL_S)

    def drop(self, repo_key: str) -> None:
        self._r.delete(self._key(repo_key))
