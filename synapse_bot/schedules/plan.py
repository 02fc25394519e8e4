"""What to do with a schedule's due time when a scheduler gets to it: run it, or skip it as missed. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from synapse_bot.schedules.model import Schedule

# A run this late (Synapse was down) still runs, once, when it is back; a later one is skipped and said.
MISSED_GRACE_S = 3600
MAX_COUNTED_MISSES = 1000


@dataclass(frozen=True)
class RunPlan:
    run: bool  # post now for `due`
    missed: int  # runs skipped by this plan (not posted), to be said in the next post
    next_due: float


def plan_run(schedule: Schedule, due: float, now: float) -> RunPlan:
    if now - due <= MISSED_GRACE_S:
        return RunPlan(run=True, missed=0, next_due=schedule.due_after(max(due, now)))
    missed, moment = 0, due
    while moment <= now and missed < MAX_COUNTED_MISSES:  # every occurrence from `due` up to now was missed
        missed += 1
        moment = schedule.due_after(moment)
    return RunPlan(run=False, missed=missed, next_due=schedule.due_after(now))
