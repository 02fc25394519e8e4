"""The part of a thread the model sees when asked a question in it, within a token budget.

A thread that fits is shown whole. A longer one is shown as: its first message (what the thread is about), the
cached summary of the older part when one exists (never made just for this), the messages most relevant to the
question (BM25) and the latest messages verbatim — in thread order, with a marker where messages are left out. So
the cost of a question does not grow with the thread, and the message that answers it is still in front of the model.

Every message carries a short reference (`m12`: the 12th message of the thread) that the model cites; the answer's
references are turned into links to the messages afterwards (`cite.py`), so the model never has to copy URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from synapse_bot.context.retrieval import rank
from synapse_bot.summaries.transcript import Line

CountTokens = Callable[[str], int]

MESSAGE_CHARS = 1_500  # one message's share: a pasted log never crowds out the rest
SUMMARY_SHARE = 0.2
LATEST_SHARE = 0.45
LATEST_MAX = 40
RELEVANT_MAX = 20


@dataclass(frozen=True)
class ThreadMessage:
    ref: str  # "m12"
    line: Line
    link: str | None = None

    def render(self) -> str:
        text = self.line.render()
        if len(text) > MESSAGE_CHARS:
            text = text[:MESSAGE_CHARS] + " …[cut]"
        return f"[{self.ref}] {text}"


@dataclass(frozen=True)
class Excerpt:
    text: str
    links: dict[str, str] = field(default_factory=dict)  # ref -> permalink, for the refs shown
    shown: int = 0
    total: int = 0
    tokens: int = 0
    summarised: bool = False


def thread_excerpt(
    messages: list[ThreadMessage],
    question: str,
    budget: int,
    count: CountTokens,
    *,
    where: str,
    summary: str | None = None,
) -> Excerpt:
    """What of `messages` to show for `question` in at most `budget` tokens (by `count`)."""
    if not messages:
        return Excerpt(f"The thread in {where} has no messages from people yet.", total=0)
    costs = [count(m.render()) + 1 for m in messages]
    if sum(costs) <= budget:
        return _render(messages, set(range(len(messages))), where, None, count)
    picked: set[int] = {0}
    used = costs[0]
    summary_text = None
    if summary:
        summary_text = _clip_to(summary, int(budget * SUMMARY_SHARE), count)
        used += count(summary_text) + 8
    latest_room = used + int(budget * LATEST_SHARE)
    for index in range(len(messages) - 1, 0, -1):
        if len(picked) > LATEST_MAX or used + costs[index] > latest_room:
            break
        picked.add(index)
        used += costs[index]
    older = [i for i in range(1, len(messages)) if i not in picked]
    for hit in rank(question, [messages[i].line.text for i in older], RELEVANT_MAX):
        index = older[hit]
        if used + costs[index] <= budget:
            picked.add(index)
            used += costs[index]
    for index in range(len(messages) - 1, 0, -1):  # room left: more of the latest
        if index not in picked and used + costs[index] <= budget:
            picked.add(index)
            used += costs[index]
        elif index not in picked:
            break
    return _render(messages, picked, where, summary_text, count)


def _render(
    messages: list[ThreadMessage], picked: set[int], where: str, summary: str | None, count: CountTokens
) -> Excerpt:
    total = len(messages)
    head = f"The thread in {where}: {total} message{'s' if total != 1 else ''}"
    if len(picked) < total:
        head += f", {len(picked)} shown (the first, those most relevant to the question, and the latest)"
    lines = [head + "."]
    if summary:
        lines.append(f"<summary_of_older_messages>\n{summary}\n</summary_of_older_messages>")
    previous = -1
    for index in sorted(picked):
        gap = index - previous - 1
        if gap > 0:
            lines.append(f"… ({gap} message{'s' if gap != 1 else ''} not shown)")
        lines.append(messages[index].render())
        previous = index
    if previous < total - 1:
        lines.append(f"… ({total - 1 - previous} later messages not shown)")
    text = "\n".join(lines)
    links = {messages[i].ref: messages[i].link for i in picked if messages[i].link}
    return Excerpt(
        text=text,
        links={ref: link for ref, link in links.items() if link},
        shown=len(picked),
        total=total,
        tokens=count(text),
        summarised=summary is not None,
    )


def _clip_to(text: str, tokens: int, count: CountTokens) -> str:
    """The longest prefix of `text` (cut at a line, then by characters) within `tokens`."""
    if count(text) <= tokens:
        return text
    lines, kept = text.splitlines(), list[str]()
    for line in lines:
        if count("\n".join([*kept, line])) > tokens:
            break
        kept.append(line)
    return "\n".join(kept) if kept else text[: max(0, tokens * 3)]
