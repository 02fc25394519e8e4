"""A schedule: what to post, where, on which days at what wall-clock time in whose time zone."""

from __future__ import annotations

import secrets
from datetime import time
from enum import StrEnum

from pydantic import BaseModel, Field

from synapse_bot.schedules.timing import describe_days, next_due


class ScheduleKind(StrEnum):
    REVIEWS = "reviews"  # a channel's reminder of the pull requests waiting for review in some repositories
    RECAP = "recap"  # a channel's recap since the previous run
    MY_REVIEWS = "my_reviews"  # a person's DM: the PRs they are asked to review and their own stuck PRs


def new_schedule_id() -> str:
    return "s" + secrets.token_hex(3)


class Schedule(BaseModel):
    id: str = Field(default_factory=new_schedule_id)
    team_id: str
    kind: ScheduleKind
    owner: str = Field(description="The Slack user who made it: its runs are their requests")
    channel_id: str = Field(description="Where it posts (a channel, or the owner's DM with Synapse)")
    repos: list[str] = Field(default_factory=list)
    days: list[int] = Field(description="Weekday numbers, Monday = 0")
    at: str = Field(description="HH:MM on the owner's wall clock")
    tz: str = Field(description="The owner's IANA time zone when it was made")
    quiet: bool = Field(default=False, description="Post nothing when there is nothing to list")
    created_at: float
    last_due: float | None = Field(default=None, description="The due time of the last run")
    missed: int = Field(default=0, description="Runs skipped since the last post (Synapse was down too long)")
    paused: str | None = Field(default=None, description="Why it no longer runs (archived channel, removed bot)")

    @property
    def wall_time(self) -> time:
        hour, minute = self.at.split(":")
        return time(int(hour), int(minute))

    def due_after(self, after: float) -> float:
        return next_due(frozenset(self.days), self.wall_time, self.tz, after)

    @property
    def in_dm(self) -> bool:
        return self.kind is ScheduleKind.MY_REVIEWS

    def what(self) -> str:
        if self.kind is ScheduleKind.REVIEWS:
            return "pull requests waiting for review in " + ", ".join(f"`{r}`" for r in self.repos)
        if self.kind is ScheduleKind.RECAP:
            return f"a recap of <#{self.channel_id}>"
        where = (" in " + ", ".join(f"`{r}`" for r in self.repos)) if self.repos else ""
        return f"<@{self.owner}>'s reviews{where}"

    def describe(self) -> str:
        """One line for lists and confirmations."""
        where = "a DM" if self.in_dm else f"<#{self.channel_id}>"
        quiet = ", quiet when empty" if self.quiet else ""
        paused = f" — *paused*: {self.paused}" if self.paused else ""
        when = f"{describe_days(frozenset(self.days))} at {self.at} ({self.tz})"
        return f"`{self.id}` {self.what()} → {where}, {when}{quiet}, by <@{self.owner}>{paused}"
