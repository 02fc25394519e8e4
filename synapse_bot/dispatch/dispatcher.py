"""Turn a Slack request into an answer: the fast path, the model working with tools, or offline help.

Explicit commands that parse completely take the fast path (no model) and today's rendering. Everything else goes
to the model when one is configured: it sees the thread it was asked in (within a budget), the thread's earlier
exchanges, and works with tools until it answers; offline, the answer says what works without one. Each request
gets a token budget and the job's deadline (every model call it makes, the tools' included, ends before it), and
the thread's memory is read before and written after, so follow-ups carry context.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import ValidationError

from synapse_bot.access import ToolAccess
from synapse_bot.config import Settings
from synapse_bot.context.cite import link_citations
from synapse_bot.dispatch.fast_path import MAX_TOOL_CALLS, FastPath, Parsed
from synapse_bot.dispatch.follow_up_check import CHECK_BUDGET_TOKENS, meant_for_synapse
from synapse_bot.dispatch.model_loop import LoopResult, ModelLoop, RequestContext, ShowText, ToolOutcome, tool_message
from synapse_bot.dispatch.thread_context import read_thread_excerpt
from synapse_bot.llm.client import ChatModel, LlmError, TokenBudget
from synapse_bot.llm.deadline import Deadline
from synapse_bot.llm.schemas import supports_strict
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.memory import Recollection, ThreadMemory
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.context import ToolContext, ToolServices
from synapse_bot.tools.grammar import FastPathError, ToolCall, normalize
from synapse_bot.tools.help import render_help
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

MEMORY_ANSWER_CHARS = 1_500
EXCERPT_SHARE = 0.4  # of the model's window, at most, for the thread excerpt


@dataclass
class DispatchOutcome:
    path: str  # "fast", "llm", "offline"
    text: str
    tools: list[ToolOutcome] = field(default_factory=list)
    failed: bool = False
    budget: TokenBudget | None = None
    exchange: list[dict[str, Any]] = field(default_factory=list)  # for thread memory
    rounds: int = 0
    remembered_sources: list[str] = field(default_factory=list)  # what the thread memory shown to the model quoted

    @property
    def buttons(self) -> list[dict[str, object]]:
        return [button for tool in self.tools for button in tool.result.buttons]

    @property
    def sources(self) -> list[str]:
        """Every Slack conversation whose content the answer quotes (the reply path decides who may read it)."""
        quoted = [source for tool in self.tools for source in tool.result.sources]
        return list(dict.fromkeys([*quoted, *self.remembered_sources]))

    @property
    def ok(self) -> bool:
        return not self.failed and all(t.result.ok for t in self.tools)


class Dispatcher:
    def __init__(
        self,
        registry: ToolRegistry,
        settings: Settings,
        *,
        llm: ChatModel | None = None,
        memory: ThreadMemory | None = None,
        services: ToolServices | None = None,
        access: ToolAccess | None = None,
    ) -> None:
        self.registry = registry
        self.access = access
        self.services = services or ToolServices()
        self.settings = settings
        self.llm = llm
        self.memory = memory
        strict = supports_strict(settings.openai_model, settings.openai_base_url)
        self.fast_path = FastPath(registry)
        self.model_loop = ModelLoop(llm, registry, strict=strict) if llm is not None else None

    # Entry point ---------------------------------------------------------------------------------

    def dispatch(
        self,
        request: SlackRequest,
        trace: RequestTrace,
        show: ShowText | None = None,
        deadline: Deadline | None = None,
    ) -> DispatchOutcome:
        """The answer to `request`; with `show`, a model-written answer is also streamed to it as it is written.

        `deadline` is the job's (SYNAPSE_JOB_TIME_LIMIT_SECONDS from when it started); without one the time limit
        counts from now.
        """
        budget = TokenBudget(self.settings.request_token_budget)
        deadline = deadline or Deadline.starting_now(self.settings.job_time_limit_seconds)
        with trace.span("dispatch", span_type="CHAIN") as span:
            parsed = self.route(request)
            fast = parsed.result is not None and (parsed.complete or self.model_loop is None)
            if fast and isinstance(parsed.result, FastPathError):
                span.set(path="fast", valid=False)
                outcome = DispatchOutcome(path="fast", text=parsed.result.message, failed=True)
            elif fast and isinstance(parsed.result, list):
                span.set(path="fast", tool_calls=len(parsed.result))
                outcomes = [
                    self.run_tool(call, request, trace, budget, deadline) for call in parsed.result[:MAX_TOOL_CALLS]
                ]
                outcome = DispatchOutcome(path="fast", text=join_results(outcomes), tools=outcomes)
            elif self.model_loop is None:
                span.set(path="offline")
                outcome = DispatchOutcome(path="offline", text=self.unrecognised(request, budget, trace))
            else:
                span.set(path="llm")
                outcome = self._via_model(request, budget, trace, deadline, show)
                span.set(rounds=outcome.rounds)
            span.set(
                prompt_tokens=budget.prompt_tokens,
                completion_tokens=budget.completion_tokens,
                llm_calls=len(budget.calls),
            )
        outcome.budget = budget
        self._remember(request, outcome)
        return outcome

    def meant_for_synapse(self, request: SlackRequest, trace: RequestTrace) -> tuple[bool, TokenBudget]:
        """For a follow-up the words could not decide: one small model call (its tokens in the budget returned)."""
        budget = TokenBudget(CHECK_BUDGET_TOKENS)
        recalled = self._recall(request) if self.memory is not None else Recollection()
        last = next(
            (str(m.get("content") or "") for m in reversed(recalled.messages) if m.get("role") == "assistant"), ""
        )
        with trace.span("dispatch.follow_up_check", span_type="CHAIN") as span:
            verdict = meant_for_synapse(self.llm, request, trace, last, budget)
            span.set(meant_for_synapse=verdict)
        return verdict, budget

    def route(self, request: SlackRequest) -> Parsed:
        if request.kind is RequestKind.SHORTCUT:
            # The shortcut names its thread exactly; no parsing needed.
            call = ToolCall("summarize_thread", {"channel": request.channel_id, "thread_ts": request.thread_ts})
            return Parsed([call], True)
        return self.fast_path.route(request.text)

    # Paths ---------------------------------------------------------------------------------------

    def _via_model(
        self,
        request: SlackRequest,
        budget: TokenBudget,
        trace: RequestTrace,
        deadline: Deadline,
        show: ShowText | None = None,
    ) -> DispatchOutcome:
        assert self.model_loop is not None and self.llm is not None
        question = normalize(request.text)
        with trace.span("context.thread") as span:
            if self.services.progress is not None and request.thread_asked_in is not None:
                self.services.progress(request, "is reading the thread…")
            room = min(self.settings.thread_context_tokens, int(self.llm.context_tokens * EXCERPT_SHARE))
            excerpt = read_thread_excerpt(request, self.services, question, room, self.llm.counter.count)
            if excerpt is not None:
                span.set(messages=excerpt.total, shown=excerpt.shown, tokens=excerpt.tokens, summary=excerpt.summarised)
        context = RequestContext(
            request,
            excerpt.text if excerpt else None,
            tuple(self.settings.default_repo_list),
            links=dict(excerpt.links) if excerpt else {},
        )
        recollection = self._recall(request)
        history = recollection.messages
        # Earlier answers in this thread may have quoted other conversations: the model may repeat them.
        quoted_elsewhere = any(source != request.channel_id for source in recollection.sources)

        def run(call: ToolCall) -> ToolOutcome:
            nonlocal quoted_elsewhere
            outcome = self.run_tool(call, request, trace, budget, deadline)
            quoted_elsewhere |= any(source != request.channel_id for source in outcome.result.sources)
            return outcome

        def shown(text: str) -> None:
            # Once a tool quoted another conversation, the answer waits for the privacy rule (jobs/reply.py).
            if show is not None and not quoted_elsewhere:
                show(text)

        try:
            result = self.model_loop.run(
                context, history, budget, trace, run, shown if show is not None else None, deadline=deadline
            )
        except LlmError as exc:
            text = exc.user_message
            if exc.kind != "deadline":  # the model failed, not the request's time: commands still work
                text += "\n\nExplicit commands still work without the model, e.g. `help`."
            return DispatchOutcome(path="llm", text=text, failed=True)
        text = answer_text(result, excerpt.links if excerpt else {})
        exchange = result.exchange
        if not result.answer:
            exchange = [*exchange, {"role": "assistant", "content": text[:MEMORY_ANSWER_CHARS]}]
        failed = not result.answer and not result.tools
        return DispatchOutcome(
            path="llm",
            text=text,
            tools=result.tools,
            failed=failed,
            exchange=exchange,
            rounds=result.rounds,
            remembered_sources=recollection.sources,
        )

    def unrecognised(self, request: SlackRequest, budget: TokenBudget, trace: RequestTrace) -> str:
        context = self._context(request, trace, budget)
        reason = (
            "I can only follow explicit commands right now because no model is configured (OPENAI_API_KEY)."
            if self.settings.offline
            else "I didn't recognise that as one of my commands."
        )
        return f"{reason}\n\n{render_help(context)}"

    # Tools ---------------------------------------------------------------------------------------

    def context_for(self, request: SlackRequest, trace: RequestTrace) -> ToolContext:
        """A tool context outside a dispatch (button clicks)."""
        return self._context(request, trace, TokenBudget(self.settings.request_token_budget))

    def _context(
        self, request: SlackRequest, trace: RequestTrace, budget: TokenBudget, deadline: Deadline | None = None
    ) -> ToolContext:
        return ToolContext(
            request=request,
            settings=self.settings,
            registry=self.registry,
            trace=trace,
            budget=budget,
            llm=self.llm,
            services=self.services,
            deadline=deadline,
        )

    def run_tool(
        self,
        call: ToolCall,
        request: SlackRequest,
        trace: RequestTrace,
        budget: TokenBudget,
        deadline: Deadline | None = None,
    ) -> ToolOutcome:
        started = time.perf_counter()
        tool = self.registry.get(call.name)
        with trace.span(f"tool.{call.name}", span_type="TOOL", tool=call.name) as span:
            verdict = self.access.check(call.name, request.user_id, request.channel_id) if self.access else None
            if tool is None:
                result = ToolResult(text=f"I don't have a tool called `{call.name}`. Say `help` to see mine.", ok=False)
            elif verdict is not None and not verdict.allowed:
                span.set(refused="access_rules")
                result = ToolResult(text=verdict.reason, ok=False)
            else:
                try:
                    args = tool.args_model.model_validate(call.args)
                except ValidationError as exc:
                    result = ToolResult(text=tool.explain_invalid(exc), ok=False)
                else:
                    span.set(args=args.model_dump_json()[:500])
                    if self.services.progress is not None:
                        self.services.progress(request, tool.working_status)
                    context = self._context(request, trace, budget, deadline)
                    result = self._run_safely(tool.name, lambda: tool.run(args, context))
            span.set(ok=result.ok, result_chars=len(result.text))
            span.set(**{f"result.{k}": v for k, v in result.data.items() if isinstance(v, bool | int | float)})
            if not result.ok:
                span.status = "ERROR"
        return ToolOutcome(call=call, result=result, duration_ms=(time.perf_counter() - started) * 1000)

    @staticmethod
    def _run_safely(name: str, run: Callable[[], ToolResult]) -> ToolResult:
        try:
            return run()
        except LlmError as exc:
            if exc.kind == "deadline":  # the request's time is up, not the tool's fault: the notice alone
                return ToolResult(text=exc.user_message, ok=False)
            return ToolResult(text=f"**{name}**: {exc.user_message}", ok=False)
        except redis.RedisError as exc:
            log.warning("tool needs redis, which is unreachable", extra={"tool": name, "error": type(exc).__name__})
            return ToolResult(
                text=f"**{name}** needs Synapse's store (Redis), which is unreachable right now, so nothing was "
                "saved or changed. Try again in a minute; if it keeps failing, tell your Synapse admin.",
                ok=False,
            )
        except Exception as exc:
            log.exception("tool failed", extra={"tool": name})
            return ToolResult(
                text=f"**{name}** failed unexpectedly ({type(exc).__name__}). "
                "Try again in a minute; if it keeps failing, tell your Synapse admin.",
                ok=False,
            )

    # Memory --------------------------------------------------------------------------------------

    def _recall(self, request: SlackRequest) -> Recollection:
        if self.memory is None or request.kind not in (RequestKind.MENTION, RequestKind.COMMAND):
            return Recollection()
        return self.memory.recall(request.team_id, request.channel_id, request.thread_ts)

    def _remember(self, request: SlackRequest, outcome: DispatchOutcome) -> None:
        """Keep this exchange as the model would see it: real tool calls and results, never prose about them."""
        if self.memory is None or not request.thread_ts:
            return
        exchange = outcome.exchange or fast_exchange(request, outcome)
        self.memory.remember(request.team_id, request.channel_id, request.thread_ts, exchange, outcome.sources)


def fast_exchange(request: SlackRequest, outcome: DispatchOutcome) -> list[dict[str, Any]]:
    """A fast-path or offline answer as chat messages: the question, the calls made, their results, the answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": normalize(request.text) or f"({request.kind.value})"}]
    if outcome.tools:
        ids = [f"call_fast_{i}" for i in range(len(outcome.tools))]
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": id_,
                        "type": "function",
                        "function": {"name": t.call.name, "arguments": json.dumps(t.call.args)},
                    }
                    for id_, t in zip(ids, outcome.tools, strict=True)
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": id_, "content": tool_message(t.result)}
            for id_, t in zip(ids, outcome.tools, strict=True)
        ]
    # After tool results, the answer the person saw is left out: it repeats the results, and a small model copies
    # such a text ("Watching #alerts for …") as if it had done the work again. The calls and results stay.
    messages.append({"role": "assistant", "content": "" if outcome.tools else outcome.text[:MEMORY_ANSWER_CHARS]})
    return messages


