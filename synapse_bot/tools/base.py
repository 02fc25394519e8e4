"""What a tool is: a name and description the model reads, an argument model, a handler, and flags.

The same pydantic model generates the function-calling schema and validates the arguments, whether they come
from the fast-path grammar or from the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from synapse_bot.tools.context import ToolContext


class ToolArgs(BaseModel):
    """Base for argument models: unknown fields are an error, so a confused model call is caught."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ToolResult(BaseModel):
    """What a tool returns; rendering it for Slack (or a terminal) is someone else's job."""

    text: str = Field(description="Markdown for the person who asked")
    ok: bool = True
    available: bool = True
    data: dict[str, Any] = Field(default_factory=dict, description="Compact, structured facts for memory/tracking")
    buttons: list[dict[str, Any]] = Field(default_factory=list, description="Block Kit buttons under the answer")


A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True)
class Tool(Generic[A]):
    name: str
    summary: str
    description: str
    args_model: type[A]
    handler: Callable[[A, ToolContext], ToolResult]
    examples: tuple[str, ...] = ()
    needs_llm: bool = False
    writes_outside: bool = False
    available: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, args: ToolArgs, context: ToolContext) -> ToolResult:
        if not isinstance(args, self.args_model):
            raise TypeError(f"{self.name} expects {self.args_model.__name__}, got {type(args).__name__}")
        return self.handler(args, context)
