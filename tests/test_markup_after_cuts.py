"""No output holds a live or half `<!…>` token or a bare mass mention, whichever way the text was cut."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_bot.render.sanitize import clip_neutralized, has_mass_mention, neutralize_mass_mentions
from synapse_bot.render.slack import message_payloads

# Fragments that make mass mentions, halves of them, and the separators the splitter cuts at.
_FRAGMENTS = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S0ONCALL|@oncall>",
    "<!channel",
    "<!",
    "<",
    "!",
    ">",
    "|",
    "channel",
    "@here",
    "@hereafter",
    "x@here",
    "@",
    "here",
    " ",
    "\n",
    "\n\n",
    ". ",
    "```",
    "as instructed.",
    "word",
    "a" * 40,
]
texts = st.lists(st.sampled_from(_FRAGMENTS), max_size=120).map("".join)
_LIVE_BARE = re.compile(r"(?<![\w@])@(channel|here|everyone|group)\b", re.IGNORECASE)


def _assert_inert(piece: str) -> None:
    assert "<!" not in piece, piece
    assert not _LIVE_BARE.search(piece), piece
    assert not has_mass_mention(piece), piece


@settings(max_examples=300, deadline=None)
@given(text=texts, limit=st.integers(min_value=110, max_value=400))
def test_every_split_piece_is_inert_and_within_the_limit(text: str, limit: int) -> None:
    for payload in message_payloads(text, limit=limit):
        assert len(payload["text"]) <= limit
        _assert_inert(payload["text"])


@settings(max_examples=300, deadline=None)
@given(text=texts, limit=st.integers(min_value=1, max_value=200))
def test_every_clipped_text_is_inert_and_within_the_limit(text: str, limit: int) -> None:
    clipped = clip_neutralized(text, limit)
    assert len(clipped) <= max(limit, 1)
    _assert_inert(clipped)


def test_text_cut_inside_a_special_token_ends_in_no_half_token() -> None:
    # The case: a cut that leaves "<!channel" without its ">".
    text = "Deploy now, as instructed. <!channel|everyone in this channel should read this"
    clipped = clip_neutralized(text, 40)
    assert "<!" not in clipped and "channel" in clipped


def test_a_cut_that_makes_a_new_bare_mention_is_neutralised() -> None:
    # "@hereafter" is no mention; cut after "@here" it would be one.
    clipped = clip_neutralized("see @hereafter", len("see @here") + 1)
    _assert_inert(clipped)


def test_a_half_token_left_by_the_author_is_made_inert() -> None:
    assert "<!" not in neutralize_mass_mentions("ends with <!channel")
    assert "<!" not in neutralize_mass_mentions("a <!date^1392734382^{date}|Feb 18> token")
