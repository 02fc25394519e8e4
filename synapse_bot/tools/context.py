"""What a tool handler gets: the request, settings and the clients it may use, all passed in explicitly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from slack_sdk import WebClient

from synapse_bot.config import Settings
from synapse_bot.llm.client import ChatModel, DeadlineReached, LlmError, TokenBudget
from synapse_bot.llm.deadline import Deadline
from synapse_bot.request import SlackRequest
from synapse_bot.store.keys import Keys
from synapse_bot.tracking.model_calls import traced_chat
from synapse_bot.tracking.trace import RequestTrace

if TYPE_CHECKING:
    from synapse_bot.access import GitHubWriters
    from synapse_bot.github.client import GitHubClient
    from synapse_bot.store.monitors import MonitorStore
    from synapse_bot.store.pending import PendingWrites
    from synapse_bot.store.schedules import ScheduleStore
    from synapse_bot.store.subscriptions import SubscriptionStore
    from synapse_bot.store.summaries import SummaryCache
    from synapse_bot.tools.registry import ToolRegistry


@dataclass
class ToolServices:
    """Long-lived clients shared by every request of a runtime (None where a part is not configured)."""

    slack: WebClient | None = None
    redis: redis.Redis | None = None
    keys: Keys = field(default_factory=lambda: Keys("synapse"))
    bot_user_id: str | None = None
    workspace_url: str = ""  # https://<team>.slack.com/ from auth.test: message links are built from it
    summaries: SummaryCache | None = None
    monitors: MonitorStore | None = None
    github: GitHubClient | None = None
    pending: PendingWrites | None = None
    writers: GitHubWriters | None = None  # who may confirm GitHub writes; None: nobody
    secrets: tuple[str, ...] = ()  # configured secret values: scrubbed from Slack text before it is used or stored
    progress: Callable[[SlackRequest, str], None] | None = None  # a status line in the request's thread
    subscriptions: SubscriptionStore | None = None  # channels' GitHub subscriptions (saving one schedules its poll)
    schedules: ScheduleStore | None = None  # reminders and recaps on a clock, and people's GitHub logins


T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ToolContext:
    request: SlackRequest
    settings: Settings
    registry: ToolRegistry
    trace: RequestTrace
    budget: TokenBudget
    llm: ChatModel | None = None
    services: ToolServices = field(default_factory=ToolServices)
    deadline: Deadline | None = None  # the job's: model calls end before it (None outside a job, e.g. a click)

    @property
    def offline(self) -> bool:
        return self.llm is None

    def side_by_side(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Run `work` over `items` on up to SYNAPSE_SUMMARY_PARALLEL_CALLS threads (model calls that do not depend
        on each other); results in order, each thread's spans nested where the work was handed out.

        No item starts once the job's deadline leaves no time for a model call, and when one item fails the items
        not yet started are dropped: the first failure is raised once the items already running have ended (their
        model calls end by the deadline).
        """
        deadline = self.deadline

        def start(item: T) -> R:
            if deadline is not None and not deadline.can_start_call():
                raise DeadlineReached(deadline)
            return work(item)

        workers = min(self.settings.summary_parallel_calls, len(items))
        if workers <= 1:
            return [start(item) for item in items]
        parent = self.trace.current()

        def run(item: T) -> R:
            with self.trace.adopted(parent):
                return start(item)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synapse-map") as pool:
            futures = [pool.submit(run, item) for item in items]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                for future in futures:
                    future.cancel()  # those not started yet; those running end on their own (at the deadline)
                failed.result()  # raises
            return [future.result() for future in futures]

    def complete(
        self,
        messages: list[dict[str, Any]],
        purpose: str,
        *,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
    ) -> str | None:
        """One model call on this request's budget, traced as an LLM span.

        A compatible server that rejects JSON-schema output gets the same request once more without it (the
        prompts ask for JSON anyway).
        """
        if self.llm is None:
            raise LlmError("No model is configured (OPENAI_API_KEY).", kind="offline")
        try:
            result = traced_chat(
                self.llm,
                self.trace,
                messages,
                budget=self.budget,
                purpose=purpose,
                response_format=response_format,
                max_output_tokens=max_output_tokens,
                deadline=self.deadline,
            )
        except LlmError as exc:
            if exc.kind != "bad_request" or response_format is None:
                raise
            result = traced_chat(
                self.llm,
                self.trace,
                messages,
                budget=self.budget,
                purpose=f"{purpose}.no_schema",
                max_output_tokens=max_output_tokens,
                deadline=self.deadline,
            )
        return result.content
