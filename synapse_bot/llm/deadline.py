"""A job's deadline: when it started plus SYNAPSE_JOB_TIME_LIMIT_SECONDS, and what a model call may take within it.

Dramatiq's TimeLimit raises in a job's thread only between Python instructions, never inside a blocking HTTP read,
so the time limit cannot stop a model call that waits on a slow server. Each call is bounded by the deadline
instead: its HTTP timeout is the time left, less a margin in which the person is still told what happened; its
retries are only those that fit in that time; and a call with less than MIN_CALL_S left is not started at all.
The arithmetic (`call_limits`) is pure; `Deadline` applies it to a clock. A call the deadline stops raises
`DeadlineReached` (llm/client.py) with the deadline's `notice`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MARGIN_S = 2.0  # left at the end of a job to post what happened (the time-limit notice, or what was done by then)
MIN_CALL_S = 1.0  # a model call with less time than this is not started
RETRY_PAUSE_S = 8.0  # the openai client's longest pause between attempts (Retry-After aside)


@dataclass(frozen=True)
class CallLimits:
    """How long one model call may wait for each attempt, and how many times it may retry."""

    timeout_s: float
    max_retries: int


def call_limits(
    remaining_s: float,
    *,
    timeout_s: float,
    max_retries: int,
    margin_s: float = MARGIN_S,
    min_call_s: float = MIN_CALL_S,
    retry_pause_s: float = RETRY_PAUSE_S,
) -> CallLimits | None:
    """The limits of a model call made `remaining_s` before the deadline; None when it should not start.

    The configured per-attempt timeout is cut to the time left less the margin; a retry is allowed only if another
    whole attempt (and the pause before it) still fits in that time.
    """
    if not can_start(remaining_s, margin_s=margin_s, min_call_s=min_call_s):
        return None
    usable = remaining_s - margin_s
    timeout = min(timeout_s, usable)
    attempts = int((usable + retry_pause_s) // (timeout + retry_pause_s))  # ≥ 1, as timeout ≤ usable
    return CallLimits(timeout, max(0, min(max_retries, attempts - 1)))


def can_start(remaining_s: float, *, margin_s: float = MARGIN_S, min_call_s: float = MIN_CALL_S) -> bool:
    """Whether a model call may still start `remaining_s` before the deadline."""
    return remaining_s - margin_s >= min_call_s


def default_notice(limit_s: float) -> str:
    return f"That took longer than the time limit of {limit_s:g} s for one request, so I stopped."


@dataclass(frozen=True)
class Deadline:
    """When a job must be done, on the monotonic clock. `notice` is what the person reads when it stops a call."""

    started: float
    limit_s: float
    notice: str = ""
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.notice:
            object.__setattr__(self, "notice", default_notice(self.limit_s))

    @classmethod
    def starting_now(cls, limit_s: float, notice: str = "", clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock(), limit_s, notice, clock)

    @property
    def at(self) -> float:
        return self.started + self.limit_s

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return self.at - self.clock()

    def limits(self, *, timeout_s: float, max_retries: int) -> CallLimits | None:
        """`call_limits` now: None when no model call should start any more."""
        return call_limits(self.remaining(), timeout_s=timeout_s, max_retries=max_retries)

    def can_start_call(self) -> bool:
        return can_start(self.remaining())

    def past_margin(self) -> bool:
        """Within the closing margin (or past the deadline): whatever is still waiting on a model must stop."""
        return self.remaining() < MARGIN_S
