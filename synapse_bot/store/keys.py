"""The Redis key schema, in one place.

Every key is `<prefix>:<team id>:<kind>:<parts…>`, so several workspaces (and several deployments, through
SYNAPSE_KEY_PREFIX) can share one Redis without collisions, and an operator can find or drop one team's data
with a single pattern.
"""

from __future__ import annotations

from dataclasses import dataclass


def _clean(part: str) -> str:
    # Slack ids and timestamps never contain ':'; anything else (user text) must not break the schema.
    return part.replace(":", "_").replace(" ", "_") or "_"


@dataclass(frozen=True)
class Keys:
    prefix: str

    def key(self, team_id: str, kind: str, *parts: str) -> str:
        return ":".join([_clean(self.prefix), _clean(team_id or "_"), kind, *(_clean(p) for p in parts)])

    def event(self, team_id: str, dedupe_key: str) -> str:
        return self.key(team_id, "event", dedupe_key)

    def reply(self, team_id: str, dedupe_key: str) -> str:
        return self.key(team_id, "reply", dedupe_key)
