"""The structured review the model returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from synapse_bot.llm.schemas import json_content, strict_json_schema


class KeyIssue(BaseModel):
    file: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    why: str
    suggestion: str = ""


class PullReview(BaseModel):
    summary: str
    effort: int = Field(ge=1, le=5, description="Review effort, 1 (trivial) to 5 (very hard)")
    risk: Literal["low", "medium", "high"]
    key_issues: list[KeyIssue] = Field(default_factory=list)
    security_concerns: list[str] = Field(default_factory=list)
    test_gaps: list[str] = Field(default_factory=list)


def review_response_format() -> dict[str, object]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "pull_review", "strict": True, "schema": strict_json_schema(PullReview)},
    }


def parse_review(content: str | None) -> PullReview | None:
    data = json_content(content)
    if not isinstance(data, dict):
        return None
    issues = [i for i in data.get("key_issues") or [] if isinstance(i, dict)]
    cleaned = {k: v for k, v in data.items() if v is not None}
    cleaned["key_issues"] = [{k: v for k, v in i.items() if v is not None} for i in issues]
    try:
        return PullReview.model_validate(cleaned)
    except ValidationError:
        return None
