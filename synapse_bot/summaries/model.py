"""The structured summary the model must return (JSON schema), and how to read a reply into it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from synapse_bot.llm.schemas import compact_strict_schema, json_content


class ActionItem(BaseModel):
    task: str = Field(description="What has to be done")
    owner: str | None = Field(default=None, description="Who does it, as named in the thread")
    due: str | None = Field(default=None, description="Due date only when the thread states one")


class ThreadSummary(BaseModel):
    tldr: str = Field(description="One or two sentences: what the thread is about and where it ended")
    key_points: list[str] = Field(default_factory=list, description="The main facts and arguments")
    decisions: list[str] = Field(default_factory=list, description="Decisions that were made")
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list, description="Questions left unanswered")


def summary_response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "thread_summary", "strict": True, "schema": compact_strict_schema(ThreadSummary)},
    }


def parse_summary(content: str | None) -> ThreadSummary:
    """The model's JSON as a ThreadSummary; prose from a server that ignored the schema becomes the TL;DR."""
    data = json_content(content)
    if isinstance(data, dict):
        try:
            return ThreadSummary.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError:
            pass
    return ThreadSummary(tldr=(content or "").strip()[:1500] or "(the model returned no summary)")
