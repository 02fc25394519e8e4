"""Pack a pull request's diff into a token budget, numbered, and say exactly what was left out and why.

Order: changed source in the main language(s) first, then tests, then everything else; within each group the
larger changes first. Each file first gets at most `FILE_CAP_SHARE` of the budget (so one huge file cannot crowd
out the rest of its group), then the group's capped files get their remainder. Files are cut at line boundaries,
never skipped for being too big, and packing stops at the first line that does not fit. The packed text is thus a
prefix of one fixed order, and since the cap's share of the budget never grows with the budget, every file's
shown part only grows with the budget: the share of changed source lines shown never drops as the budget grows.
Deletion-only hunks are kept like any other.

Lockfiles, vendored, generated, binary, rename-only and empty files are never sent; deleted files are named, not
shown. The model gets a note listing all of it (capped lists with counts); the note's budget-dependent part is
reserved at its worst case up front, so nothing has to be re-packed. Pure: text in, packed prompt out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from synapse_bot.github_data import FileData
from synapse_bot.review.classify import (
    COUNTED_ONLY_REASONS,
    MODE_ONLY,
    changed,
    is_main_source,
    is_test,
    main_languages,
    skip_reason,
)
from synapse_bot.review.numbering import Hunk, new_side_lines, numbered_hunk, parse_hunks

CountTokens = Callable[[str], int]

FILE_CAP_SHARE = 0.15  # one file's first-round share of the diff budget…
FILE_CAP_FLOOR = 1_500  # …but never less than this many tokens (small budgets would cut every file)
OVER_BUDGET = "over the token budget"
DELETED_NAMES = 5  # deleted files: a count and this many names
SKIPPED_NAMES = 8  # per skip reason
LEFT_OUT_NAMES = 15  # files the budget left out or cut short
TIER_NAMES = ("main-language source", "tests", "other files")


@dataclass
class PackedDiff:
    text: str  # the numbered diff
    note: str = ""  # what the model is told it cannot see, and why
    included: list[str] = field(default_factory=list)  # files shown, fully or in part
    cut: list[tuple[str, int, int]] = field(default_factory=list)  # (file, changed lines shown, changed lines)
    deleted: list[str] = field(default_factory=list)  # named ones first, then the vendored and lockfiles
    deleted_counted: int = 0  # of `deleted`, vendored files and lockfiles: counted, never listed
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not shown at all
    shown_changed: dict[str, int] = field(default_factory=dict)  # file -> changed lines shown
    tokens: int = 0  # text + note, as counted when packing


@dataclass
class _File:
    change: FileData
    tier: int
    heading: str
    hunks: list[Hunk]
    cost: list[int] = field(default_factory=list)  # tokens of each whole hunk
    taken_hunks: int = 0  # whole hunks taken
    taken_lines: int = 0  # lines taken of the next hunk
    spent: int = 0

    @property
    def done(self) -> bool:
        return self.taken_hunks == len(self.hunks)

    def text(self) -> str:
        if not self.spent:
            return ""
        parts = [self.heading, *(numbered_hunk(h) for h in self.hunks[: self.taken_hunks])]
        if self.taken_lines:
            parts.append(numbered_hunk(self.hunks[self.taken_hunks], self.taken_lines))
        return "".join(parts)

    def changed_shown(self) -> int:
        whole = sum(h.changed_lines for h in self.hunks[: self.taken_hunks])
        if self.taken_lines:
            whole += sum(1 for line in self.hunks[self.taken_hunks].lines[: self.taken_lines] if line.changed)
        return whole


def heading(change: FileData) -> str:
    renamed = f", renamed from {change.previous_filename}" if change.previous_filename else ""
    return f"## {change.filename} ({change.status}{renamed}, +{change.additions}/-{change.deletions})\n"


def _take(file: _File, allowance: int, count: CountTokens) -> bool:
    """Add as much of `file` as fits `allowance` tokens (whole hunks, then lines); True when all of it fitted."""
    if not file.cost:  # counted when first reached: most files of a huge pull request never are
        file.cost = [count(numbered_hunk(h)) for h in file.hunks]
    while not file.done:
        opening = 0 if file.spent else count(file.heading)
        hunk = file.hunks[file.taken_hunks]
        if file.taken_lines == 0 and opening + file.cost[file.taken_hunks] <= allowance:
            allowance -= opening + file.cost[file.taken_hunks]
            file.spent += opening + file.cost[file.taken_hunks]
            file.taken_hunks += 1
            continue
        # Cut inside the hunk: the most lines whose prefix (with the hunk header) fits.
        already = count(numbered_hunk(hunk, file.taken_lines)) if file.taken_lines else 0
        low, high = file.taken_lines, len(hunk.lines)
        while low < high:
            mid = (low + high + 1) // 2
            if opening + count(numbered_hunk(hunk, mid)) - already <= allowance:
                low = mid
            else:
                high = mid - 1
        if low > file.taken_lines:
            added = opening + count(numbered_hunk(hunk, low)) - already
            file.spent += added
            allowance -= added
            file.taken_lines = low
            if low == len(hunk.lines):
                file.taken_hunks, file.taken_lines = file.taken_hunks + 1, 0
                continue
        return False
    return True


def pack_diff(files: list[FileData], budget_tokens: int, count: CountTokens, language: str | None) -> PackedDiff:
    """The numbered diff and its note, together within `budget_tokens` as `count` reckons them."""
    packed = PackedDiff(text="")
    skipped: dict[str, list[str]] = defaultdict(list)
    candidates: list[_File] = []
    deleted_counted: list[str] = []
    main = main_languages(files, language)
    for change in files:
        if change.status == "removed":
            if skip_reason(change) in COUNTED_ONLY_REASONS:
                deleted_counted.append(change.filename)
            else:
                packed.deleted.append(change.filename)
            continue
        hunks = parse_hunks(change.patch or "")
        reason = skip_reason(change) or (None if hunks else MODE_ONLY)
        if reason:
            skipped[reason].append(change.filename)
            packed.left_out.append((change.filename, reason))
            continue
        tier = 0 if is_main_source(change.filename, main) else 1 if is_test(change.filename) else 2
        candidates.append(_File(change, tier, heading(change), hunks))
    candidates.sort(key=lambda f: (f.tier, -changed(f.change), f.change.filename))

    packed.deleted += deleted_counted
    packed.deleted_counted = len(deleted_counted)
    fixed_note = skipped_note(packed.deleted, packed.deleted_counted, skipped)
    most = max((changed(f.change) for f in candidates), default=0)
    worst_tail = budget_note(
        [(f.change.filename, most, most) for f in _longest_names(candidates, count)], len(candidates)
    )
    room = budget_tokens - count(fixed_note) - count(worst_tail)
    if room > 0:
        _fill(candidates, room, count)
    cut = [(f.change.filename, f.changed_shown(), changed(f.change)) for f in candidates if f.spent and not f.done]
    left = [f.change.filename for f in candidates if not f.spent]
    packed.left_out.extend((name, OVER_BUDGET) for name in left)
    packed.cut = cut
    shown = [f for f in candidates if f.spent]
    packed.included = [f.change.filename for f in shown]
    packed.shown_changed = {f.change.filename: f.changed_shown() for f in shown}
    packed.text = "".join(f.text() for f in shown)
    tail = budget_note(cut + [(name, 0, 0) for name in left], len(left) + len(cut))
    packed.note = fixed_note + tail
    packed.tokens = count(packed.text) + count(packed.note)
    if packed.tokens > budget_tokens and packed.included:  # a counter that is not additive: give up some room
        return pack_diff(files, budget_tokens - (packed.tokens - budget_tokens) - 8, count, language)
    if packed.tokens > budget_tokens:  # nothing fits, not even the lists: counts only, or nothing
        short = f"Not shown: all {len(files):,} changed files (the lists of names do not fit the budget)\n"
        packed.note = short if count(short) <= budget_tokens else ""
        packed.tokens = count(packed.note)
    return packed


def _fill(candidates: list[_File], room: int, count: CountTokens) -> None:
    cap = max(FILE_CAP_FLOOR, int(room * FILE_CAP_SHARE))
    for tier in range(len(TIER_NAMES)):
        group = [f for f in candidates if f.tier == tier]
        for file in group:  # first round: at most the cap each
            allowance = min(room, cap - file.spent)
            before = file.spent
            complete = _take(file, allowance, count)
            room -= file.spent - before
            if not complete and allowance == room + (file.spent - before):
                return  # cut by the budget, not by the cap: the budget is full
        for file in group:  # second round: the rest of the capped files
            before = file.spent
            complete = _take(file, room, count)
            room -= file.spent - before
            if not complete:
                return


def _longest_names(candidates: list[_File], count: CountTokens) -> list[_File]:
    return sorted(candidates, key=lambda f: -count(f.change.filename))[:LEFT_OUT_NAMES]


def _names(names: list[str], limit: int) -> str:
    more = f" and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def skipped_note(deleted: list[str], deleted_counted: int, skipped: dict[str, list[str]]) -> str:
    """What is never sent, whatever the budget: deleted files and files skipped for what they are.

    `deleted` lists the named files first; its last `deleted_counted` are vendored files and lockfiles.
    """
    lines = []
    if deleted:
        named = deleted[: len(deleted) - deleted_counted]
        extra = f", {deleted_counted:,} of them vendored or lockfiles" if deleted_counted else ""
        shown = f": {_names(named, DELETED_NAMES)}" if named else ""
        lines.append(f"Deleted files, not shown ({len(deleted):,}{extra}){shown}")
    for reason, names in skipped.items():
        if reason in COUNTED_ONLY_REASONS:
            lines.append(f"Not shown, {reason}: {len(names):,} file{'s' if len(names) != 1 else ''}")
        else:
            lines.append(f"Not shown, {reason}: {_names(names, SKIPPED_NAMES)}")
    return "".join(line + "\n" for line in lines)


def budget_note(entries: list[tuple[str, int, int]], total: int) -> str:
    """Files the token budget cut short (shown n of m changed lines) or left out (0 of 0), capped."""
    if not total:
        return ""
    listed = [name if not of else f"{name} (first {shown:,} of {of:,} changed lines)" for name, shown, of in entries]
    return (
        f"Not shown or cut short for lack of room (token budget), {total:,} files: {_names(listed, LEFT_OUT_NAMES)}\n"
    )


def added_lines(patch: str) -> set[int]:
    """New-file line numbers that a patch adds or keeps (where GitHub accepts a review comment)."""
    return new_side_lines(patch)


def source_coverage(files: list[FileData], shown_changed: dict[str, int], language: str | None) -> float:
    """Share of the changed lines of non-test main-language source files (not deleted, not skipped) shown."""
    main = main_languages(files, language)
    source = [
        f
        for f in files
        if f.status != "removed" and skip_reason(f) is None and is_main_source(f.filename, main) and changed(f)
    ]
    total = sum(sum(h.changed_lines for h in parse_hunks(f.patch or "")) for f in source)
    if not total:
        return 1.0
    return sum(shown_changed.get(f.filename, 0) for f in source) / total
