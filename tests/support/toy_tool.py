"""A toy tool declared in one file and known to no module of Synapse: proof that a tool is one file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from synapse_bot.tools.base import ActionOutcome, Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import FastPathError, Grammar, RouteResult, ToolCall

REROLL_ACTION = "toy_reroll"


class RollArgs(ToolArgs):
    sides: int = Field(ge=2, le=100, description="How many sides the die has")

    hints: ClassVar[Mapping[str, str]] = {"sides": "a number of sides from 2 to 100, e.g. `d20`"}


def _roll(args: RollArgs, ctx: ToolContext) -> ToolResult:
    button = {
        "type": "button",
        "action_id": REROLL_ACTION,
        "value": str(args.sides),
        "text": {"type": "plain_text", "text": "Reroll"},
    }
    return ToolResult(text=f"Rolled a d{args.sides}: {args.sides // 2} (a fair toy).", buttons=[button])


def _reroll(ctx: ToolContext, value: str) -> ActionOutcome:
    return ActionOutcome(f"<@{ctx.request.user_id}> rerolled the d{value}.")


def _parse(text: str, lower: str) -> RouteResult:
    if not lower.startswith("roll"):
        return None
    match = re.search(r"\bd(\d+)\b", lower)
    if not match:
        return FastPathError("Which die? Try `roll a d20`.")
    return [ToolCall("roll_dice", {"sides": int(match.group(1))})]


ROLL_TOOL = Tool(
    name="roll_dice",
    summary="roll a die with any number of sides",
    description="Roll one die.",
    args_model=RollArgs,
    handler=_roll,
    examples=("roll a d20",),
    grammar=Grammar(verbs=("roll",), parse=_parse, words=r"\b(?:roll|a|an|d\d+|die)\b"),
    actions={REROLL_ACTION: _reroll},
)