def answer_text(result: LoopResult, links: dict[str, str]) -> str:
    """What the person reads: the model's answer with its citations linked, else what the tools produced. A change
    a tool made (a subscription, a monitor) is said in the tool's own words first: a model's summary of it can be
    wrong (a small model said "subscribe this channel" of the subscription it had just made)."""
    parts: list[str] = []
    if result.answer:
        said = _plain(result.answer)
        changes = (o.result.text.strip() for o in result.tools if o.result.changed and o.result.ok)
        parts.extend(c for c in dict.fromkeys(changes) if _plain(c) not in said)  # not twice when the model quotes it
        parts.append(neutralize_mass_mentions(link_citations(result.answer, links)))
    elif result.tools:
        parts.append(join_results(result.tools))
    elif result.problems:
        parts.append("I couldn't do that: " + " ".join(result.problems))
    else:
        parts.append("I couldn't work out what to do with that. Say `help` to see what I can do.")
    if result.cut_short:
        parts.append(f"_I stopped before finishing because {result.cut_short}; this is what I had by then._")
    return "\n\n".join(parts)


def _plain(text: str) -> str:
    """Text without Markdown emphasis and code marks, whitespace collapsed: to see one text inside another."""
    return " ".join(re.sub(r"[`*_~]", "", text).split()).lower()


def join_results(outcomes: list[ToolOutcome]) -> str:
    """The tools' own texts, each once (a model that repeated a failing call must not repeat its error)."""
    texts = dict.fromkeys(o.result.text.strip() for o in outcomes if o.result.text.strip())
    return "\n\n".join(texts)
