"""What a tool is: everything about one capability, declared in its own file.

A tool has a name and description the model reads, an argument model (which generates the function-calling schema,
validates arguments whether they come from the fast path or the model, and carries the hints its error messages
use), a handler, help examples, optionally a fast-path `Grammar`, and the buttons it answers (action id → handler).
The fast path, the model loop, help, the actions listener and the job handler all iterate the registry, so adding
a tool is one new file plus one registry line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synapse_bot.tools.grammar import Grammar

if TYPE_CHECKING:
    from synapse_bot.tools.context import ToolContext


class ToolArgs(BaseModel):
    """Base for argument models: unknown fields are an error, so a confused model call is caught.

    `hints` says, per field, what a valid value looks like; validation errors quote it to the person.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    hints: ClassVar[Mapping[str, str]] = {}


class ToolResult(BaseModel):
    """What a tool returns; rendering it for Slack (or a terminal) is someone else's job."""

    text: str = Field(description="Markdown for the person who asked")
    ok: bool = True
    data: dict[str, Any] = Field(default_factory=dict, description="Compact, structured facts for memory/tracking")
    buttons: list[dict[str, Any]] = Field(default_factory=list, description="Block Kit buttons under the answer")
    sources: list[str] = Field(
        default_factory=list,
        description="Slack conversations (channel ids) whose content this result quotes: decides who may read it",
    )
    changed: bool = Field(
        default=False,
        description="It reports a change made (a subscription, a monitor): shown as written, before the model's words",
    )


@dataclass(frozen=True)
class ActionOutcome:
    """What a button click produced: a sentence for the thread, or for the clicker alone (`private`).

    `refresh_home` asks for the clicker's Home tab to be published again (a button on the Home tab changed it).
    """

    text: str
    private: bool = False
    refresh_home: bool = False


ActionHandler = Callable[["ToolContext", str], ActionOutcome]  # (context of the click, the button's value)

A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True)
class Tool(Generic[A]):
    name: str
    summary: str
    description: str
    args_model: type[A]
    handler: Callable[[A, ToolContext], ToolResult]
    examples: tuple[str, ...] = ()
    grammar: Grammar | None = None
    actions: Mapping[str, ActionHandler] = field(default_factory=dict)
    status: str = ""  # shown in the thread while it runs, after Synapse's name: "is reading the thread…"
    # Offered to the model as a function. A command only a person types, or only Synapse itself runs (a schedule's
    # run), is not: every offered schema costs tokens in every prompt.
    offered_to_model: bool = True

    @property
    def working_status(self) -> str:
        return self.status or f"is running {self.name.replace('_', ' ')}…"

    def run(self, args: ToolArgs, context: ToolContext) -> ToolResult:
        if not isinstance(args, self.args_model):
            raise TypeError(f"{self.name} expects {self.args_model.__name__}, got {type(args).__name__}")
        return self.handler(args, context)

    def explain_invalid(self, exc: ValidationError) -> str:
        """Argument validation errors as one sentence a person can act on, with the argument model's hints."""
        hints = self.args_model.hints
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
            hint = hints.get(name.split(".")[0])
            if error.get("type") == "extra_forbidden":
                problems.append(f"`{name}` is not something {self.name} takes")
            elif error.get("type") == "missing":
                problems.append(f"`{name}` is missing — I need {hint or 'a value'}")
            else:
                given = error.get("input")
                shown = f" (got `{str(given)[:60]}`)" if isinstance(given, str | int | float) else ""
                problems.append(
                    f"`{name}` is not valid{shown}" + (f" — I need {hint}" if hint else f": {error['msg']}")
                )
        example = f" For example: `{self.examples[0]}`." if self.examples else ""
        return f"I couldn't run **{self.name}**: " + "; ".join(problems) + "." + example
