"""An extractive digest for when no model is configured: deterministic, clearly labelled, still useful.

It quotes instead of paraphrasing: the opening message as the TL;DR, the most substantial replies as key points,
and lines that read like decisions, commitments or unanswered questions in their own sections.
"""

from __future__ import annotations

import re

from synapse_bot.summaries.model import ActionItem, ThreadSummary
from synapse_bot.summaries.transcript import Line

_DECISION = re.compile(r"\b(decided|decision|agreed|we'?ll go with|going with|let'?s go with|approved|ship it)\b", re.I)
_ACTION = re.compile(r"\b(i'?ll|i will|will do|todo|to-do|action item|can you|could you|please)\b", re.I)
_DUE = re.compile(
    r"\b(by|before|due)\s+((?:mon|tue|wed|thu|fri|sat|sun)\w*|tomorrow|today|eod|eow|\d{4}-\d{2}-\d{2})", re.I
)
MAX_ITEMS = 5


def _clip(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def extractive_digest(lines: list[Line]) -> ThreadSummary:
    if not lines:
        return ThreadSummary(tldr="The thread has no messages from people yet.")
    root, replies = lines[0], lines[1:]
    decisions = [f"{_clip(line.text)} ({line.author})" for line in lines if _DECISION.search(line.text)]
    actions = []
    for line in lines:
        if _ACTION.search(line.text):
            due = _DUE.search(line.text)
            actions.append(ActionItem(task=_clip(line.text), owner=line.author, due=due.group(2) if due else None))
    questions = [f"{_clip(line.text)} ({line.author})" for line in lines[-10:] if line.text.rstrip().endswith("?")]
    picked = {id(line) for line in lines if _DECISION.search(line.text) or _ACTION.search(line.text)}
    substantial = sorted((line for line in replies if id(line) not in picked), key=lambda ln: -len(ln.text))
    key_points = [
        f"{_clip(line.text)} ({line.author})" for line in sorted(substantial[:MAX_ITEMS], key=lambda ln: ln.ts)
    ]
    authors = sorted({line.author for line in lines})
    tldr = (
        f"{root.author} started: “{_clip(root.text, 300)}” — {len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"
    )
    tldr += f" from {', '.join(authors[:6])}{' and others' if len(authors) > 6 else ''}."
    return ThreadSummary(
        tldr=tldr,
        key_points=key_points,
        decisions=decisions[:MAX_ITEMS],
        action_items=actions[:MAX_ITEMS],
        open_questions=questions[:MAX_ITEMS],
    )
