"""Pack transcript lines into chunks that each fit a token budget.

Lines are never reordered; a single line longer than the budget is cut to fit (with a marker) rather than
breaking the guarantee that every model call stays within its budget. Each chunk starts with a full date and time;
later lines show the time only where it moved on (`Line.render_after`).
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
    stamped: Line | None = None

    def fitted(text: str) -> tuple[str, int]:
        cost = count(text) + 1
        if cost > budget_tokens:
            text = truncate(text, budget_tokens - 8) + " …[cut]"
            cost = count(text) + 1
        return text, cost

    for line in lines:
        rendered, shows_time = line.render_after(stamped)
        text, cost = fitted(rendered)
        if current and used + cost > budget_tokens:
            chunks.append(current)
            current, used = [], 0
            (text, cost), shows_time = fitted(line.render()), True  # a new chunk starts with the date and time
        current.append(text)
        used += cost
        if shows_time:
            stamped = line
    if current:
        chunks.append(current)
    return chunks
