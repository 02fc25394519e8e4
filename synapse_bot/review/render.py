"""A review as Slack Markdown with links to the lines on GitHub, and as a GitHub review body."""

from __future__ import annotations

import hashlib

from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.review.classify import VENDORED
from synapse_bot.review.model import PullReview
from synapse_bot.review.packing import OVER_BUDGET, PackedDiff


def line_link(pr_url: str, path: str, start: int, end: int) -> str:
    anchor = hashlib.sha256(path.encode()).hexdigest()
    return f"{pr_url}/files#diff-{anchor}R{start}" + (f"-R{end}" if end > start else "")


def left_out_note(packed: PackedDiff) -> list[str]:
    """What the review did not see, for the person: the same facts the model was given."""
    lines = []
    if packed.deleted:
        named = packed.deleted[: len(packed.deleted) - packed.deleted_counted]
        counted = f", {packed.deleted_counted:,} of them vendored or lockfiles" if packed.deleted_counted else ""
        names = ", ".join(f"`{d}`" for d in named[:20]) + (" …" if len(named) > 20 else "")
        lines.append(f"Deleted files (names only, {len(packed.deleted):,}{counted}){': ' + names if names else ''}")
    vendored = [name for name, why in packed.left_out if why == VENDORED]
    skipped = [(name, why) for name, why in packed.left_out if why not in (VENDORED, OVER_BUDGET)]
    cut = [(name, f"cut short by the token budget: {n:,} of {of:,} changed lines") for name, n, of in packed.cut]
    listed = skipped + cut + [(name, why) for name, why in packed.left_out if why == OVER_BUDGET]
    if listed or vendored:
        shown = ", ".join(f"`{name}` ({why})" for name, why in listed[:15])
        more = f" and {len(listed) - 15:,} more" if len(listed) > 15 else ""
        counted = f"{len(vendored):,} vendored file{'s' if len(vendored) != 1 else ''}" if vendored else ""
        lines.append(f"Not reviewed: {shown}{more}{'; ' if shown and counted else ''}{counted}.")
    return lines


def render_review(repo: str, number: int, title: str, pr_url: str, review: PullReview, packed: PackedDiff) -> str:
    lines = [
        f"**Review of [{repo}#{number}]({pr_url})** — {title[:120]}",
        f"Risk: **{review.risk}** · effort {review.effort}/5 · reviewed {len(packed.included)} file"
        f"{'s' if len(packed.included) != 1 else ''}",
        "",
        review.summary.strip(),
    ]
    if review.key_issues:
        lines += ["", "**Key issues**"]
        for issue in review.key_issues[:12]:
            where = f"[`{issue.file}` L{issue.start_line}" + (
                f"–{issue.end_line}" if issue.end_line > issue.start_line else ""
            )
            where += f"]({line_link(pr_url, issue.file, issue.start_line, issue.end_line)})"
            lines.append(
                f"• {where}: {issue.why.strip()}" + (f" — _{issue.suggestion.strip()}_" if issue.suggestion else "")
            )
    if review.security_concerns:
        lines += ["", "**Security**", *[f"• {c.strip()}" for c in review.security_concerns[:8]]]
    if review.test_gaps:
        lines += ["", "**Test gaps**", *[f"• {g.strip()}" for g in review.test_gaps[:8]]]
    note = left_out_note(packed)
    if note:
        lines += ["", *[f"_{n}_" for n in note]]
    return neutralize_mass_mentions("\n".join(lines))


def review_body(review: PullReview, packed: PackedDiff) -> str:
    lines = ["Review by Synapse", "", review.summary.strip(), "", f"Risk: {review.risk} · effort {review.effort}/5"]
    if review.security_concerns:
        lines += ["", "Security:", *[f"- {c}" for c in review.security_concerns]]
    if review.test_gaps:
        lines += ["", "Test gaps:", *[f"- {g}" for g in review.test_gaps]]
    lines += ["", *left_out_note(packed)]
    return neutralize_mass_mentions("\n".join(lines)).strip()
