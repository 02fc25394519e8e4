"""Slack's message markup turned into text a person (or a model) reads naturally.

`<@U123>` → `@Alice`, `<#C1|general>` → `#general`, `<https://x|label>` → `label (https://x)`, `:tada:` → 🎉,
and the HTML entities Slack escapes (&amp; &lt; &gt;) decoded. Mass mentions become plain words so a summary
can never ping anyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import emoji

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>")
_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def readable(text: str, users: Mapping[str, str], channels: Mapping[str, str] | None = None) -> str:
    channels = channels or {}
    text = _USER.sub(lambda m: "@" + (users.get(m.group(1)) or m.group(2) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or channels.get(m.group(1)) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: f"(@{m.group(1)})", text)
    text = _SUBTEAM.sub(lambda m: f"(group {m.group(1) or 'mention'})", text)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(_link, text)
    text = emoji.emojize(text, language="alias")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _link(match: re.Match[str]) -> str:
    url, label = match.group(1), match.group(2)
    if url.startswith("mailto:"):
        return label or url.removeprefix("mailto:")
    return f"{label} ({url})" if label and label != url else url


def mentioned_users(text: str) -> set[str]:
    """User ids mentioned in raw Slack text, to resolve their names before rendering."""
    return {m.group(1) for m in _USER.finditer(text)}
