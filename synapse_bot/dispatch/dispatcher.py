"""Turn a Slack request into tool calls and tool calls into an answer.

Explicit commands take the fast path (no model). Everything else goes to the model when one is configured;
offline, the answer says what works without one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from synapse_bot.config import Settings
from synapse_bot.dispatch.errors import describe_validation_error
from synapse_bot.dispatch.router import FastPathError, ToolCall, parse_command
from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.help import render_help
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

MAX_TOOL_CALLS = 3


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

    @property
    def ok(self) -> bool:
        return all(t.result.ok for t in self.tools)


class Dispatcher:
    def __init__(self, registry: ToolRegistry, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings

    def dispatch(self, request: SlackRequest, trace: RequestTrace) -> DispatchOutcome:
        with trace.span("dispatch", span_type="CHAIN") as span:
            routed = self.route(request)
            if isinstance(routed, FastPathError):
                span.set(path="fast", recognised=True, valid=False)
                return DispatchOutcome(path="fast", text=routed.message)
            if routed is not None:
                span.set(path="fast", recognised=True, tool_calls=len(routed))
                outcomes = [self.run_tool(call, request, trace) for call in routed[:MAX_TOOL_CALLS]]
                return DispatchOutcome(path="fast", text=join_results(outcomes), tools=outcomes)
            span.set(path="offline")
            return DispatchOutcome(path="offline", text=self.unrecognised(request))

    @staticmethod
    def route(request: SlackRequest) -> list[ToolCall] | FastPathError | None:
        if request.kind is RequestKind.SHORTCUT:
            # The shortcut names its thread exactly; no parsing needed.
            return [ToolCall("summarize_thread", {"channel": request.channel_id, "thread_ts": request.thread_ts})]
        return parse_command(request.text)

    def unrecognised(self, request: SlackRequest) -> str:
        context = ToolContext(request=request, settings=self.settings, registry=self.registry)
        reason = (
            "I can only follow explicit commands right now because no model is configured (OPENAI_API_KEY)."
            if self.settings.offline
            else "I didn't recognise that as one of my commands."
        )
        return f"{reason}\n\n{render_help(context)}"

    def run_tool(self, call: ToolCall, request: SlackRequest, trace: RequestTrace) -> ToolOutcome:
        started = time.perf_counter()
        tool = self.registry.get(call.name)
        with trace.span(f"tool.{call.name}", span_type="TOOL", tool=call.name) as span:
            if tool is None:
                result = ToolResult(text=f"I don't have a tool called `{call.name}`. Say `help` to see mine.", ok=False)
            else:
                try:
                    args = tool.args_model.model_validate(call.args)
                except ValidationError as exc:
                    result = ToolResult(text=describe_validation_error(tool, exc), ok=False)
                else:
                    span.set(args=args.model_dump_json()[:500])
                    context = ToolContext(request=request, settings=self.settings, registry=self.registry)
                    result = self._run_safely(tool.name, lambda: tool.run(args, context))
            span.set(ok=result.ok, available=result.available, result_chars=len(result.text))
            if not result.ok:
                span.status = "ERROR" if result.available else "OK"
        return ToolOutcome(call=call, result=result, duration_ms=(time.perf_counter() - started) * 1000)

    @staticmethod
    def _run_safely(name: str, run: Any) -> ToolResult:
        try:
            result: ToolResult = run()
            return result
        except Exception as exc:
            log.exception("tool failed", extra={"tool": name})
            return ToolResult(
                text=f"*{name}* failed unexpectedly ({type(exc).__name__}). "
                "Try again in a minute; if it keeps failing, tell your Synapse admin.",
                ok=False,
            )


def join_results(outcomes: list[ToolOutcome]) -> str:
    return "\n\n".join(o.result.text.strip() for o in outcomes if o.result.text.strip())
