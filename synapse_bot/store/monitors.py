"""Keyword monitor rules and their alert bookkeeping in Redis.

Rules live in one hash per channel, so they survive restarts and every process sees the same set. A per-channel
version number lets each process keep a compiled matcher and rebuild it only when the rules change (one GET per
message). Alert-once and flood control are Redis keys with TTLs, shared by every process.
"""

from __future__ import annotations

import json
import time
import uuid

import redis
from pydantic import BaseModel, Field, computed_field

from synapse_bot.store.keys import Keys


class MonitorRule(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:10])
    team_id: str
    channel_id: str
    keywords: list[str]
    creator: str
    alert_channel: str | None = None  # None: a DM to the creator
    created_at: float = Field(default_factory=time.time)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """Two rules with one identity are the same monitor: channel, keywords as a casefolded set, person, target."""
        keywords = sorted({" ".join(k.casefold().split()) for k in self.keywords})
        return json.dumps([self.channel_id, keywords, self.creator, self.destination])

    @property
    def destination(self) -> str:
        """Where this rule's alerts go: a channel, or the creator's DM (`dm:` + user id)."""
        return self.alert_channel or f"dm:{self.creator}"


class PendingHit(BaseModel):
    message_ts: str
    author: str
    keywords: list[str]


# Delete rules and, with the last one, the channel's place in the monitored set — in one step: gateways skip
# channels outside that set, so a save racing a delete must never leave a watched channel out of it.
_DELETE_RULES = """
local removed = redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
redis.call('INCR', KEYS[2])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
end
return removed
"""


# Save a rule unless the channel already has one with the same identity: the check and the write are one step, so
# two identical requests racing each other still store one rule. Returns the id of the rule that is kept.
_SAVE_UNLESS_SAME = """
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, rule = pcall(cjson.decode, raw)
  if ok and rule['identity'] == ARGV[2] then
    return rule['id']
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('INCR', KEYS[3])
return ARGV[1]
"""


class MonitorStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._delete_rules = client.register_script(_DELETE_RULES)
        self._save_unless_same = client.register_script(_SAVE_UNLESS_SAME)

    # Rules -----------------------------------------------------------------------------------------

    def _rules_key(self, team: str, channel: str) -> str:
        return self._keys.key(team, "monitor", "rules", channel)

    def _channels_key(self, team: str) -> str:
        return self._keys.key(team, "monitor", "channels")

    def _version_key(self, team: str, channel: str) -> str:
        return self._keys.key(team, "monitor", "version", channel)

    def save(self, rule: MonitorRule) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._rules_key(rule.team_id, rule.channel_id), rule.id, rule.model_dump_json())
        pipe.sadd(self._channels_key(rule.team_id), rule.channel_id)
        pipe.incr(self._version_key(rule.team_id, rule.channel_id))
        pipe.execute()

    def save_unless_same(self, rule: MonitorRule) -> MonitorRule:
        """Store `rule`, or return the identical rule already stored (then nothing is written)."""
        same = next((r for r in self.rules(rule.team_id, rule.channel_id) if r.identity == rule.identity), None)
        if same is not None:  # also finds rules stored before identities were recorded
            return same
        keys = [
            self._rules_key(rule.team_id, rule.channel_id),
            self._channels_key(rule.team_id),
            self._version_key(rule.team_id, rule.channel_id),
        ]
        kept = str(
            self._save_unless_same(keys=keys, args=[rule.id, rule.identity, rule.model_dump_json(), rule.channel_id])
        )
        if kept == rule.id:
            return rule
        return next((r for r in self.rules(rule.team_id, rule.channel_id) if r.id == kept), rule)

    def is_monitored(self, team: str, channel: str) -> bool:
        """Does any monitor watch this channel? (One SISMEMBER: gateways ask it for every channel message.)"""
        return bool(self._r.sismember(self._channels_key(team), channel))

    def rules(self, team: str, channel: str) -> list[MonitorRule]:
        raw = self._r.hgetall(self._rules_key(team, channel))
        rules = [MonitorRule.model_validate_json(v) for v in raw.values()]
        return sorted(rules, key=lambda r: r.created_at)

    def all_rules(self, team: str) -> list[MonitorRule]:
        channels = sorted(str(c) for c in self._r.smembers(self._channels_key(team)))
        return [rule for channel in channels for rule in self.rules(team, channel)]

    def delete(self, team: str, channel: str, rule_ids: list[str]) -> int:
        if not rule_ids:
            return 0
        keys = [self._rules_key(team, channel), self._version_key(team, channel), self._channels_key(team)]
        return int(self._delete_rules(keys=keys, args=[channel, *rule_ids]))

    def version(self, team: str, channel: str) -> int:
        value = self._r.get(self._version_key(team, channel))
        return int(value) if value else 0

    # Alerts ----------------------------------------------------------------------------------------

    def first_alert_for(self, team: str, rule_id: str, message_ts: str, ttl_s: int = 7 * 86400) -> bool:
        """True once per (rule, message): an edited message never alerts twice."""
        key = self._keys.key(team, "monitor", "alerted", rule_id, message_ts)
        return bool(self._r.set(key, "1", nx=True, ex=ttl_s))

    def first_alert_to(
        self, team: str, destination: str, channel: str, message_ts: str, ttl_s: int = 7 * 86400
    ) -> bool:
        """True once per (destination, message): one message never alerts a person (or channel) twice, whichever
        of their rules matched it, edits included."""
        key = self._keys.key(team, "monitor", "alerted-to", destination, channel, message_ts)
        return bool(self._r.set(key, "1", nx=True, ex=ttl_s))

    def open_window(self, team: str, rule_id: str, interval_s: int) -> bool:
        """True if no alert went out for this rule within the interval (and starts a new interval)."""
        return bool(self._r.set(self._keys.key(team, "monitor", "window", rule_id), "1", nx=True, ex=interval_s))

    def _pending_key(self, team: str, rule_id: str) -> str:
        return self._keys.key(team, "monitor", "pending", rule_id)

    def _due_key(self) -> str:
        return self._keys.key("all", "monitor", "digest-due")

    def defer(self, rule: MonitorRule, hit: PendingHit, interval_s: int, max_pending: int = 500) -> None:
        """Fold a hit into the rule's next digest, due when the current interval ends."""
        key = self._pending_key(rule.team_id, rule.id)
        ttl = self._r.ttl(self._keys.key(rule.team_id, "monitor", "window", rule.id))
        due = time.time() + (ttl if ttl and ttl > 0 else interval_s)
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(key, hit.model_dump_json())
        pipe.ltrim(key, -max_pending, -1)
        pipe.expire(key, interval_s * 10 + 3600)
        pipe.zadd(self._due_key(), {f"{rule.team_id}|{rule.channel_id}|{rule.id}": due}, nx=True)
        pipe.execute()

    def take_due_digests(self, now: float | None = None) -> list[tuple[str, str, str, list[PendingHit]]]:
        """Claim every digest whose interval has ended: (team, channel, rule id, hits). Each is claimed once."""
        now = now or time.time()
        due = self._r.zrangebyscore(self._due_key(), "-inf", now)
        claimed = []
        for raw_member in due:
            member = str(raw_member)
            if not self._r.zrem(self._due_key(), member):
                continue  # another process took it
            team, channel, rule_id = member.split("|", 2)
            key = self._pending_key(team, rule_id)
            pipe = self._r.pipeline(transaction=True)
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = pipe.execute()
            hits = [PendingHit.model_validate_json(item) for item in raw]
            if hits:
                claimed.append((team, channel, rule_id, hits))
        return claimed
