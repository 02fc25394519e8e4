"""Rendering answers for Slack: mass pings neutralised, long answers split within limits."""

from __future__ import annotations

from synapse_bot.render.sanitize import has_mass_mention, neutralize_mass_mentions
from synapse_bot.render.slack import escape_mrkdwn, message_payloads
from synapse_bot.render.split import MAX_MESSAGE_CHARS, split_message


def test_mass_mentions_are_neutralised() -> None:
    text = "Hey <!channel> and <!here|here> and <!everyone>, also @here and <!subteam^S0ONCALL|@oncall>"
    safe = neutralize_mass_mentions(text)
    assert not has_mass_mention(safe)
    assert "<!" not in safe
    assert "channel" in safe and "oncall" in safe  # still readable


def test_user_mentions_and_emails_are_left_alone() -> None:
    text = "ping <@U123> or mail ops@here.example"
    assert neutralize_mass_mentions(text) == text


def test_short_text_is_one_piece() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   ") == []


def test_long_text_splits_at_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(40)]
    pieces = split_message("\n\n".join(paragraphs))
    assert len(pieces) > 1
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in pieces)
    assert all(p.startswith("Paragraph") for p in pieces)  # cut at a paragraph boundary
    assert sum(p.count("Paragraph") for p in pieces) == 40


def test_code_fences_are_closed_and_reopened_across_a_cut() -> None:
    code = "```\n" + "\n".join(f"line {i} = {i * 2}" for i in range(800)) + "\n```"
    pieces = split_message(code)
    assert len(pieces) > 1
    assert all(p.count("```") % 2 == 0 for p in pieces)


def test_a_single_huge_word_is_still_split() -> None:
    pieces = split_message("x" * 10_000)
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in pieces)
    assert "".join(pieces) == "x" * 10_000


def test_payloads_carry_a_markdown_block_and_fallback_text() -> None:
    [payload] = message_payloads("**done** <!channel>")
    assert payload["blocks"][0]["type"] == "markdown"
    assert payload["text"] == payload["blocks"][0]["text"]
    assert "<!channel>" not in payload["text"]


def test_mrkdwn_escapes_only_the_three_characters() -> None:
    assert escape_mrkdwn("a & <b> *c*") == "a &amp; &lt;b&gt; *c*"
