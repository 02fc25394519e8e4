"""Turn a Slack request into tool calls and tool calls into an answer.

Explicit commands take the fast path (no model). Everything else goes to the model when one is configured;
offline, the answer says what works without one. Each request gets a token budget, and the thread's memory is
read before and written after, so follow-ups carry context.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from pydantic import ValidationError

from synapse_bot.access import ToolAccess
from synapse_bot.config import Settings
from synapse_bot.dispatch.fast_path import MAX_TOOL_CALLS, FastPath
from synapse_bot.dispatch.model_loop import ModelLoop
from synapse_bot.llm.client import ChatModel, LlmError, TokenBudget
from synapse_bot.llm.schemas import supports_strict
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.memory import ThreadMemory, Turn
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.context import ToolContext, ToolServices
from synapse_bot.tools.grammar import FastPathError, ToolCall, normalize
from synapse_bot.tools.help import render_help
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

MEMORY_RESULT_CHARS = 600


@dataclass
class ToolOutcome:
    call: ToolCall
    result: ToolResult
    duration_ms: float


@dataclass
class DispatchOutcome:
    path: str  # "fast", "llm", "offline"
    text: str
    tools: list[ToolOutcome] = field(default_factory=list)
    failed: bool = False
    budget: TokenBudget | None = None

    @property
    def buttons(self) -> list[dict[str, object]]:
        return [button for tool in self.tools for button in tool.result.buttons]

    @property
    def sources(self) -> list[str]:
        """Every Slack conversation whose content the answer quotes (the reply path decides who may read it)."""
        return list(dict.fromkeys(source for tool in self.tools for source in tool.result.sources))

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

    def dispatch(self, request: SlackRequest, trace: RequestTrace) -> DispatchOutcome:
        budget = TokenBudget(self.settings.request_token_budget)
        history = self._recall(request)
        with trace.span("dispatch", span_type="CHAIN") as span:
            routed = self.route(request)
            if isinstance(routed, FastPathError):
                span.set(path="fast", valid=False)
                outcome = DispatchOutcome(path="fast", text=routed.message, failed=True)
            elif routed is not None:
                span.set(path="fast", tool_calls=len(routed))
                outcomes = [self.run_tool(call, request, trace, budget) for call in routed[:MAX_TOOL_CALLS]]
                outcome = DispatchOutcome(path="fast", text=join_results(outcomes), tools=outcomes)
            elif self.model_loop is None:
                span.set(path="offline")
                outcome = DispatchOutcome(path="offline", text=self.unrecognised(request, budget, trace))
            else:
                span.set(path="llm")
                outcome = self._via_model(request, history, budget, trace)
            span.set(
                prompt_tokens=budget.prompt_tokens,
                completion_tokens=budget.completion_tokens,
                llm_calls=len(budget.calls),
            )
        outcome.budget = budget
        self._remember(request, outcome)
        return outcome

    def route(self, request: SlackRequest) -> list[ToolCall] | FastPathError | None:
        if request.kind is RequestKind.SHORTCUT:
            # The shortcut names its thread exactly; no parsing needed.
            return [ToolCall("summarize_thread", {"channel": request.channel_id, "thread_ts": request.thread_ts})]
        return self.fast_path.parse(request.text)

    # Paths ---------------------------------------------------------------------------------------

    def _via_model(
        self, request: SlackRequest, history: list[Turn], budget: TokenBudget, trace: RequestTrace
    ) -> DispatchOutcome:
        assert self.model_loop is not None
        try:
            decision = self.model_loop.decide(request, history, budget, trace)
        except LlmError as exc:
            text = f"{exc.user_message}\n\nExplicit commands still work without the model, e.g. `help`."
            return DispatchOutcome(path="llm", text=text, failed=True)
        outcomes = [self.run_tool(call, request, trace, budget) for call in decision.calls]
        parts = [join_results(outcomes)] if outcomes else []
        if decision.reply and not outcomes:
            parts.append(neutralize_mass_mentions(decision.reply))
        if decision.problems:
            parts.append("I couldn't do all of that: " + " ".join(decision.problems))
        text = "\n\n".join(p for p in parts if p) or (
            "I couldn't work out what to do with that. Say `help` to see what I can do."
        )
        return DispatchOutcome(path="llm", text=text, tools=outcomes, failed=bool(decision.problems) and not outcomes)

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

    def _context(self, request: SlackRequest, trace: RequestTrace, budget: TokenBudget) -> ToolContext:
        return ToolContext(
            request=request,
            settings=self.settings,
            registry=self.registry,
            trace=trace,
            budget=budget,
            llm=self.llm,
            services=self.services,
        )

    def run_tool(self, call: ToolCall, request: SlackRequest, trace: RequestTrace, budget: TokenBudget) -> ToolOutcome:
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
                    context = self._context(request, trace, budget)
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

    def _recall(self, request: SlackRequest) -> list[Turn]:
        if self.memory is None or request.kind not in (RequestKind.MENTION, RequestKind.COMMAND):
            return []
        return self.memory.recall(request.team_id, request.channel_id, request.thread_ts)

    def _remember(self, request: SlackRequest, outcome: DispatchOutcome) -> None:
        if self.memory is None or not request.thread_ts:
            return
        turns = [Turn(role="user", text=normalize(request.text) or f"({request.kind.value})")]
        if outcome.tools:
            for tool in outcome.tools:
                summary = tool.result.text[:MEMORY_RESULT_CHARS]
                if tool.result.data:
                    summary += "\n" + json.dumps(tool.result.data, default=str)[:MEMORY_RESULT_CHARS]
                turns.append(Turn(role="assistant", text=summary, tool=tool.call.name, args=tool.call.args))
        else:
            turns.append(Turn(role="assistant", text=outcome.text[:MEMORY_RESULT_CHARS]))
        self.memory.remember(request.team_id, request.channel_id, request.thread_ts, *turns)


def join_results(outcomes: list[ToolOutcome]) -> str:
    return "\n\n".join(o.result.text.strip() for o in outcomes if o.result.text.strip())
