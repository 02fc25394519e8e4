"""JSON schemas from pydantic models, in the forms OpenAI-compatible servers accept, and reading JSON answers.

The same models validate what comes back, so a schema and its validation can never disagree. OpenAI's strict mode
needs every property listed as required and no defaults; optional fields become nullable instead, and nulls are
dropped again before validation so the model's defaults apply. Servers other than OpenAI's get the plain schema.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

STRICT_MODEL_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
_DROP_KEYS = {"default", "title", "examples"}


def supports_strict(model: str, base_url: str | None) -> bool:
    """Strict schemas only where we know the server enforces them: OpenAI's own recent models."""
    official = base_url is None or "api.openai.com" in base_url
    return official and model.startswith(STRICT_MODEL_PREFIXES)


def _strictify(node: Any) -> Any:
    if isinstance(node, list):
        return [_strictify(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strictify(v) for k, v in node.items() if k not in _DROP_KEYS}
    if out.get("type") == "object" and "properties" in out:
        required = set(node.get("required", []))
        for name, prop in out["properties"].items():
            if name not in required and not _is_nullable(prop):
                out["properties"][name] = {"anyOf": [prop, {"type": "null"}]}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def _is_nullable(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", []))


def _plain(node: Any) -> Any:
    """The schema for servers without strict mode, as small as it can be: no titles, and an optional field written
    as its plain type (`str | None = None` is `{"type": "string"}`, not an anyOf with null and a null default) —
    leaving it out means the same, and a small model reads the short form more reliably."""
    if isinstance(node, list):
        return [_plain(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _plain(v) for k, v in node.items() if k != "title"}
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        kept = next(o for o in options if o != {"type": "null"})
        out = {**{k: v for k, v in out.items() if k != "anyOf"}, **kept}
        if out.get("default", 0) is None:
            del out["default"]
    return out


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model's JSON schema in the form OpenAI's strict structured outputs accept."""
    schema: dict[str, Any] = _strictify(copy.deepcopy(model.model_json_schema()))
    return schema


def compact_strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`strict_json_schema` without descriptions and titles, a nullable type as `["string", "null"]` and a list
    field as a plain (possibly empty) array: for a schema sent with every call whose instructions already say what
    each field means (the summary schema went from 370 tokens to about half)."""
    compact: dict[str, Any] = _compact(strict_json_schema(model))
    return compact


def _compact(node: Any) -> Any:
    if isinstance(node, list):
        return [_compact(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _compact(v) for k, v in node.items() if k not in ("description", "title")}
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (kept,) = [option for option in options if option != {"type": "null"}]
        rest = {k: v for k, v in out.items() if k != "anyOf"}
        if kept.get("type") == "array":
            return {**rest, **kept}  # a list that may be left out: an empty list says the same
        if isinstance(kept.get("type"), str) and set(kept) == {"type"}:
            return {**rest, "type": [kept["type"], "null"]}
    return out


def function_parameters(model: type[BaseModel], strict: bool) -> dict[str, Any]:
    """A pydantic model as function-calling `parameters` (strict or plain)."""
    parameters = copy.deepcopy(model.model_json_schema())
    result: dict[str, Any] = _strictify(parameters) if strict else _plain(parameters)
    return result


def drop_nulls(args: dict[str, Any]) -> dict[str, Any]:
    """Strict mode sends null for 'not given'; the argument model's defaults should apply instead."""
    return {k: v for k, v in args.items() if v is not None}


def json_content(content: str | None) -> Any:
    """The JSON a model answered with (code fences tolerated), or None if it is not JSON."""
    text = (content or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
