"""What a cached summary covers, message by message, so edits and deletions are seen, not only new replies.

A thread's fingerprint maps each summarised message's ts to the ts of its last edit ("" if never edited). It is
taken from the messages the summary was built from, so it costs no Slack call of its own. Comparing the cached
fingerprint with the thread as read now says exactly what changed: messages added, edited or deleted. An
unchanged thread is answered from the cache; a changed one is updated from the previous summary with the changed
messages marked, so the model revises rather than rereads everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse_bot.summaries.transcript import Line

EDITED_NOTE = "(edited: this replaces the earlier text of this message) "
DELETED_TEXT = "(this message was deleted: drop anything the summary took only from it)"


def fingerprint(messages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """ts → ts of the last edit ("" if never edited), for the messages given (the ones the summary reads)."""
    marks: dict[str, str] = {}
    for message in messages:
        edited = message.get("edited")
        marks[str(message["ts"])] = str(edited.get("ts") or "") if isinstance(edited, Mapping) else ""
    return marks


@dataclass(frozen=True)
class ThreadChanges:
    added: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.edited or self.deleted)

    @property
    def revised(self) -> bool:
        """Something already summarised changed (not only new messages)."""
        return bool(self.edited or self.deleted)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.edited) + len(self.deleted)


def compare(before: Mapping[str, str], now: Mapping[str, str]) -> ThreadChanges:
    """What happened to the thread since `before` was taken, each list in time order."""

    def ordered(items: Iterable[str]) -> list[str]:
        return sorted(items, key=float)

    return ThreadChanges(
        added=ordered(ts for ts in now if ts not in before),
        edited=ordered(ts for ts in now if ts in before and now[ts] != before[ts]),
        deleted=ordered(ts for ts in before if ts not in now),
    )


def changed_lines(lines: Iterable[Line], changes: ThreadChanges) -> list[Line]:
    """The lines to update a summary with: new and edited messages (edits marked) and a note per deletion."""
    by_ts = {line.ts: line for line in lines}
    marked: list[Line] = []
    for ts in changes.edited:
        if ts in by_ts:
            line = by_ts[ts]
            marked.append(Line(ts=line.ts, author=line.author, text=EDITED_NOTE + line.text))
    marked += [Line(ts=ts, author="(deleted message)", text=DELETED_TEXT) for ts in changes.deleted]
    marked += [by_ts[ts] for ts in changes.added if ts in by_ts]
    return sorted(marked, key=lambda line: float(line.ts))


def worth_updating(changes: ThreadChanges, thread_lines: int) -> bool:
    """An update (previous summary + changed messages) pays off unless most of the thread changed."""
    return changes.count <= max(10, thread_lines // 2)
