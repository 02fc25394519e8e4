"""A model that answers from a script, in process: the dispatcher's logic tested without a network.

It satisfies `synapse_bot.llm.client.ChatModel` (what the dispatcher and tools need of a model) and records every
request, so a test can read exactly what the model would have been sent. Over the wire, the OpenAI-compatible
stand-in (`synapse_sandbox/openai_server.py`) plays the same part for the real client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synapse_bot.llm.client import CallRecord, ChatResult, LlmError, TokenBudget
from synapse_bot.llm.deadline import Deadline
from synapse_bot.llm.tokens import TokenCounter


def said(text: str) -> ChatResult:
    """A plain-text answer."""
    return ChatResult(text, [], "scripted", 10, 5, "stop")


def called(*calls: tuple[str, dict[str, Any] | str]) -> ChatResult:
    """Tool calls; a str argument is sent as-is (e.g. invalid JSON)."""
    tool_calls = [
        {"id": f"call_{i}", "name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}
        for i, (name, args) in enumerate(calls)
    ]
    return ChatResult(None, tool_calls, "scripted", 10, 5, "tool_calls")


@dataclass
class ScriptedModel:
    script: list[ChatResult | LlmError]
    model: str = "gpt-4o-mini"
    counter: TokenCounter = field(default_factory=lambda: TokenCounter("gpt-4o-mini"))
    requests: list[dict[str, Any]] = field(default_factory=list)
    context_tokens: int = 128_000

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        budget: TokenBudget,
        purpose: str,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        on_text: Callable[[str], None] | None = None,
        deadline: Deadline | None = None,
    ) -> ChatResult:
        self.requests.append({"messages": [dict(m) for m in messages], "purpose": purpose, "tools": tools})
        if not self.script:
            raise AssertionError(f"the model was asked ({purpose}) more often than scripted")
        reply = self.script.pop(0)
        if isinstance(reply, LlmError):
            budget.charge(CallRecord(self.model, 0, 0, 1.0, purpose, ok=False, error=reply.kind))
            raise reply
        budget.charge(CallRecord(self.model, reply.prompt_tokens, reply.completion_tokens, 1.0, purpose))
        if on_text is not None and reply.content:
            for start in range(0, len(reply.content), 8):
                on_text(reply.content[start : start + 8])
        return reply
