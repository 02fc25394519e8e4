"""Neutralise mass pings in text Synapse did not write itself (model output, thread, issue and PR content).

Slack notifies a whole channel for `<!channel>`, `<!here>`, `<!everyone>` and a user group for
`<!subteam^ID>`; with link_names or in markdown, bare `@channel`/`@here`/`@everyone` can too. A word joiner
after the `@` keeps the word readable but makes it inert.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"

_SPECIAL = re.compile(r"<!(channel|here|everyone|group)(?:\|[^>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w@])@(channel|here|everyone|group)\b", re.IGNORECASE)


def neutralize_mass_mentions(text: str) -> str:
    text = _SPECIAL.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)
    text = _SUBTEAM.sub(lambda m: f"@{WORD_JOINER}{m.group(1) or 'group'}", text)
    return _BARE.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)


def has_mass_mention(text: str) -> bool:
    """True if posting `text` could notify a whole channel or group."""
    return bool(_SPECIAL.search(text) or _SUBTEAM.search(text) or _BARE.search(text))
