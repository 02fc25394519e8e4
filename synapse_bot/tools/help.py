"""help: what Synapse can do, generated from the tool registry so it can never drift from the tools."""

from __future__ import annotations

import re

from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import Grammar, RouteResult, ToolCall


class HelpArgs(ToolArgs):
    topic: str | None = None


def render_help(context: ToolContext, topic: str | None = None) -> str:
    tools = [t for t in context.registry if t.name != "help"]
    if topic:
        wanted = topic.lower().strip()
        picked = [t for t in tools if wanted in t.name or wanted in t.summary.lower()]
        tools = picked or tools
    lines = [
        "**Synapse** — your engineering assistant. Mention me, use `/synapse`, or the **Summarize thread** "
        "shortcut on any message. Here is what I can do:",
        "",
    ]
    for tool in tools:
        lines.append(f"• **{tool.name}** — {tool.summary}")
        for example in tool.examples[:2]:
            lines.append(f"  e.g. `{example}`")
    if context.settings.offline:
        lines += [
            "",
            "_Running without a model key (offline): explicit commands like the examples above work; "
            "free-form questions need OPENAI_API_KEY._",
        ]
    return "\n".join(lines)


def _help(args: HelpArgs, context: ToolContext) -> ToolResult:
    return ToolResult(text=render_help(context, args.topic))


def _parse(text: str, lower: str) -> RouteResult:
    match = re.match(r"^(help|\?|usage|commands|what can you do\??)(?:\s+(.*))?$", lower)
    if not match:
        return None
    topic = (match.group(2) or "").strip() or None
    return [ToolCall("help", {"topic": topic} if topic else {})]


TOOL = Tool(
    name="help",
    summary="explain what Synapse can do and how to ask",
    description="Synapse's capabilities with example phrasings, for when someone asks what you can do.",
    args_model=HelpArgs,
    handler=_help,
    status="is looking up what I can do…",
    examples=("help",),
    grammar=Grammar(
        verbs=(),
        parse=_parse,
        words=r"^\s*(?:help|usage|commands|what can you do)\b(?:\s+(?:with|on|about|for))?(?:\s+\w+)?\s*$",
    ),  # no verbs: "…and help" never splits off a second command
)
