"""Turn argument validation errors into sentences a person can act on."""

from __future__ import annotations

from pydantic import ValidationError

from synapse_bot.tools.base import Tool

_FIELD_HINTS = {
    "repo": "a repository as `owner/name`, e.g. `acme/widgets`",
    "number": "a pull-request number, e.g. `#123`",
    "thread_ts": "a message timestamp like `1712345678.123456`, or paste the thread's link",
    "keywords": "one or more keywords, e.g. `keywords: error, critical, down`",
    "channel": "a channel, e.g. `#alerts`",
    "limit": "a number from 1 to 100",
}


def describe_validation_error(tool: Tool[object], exc: ValidationError) -> str:  # type: ignore[type-var]
    problems = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        top = field.split(".")[0]
        if error.get("type") == "extra_forbidden":
            problems.append(f"`{field}` is not something {tool.name} takes")
        elif error.get("type") == "missing":
            problems.append(f"`{field}` is missing — I need {_FIELD_HINTS.get(top, 'a value')}")
        else:
            hint = _FIELD_HINTS.get(top)
            given = error.get("input")
            shown = f" (got `{str(given)[:60]}`)" if isinstance(given, str | int | float) else ""
            problems.append(f"`{field}` is not valid{shown}" + (f" — I need {hint}" if hint else f": {error['msg']}"))
    example = f" For example: `{tool.examples[0]}`." if tool.examples else ""
    return f"I couldn't run **{tool.name}**: " + "; ".join(problems) + "." + example
