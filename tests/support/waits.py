"""Waiting on events instead of sleeping: a test waits exactly as long as the bot needs, and no longer.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long everywhere (a slow one). To show
that something did *not* happen — a second reply, an alert for a non-match — wait until the bot has finished
everything it was handed (`settled`), then look: whatever it was going to post is posted by then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from synapse_bot.runtime import Runtime
from synapse_sandbox.workspace import SlackSandbox

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition", every: float = 0.02
) -> T:
    """The predicate's first truthy value; AssertionError naming `what` if none comes within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(every)


def all_acknowledged(slack: SlackSandbox) -> bool:
    """Every envelope the sandbox has sent so far is acknowledged (the bot acks after it claimed and queued)."""
    hub = slack.hub
    return all(envelope_id in hub.acks for envelope_id in list(hub.envelopes))


def jobs_finished(runtimes: Iterable[Runtime]) -> bool:
    """Every job these runtimes queued or ran in-process has been performed (one queue shared between them), the
    GitHub events batches their pollers and webhook receivers queued included."""
    queued = done = github_queued = github_done = 0
    for runtime in runtimes:
        if runtime.failover is not None:
            queued += runtime.failover.queued
        if runtime.queue is not None:
            done += runtime.queue.performed
            github_queued += runtime.queue.github_submitted
            github_done += runtime.queue.github_performed
        if runtime.runner is not None and runtime.runner.pending:
            return False
    return done >= queued and github_done >= github_queued


def settled(slack: SlackSandbox, *runtimes: Runtime, timeout: float = 20.0) -> None:
    """Every delivery so far acknowledged and every job it caused performed: the bot has posted all it will post."""
    wait_until(lambda: all_acknowledged(slack), timeout, "acknowledging every delivery")
    wait_until(lambda: jobs_finished(runtimes), timeout, "finishing every queued job")


class HasHealth(Protocol):
    def health(self) -> tuple[int, dict[str, object]]: ...


def _counter(body: dict[str, object], name: str) -> int:
    value = body.get(name, 0)
    return value if isinstance(value, int) else 0


def processes_finished(processes: Iterable[HasHealth]) -> bool:
    """Every job queued in the deployment has been done, and nothing waits in-process (from /health). The totals are
    the deployment's (counted in Redis), so a job a killed worker took and another one finished counts once."""
    totals: dict[str, dict[str, object]] = {}
    for process in processes:
        code, body = process.health()
        if code != 200 or _counter(body, "in_process_pending"):
            return False
        for queue in ("requests", "github"):
            found = body.get(f"deployment_{queue}")
            if isinstance(found, dict):
                totals[queue] = found
    return all(_counter(t, "done") >= _counter(t, "queued") for t in totals.values())


def processes_settled(slack: SlackSandbox, processes: Iterable[HasHealth], timeout: float = 30.0) -> None:
    """`settled` for a deployment of `python -m synapse_bot` processes, read from their health endpoints."""
    running = list(processes)
    wait_until(lambda: all_acknowledged(slack), timeout, "acknowledging every delivery")
    wait_until(lambda: processes_finished(running), timeout, "finishing every queued job", every=0.1)
