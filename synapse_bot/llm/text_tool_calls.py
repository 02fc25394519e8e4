"""Tool calls that a model wrote as text instead of `tool_calls`.

Small local models served by llama.cpp, vLLM or Ollama often answer a function-calling request with the call in
the message text: a `<tool_call>{…}</tool_call>` block (Qwen, Hermes; Qwen2.5-Coder-1.5B also writes `<tools>`),
a fenced JSON block, or a bare `{"name": …, "arguments": …}` object. Such text must never reach a person; when it
names one of the tools that were offered, it is run as that call. Pure: text and the offered tool names in, calls
out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TAGGED = re.compile(r"<(tool_call|tools?|function_call|functions?)>\s*(.*?)\s*(?:</\1>|$)", re.S | re.I)
# Call-shaped even where it is not valid JSON (an unescaped quote in an argument): never shown, never run.
_CALL_SHAPED = re.compile(r'\{\s*"name"\s*:\s*"[^"]+"\s*,\s*"(?:arguments|parameters)"\s*:', re.S)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.S | re.I)


@dataclass(frozen=True)
class TextToolCall:
    name: str
    arguments: str  # JSON text, always an object ("{}" when the model gave none)


def _objects(text: str) -> list[Any]:
    """Every JSON value decodable from `text`: the whole of it, or each top-level `{…}` found in it."""
    stripped = text.strip()
    try:
        return [json.loads(stripped)]
    except json.JSONDecodeError:
        pass
    found: list[Any] = []
    decoder = json.JSONDecoder()
    index = stripped.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(stripped, index)
        except json.JSONDecodeError:
            index = stripped.find("{", index + 1)
            continue
        found.append(value)
        index = stripped.find("{", end)
    return found


def _as_call(value: Any, offered: set[str]) -> TextToolCall | None:
    if not isinstance(value, dict):
        return None
    inner = value.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else value
    name = function.get("name")
    if not isinstance(name, str) or name not in offered:
        return None
    arguments: Any = function.get("arguments", function.get("parameters", {}))
    if isinstance(arguments, str):
        raw = arguments
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return TextToolCall(name, raw)  # passed on as written: validation explains what is wrong
    if arguments is None:
        arguments = {}
    return TextToolCall(name, json.dumps(arguments))


def _calls_in(values: list[Any], offered: set[str]) -> list[TextToolCall]:
    calls = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, offered)
            if call is not None:
                calls.append(call)
    return calls


def parse_text_tool_calls(content: str | None, offered: set[str]) -> list[TextToolCall]:
    """The calls of offered tools written in `content`, in order; [] when it holds none (plain prose)."""
    if not content or "{" not in content:
        return []
    tagged = [block for _, block in _TAGGED.findall(content)]
    if tagged:
        return _calls_in([v for block in tagged for v in _objects(block)], offered)
    fenced = _FENCED.findall(content)
    if fenced:
        calls = _calls_in([v for block in fenced for v in _objects(block)], offered)
        if calls:
            return calls
    return _calls_in(_objects(content), offered)


def looks_like_a_tool_call(content: str | None) -> bool:
    """Text that is shaped like a tool call (of any name): never shown to a person as an answer."""
    if not content:
        return False
    text = content.strip()
    if _TAGGED.search(text) or _CALL_SHAPED.search(text):
        return True
    return any(isinstance(v, dict) and ("arguments" in v or "parameters" in v) and "name" in v for v in _objects(text))
