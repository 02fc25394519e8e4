"""The structured triage the model returns, and how its answer is kept honest.

Suggested labels are cut down to the repository's live labels (matched case-insensitively, shown in the
repository's spelling); duplicates are cut down to our own candidates; issues the model skipped fall back to
the heuristic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from synapse_bot.llm.schemas import json_content, strict_json_schema

IssueType = Literal["bug", "feature", "question", "docs", "chore"]
Priority = Literal["P0", "P1", "P2", "P3"]


class IssueTriage(BaseModel):
    number: int
    type: IssueType
    priority: Priority
    reason: str = Field(description="One line: why this priority")
    labels: list[str] = Field(default_factory=list, description="Labels to add, only from the repository's labels")
    missing_info: list[str] = Field(default_factory=list, description="What to ask the reporter for")
    duplicates: list[int] = Field(default_factory=list, description="Confirmed duplicates, only from the candidates")
    offline: bool = False


class TriageBatch(BaseModel):
    issues: list[IssueTriage]


def triage_response_format() -> dict[str, object]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "issue_triage", "strict": True, "schema": strict_json_schema(TriageBatch)},
    }


def parse_batch(content: str | None) -> list[IssueTriage]:
    data = json_content(content)
    items = data.get("issues") if isinstance(data, dict) else data
    parsed = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            parsed.append(IssueTriage.model_validate({k: v for k, v in item.items() if v is not None}))
        except ValidationError:
            continue
    return parsed


def keep_honest(item: IssueTriage, live_labels: list[str], candidates: list[int]) -> IssueTriage:
    canonical = {label.casefold(): label for label in live_labels}
    labels = list(dict.fromkeys(canonical[x.casefold()] for x in item.labels if x.casefold() in canonical))
    duplicates = [n for n in dict.fromkeys(item.duplicates) if n in candidates and n != item.number]
    return item.model_copy(
        update={
            "labels": labels,
            "duplicates": duplicates,
            "reason": " ".join(item.reason.split())[:200],
            "missing_info": [" ".join(m.split())[:120] for m in item.missing_info[:4]],
        }
    )
