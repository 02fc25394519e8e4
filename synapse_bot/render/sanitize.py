"""Neutralise mass pings in text Synapse did not write itself (model output, thread, issue and PR content).

Slack notifies a whole channel for `<!channel>`, `<!here>`, `<!everyone>` and a user group for
`<!subteam^ID>`; with link_names or in markdown, bare `@channel`/`@here`/`@everyone` can too. A word joiner
after the `@` keeps the word readable but makes it inert.

Every `<!…>` token is a Slack special command, and half of one (text cut in the middle, "…<!channel" with no
`>`) is broken markup that a later join or Slack's own parser may complete. So after the named patterns, any `<!`
left is made inert too (a word joiner between `<` and `!`), and whoever cuts text (splitting, clipping a
snippet) neutralises the pieces again: `neutralized_pieces` / `clip_neutralized`.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"

_SPECIAL = re.compile(r"<!(channel|here|everyone|group)(?:\|[^>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w@])@(channel|here|everyone|group)\b", re.IGNORECASE)
_HALF_SPECIAL = re.compile(r"<!(channel|here|everyone|group)\b(?![^<>]*>)", re.IGNORECASE)
_ANY_SPECIAL = re.compile(r"<!")


def neutralize_mass_mentions(text: str) -> str:
    text = _SPECIAL.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)
    text = _SUBTEAM.sub(lambda m: f"@{WORD_JOINER}{m.group(1) or 'group'}", text)
    text = _HALF_SPECIAL.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)  # "<!channel" cut before its ">"
    text = _ANY_SPECIAL.sub(f"<{WORD_JOINER}!", text)  # any other `<!`, whole or cut: inert
    return _BARE.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)


def has_mass_mention(text: str) -> bool:
    """True if posting `text` could notify a whole channel or group, or holds a `<!` token (whole or cut)."""
    return bool(_SPECIAL.search(text) or _SUBTEAM.search(text) or _BARE.search(text) or _ANY_SPECIAL.search(text))


def clip_neutralized(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters, with no live or half `<!…>` token and no bare mass mention.

    A cut can make a mention that was not there ("…@hereafter" cut to "…@here"), so the piece is neutralised
    again after the cut; that may add a character, so the cut moves back until the result fits.
    """
    safe = neutralize_mass_mentions(text)
    if len(safe) <= limit:
        return safe
    cut = max(0, limit - len(ellipsis))
    while True:
        clipped = neutralize_mass_mentions(safe[:cut]) + ellipsis
        if len(clipped) <= limit or cut == 0:
            return clipped
        cut -= 1
