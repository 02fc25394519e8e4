"""Pack transcript lines into chunks that each fit a token budget.

Lines are never reordered; a single line longer than the budget is cut to fit (with a marker) rather than
breaking the guarantee that every model call stays within its budget.
"""

from __future__ import annotations

from collections.abc import Callable

from synapse_bot.summaries.transcript import Line

CountTokens = Callable[[str], int]


def chunk_lines(
    lines: list[Line], budget_tokens: int, count: CountTokens, truncate: Callable[[str, int], str]
) -> list[list[str]]:
    """Rendered lines grouped so each group's token count (+1 per newline) is at most `budget_tokens`."""
    if budget_tokens < 16:
        raise ValueError("budget too small")
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        text = line.render()
        cost = count(text) + 1
        if cost > budget_tokens:
            text = truncate(text, budget_tokens - 8) + " …[cut]"
            cost = count(text) + 1
        if current and used + cost > budget_tokens:
            chunks.append(current)
            current, used = [], 0
        current.append(text)
        used += cost
    if current:
        chunks.append(current)
    return chunks
