"""The App Home tab: what Synapse does and how to ask, built from the tool registry."""

from __future__ import annotations

from typing import Any

from synapse_bot.config import Settings
from synapse_bot.tools.registry import ToolRegistry


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def build_home_view(registry: ToolRegistry, settings: Settings) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Synapse", "emoji": True}},
        _section(
            "Your engineering assistant in Slack: thread summaries, channel keyword alerts, GitHub issue "
            "triage and pull-request reviews. Answers come back in the thread you asked in."
        ),
        _section(
            "*How to ask*\n"
            "• Mention me in a channel: `@synapse summarize this thread`\n"
            "• Use the slash command anywhere: `/synapse help`\n"
            "• On any message, open the ⋮ menu → *Summarize thread*"
        ),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "What I can do", "emoji": True}},
    ]
    for tool in registry:
        if tool.name == "help":
            continue
        status = "" if tool.available else "  _(coming soon)_"
        example = f"\n`{tool.examples[0]}`" if tool.examples else ""
        blocks.append(_section(f"*{tool.name}* — {tool.summary}{status}{example}"))
    if settings.offline:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Running without a model (offline): explicit commands only."}],
            }
        )
    return {"type": "home", "blocks": blocks[:100]}
