"""Token counting that never touches the network: exact for OpenAI models, a labelled estimate for the rest.

tiktoken normally downloads its BPE tables on first use; Synapse must work where that is impossible (users' CI,
locked-down hosts), so it ships tiktoken's own `o200k_base` and `cl100k_base` files in `synapse_bot/data/tiktoken/`
and builds `tiktoken.Encoding` from them, refusing a file whose sha256 differs from the one tiktoken publishes.
Counts are exact (`exact=True`, `margin=1.0`) for models of those encodings: o200k for the gpt-4o family and newer
(gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series, chatgpt-4o), cl100k for older ones (gpt-4, gpt-3.5). Any other
model (vLLM, Ollama, Azure deployment names…) gets an estimate: the cl100k count padded by a margin, so a budget
computed from it stays safe.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import logging
import math
from collections.abc import Iterable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

log = logging.getLogger(__name__)

BUNDLED_DIR: Traversable = files("synapse_bot").joinpath("data", "tiktoken")

# The sha256 of each file as published in tiktoken's `tiktoken_ext/openai_public.py`.
PUBLISHED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Split patterns and special tokens, as tiktoken's `tiktoken_ext/openai_public.py` defines them.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPLIT_PATTERNS = {"cl100k_base": _CL100K_PATTERN, "o200k_base": _O200K_PATTERN}
_SPECIAL_TOKENS = {
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
}

# Model families, newest first so "gpt-4.1" is never taken for "gpt-4". A name belongs to a family when it is the
# family's name or continues it after a separator: "gpt-4o-mini", "gpt-5.1", "o3-pro", "gpt-4-turbo".
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    # (family, separators that may follow it, encoding)
    ("gpt-5", "-.:", "o200k_base"),
    ("gpt-4.5", "-:", "o200k_base"),
    ("gpt-4.1", "-:", "o200k_base"),
    ("gpt-4o", "-:", "o200k_base"),
    ("chatgpt-4o", "-:", "o200k_base"),
    ("o1", "-:", "o200k_base"),
    ("o3", "-:", "o200k_base"),
    ("o4", "-:", "o200k_base"),
    ("gpt-4", "-:", "cl100k_base"),  # gpt-4, gpt-4-turbo, gpt-4-32k; never "gpt-4.x" (newer, listed above)
    ("gpt-3.5", "-:", "cl100k_base"),
    ("gpt-35", "-:", "cl100k_base"),  # Azure's spelling
)

ESTIMATE_ENCODING = "cl100k_base"  # the base of estimates: more tokens than o200k for most text, so safer
MARGIN_UNKNOWN = 1.25  # models whose tokenizer we do not have (vLLM, Ollama, Azure deployment names…)
CHARS_PER_TOKEN = 3  # the last resort, should a bundled file be unusable
PER_MESSAGE_OVERHEAD = 4  # role and separators, per the OpenAI cookbook
PER_REPLY_OVERHEAD = 3


class EncodingFileError(ValueError):
    """A bundled encoding file is missing, differs from the published one, or does not parse."""


def parse_tiktoken_bpe(data: bytes, expected_sha256: str, source: str = "<bytes>") -> dict[bytes, int]:
    """The ranks in a `.tiktoken` file's bytes (`<base64 token> <rank>` per line), once its sha256 is the expected one.

    The hash pins the content to the published file, so the parse needs no checks of its own; this form (one split,
    then C-level maps) takes about two thirds of the time of a line-by-line loop.
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise EncodingFileError(f"{source}: sha256 {actual} is not the published {expected_sha256}; refusing it")
    fields = data.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def load_encoding(name: str, directory: Traversable | Path = BUNDLED_DIR) -> tiktoken.Encoding:
    """tiktoken's encoding `name` built from `<directory>/<name>.tiktoken`, verified against its published sha256."""
    if name not in PUBLISHED_SHA256:
        raise EncodingFileError(f"{name}: not an encoding Synapse ships (only {', '.join(PUBLISHED_SHA256)})")
    path = directory.joinpath(f"{name}.tiktoken")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EncodingFileError(f"{path}: cannot be read ({exc})") from exc
    encoding = tiktoken.Encoding(
        name,
        pat_str=_SPLIT_PATTERNS[name],
        mergeable_ranks=parse_tiktoken_bpe(data, PUBLISHED_SHA256[name], str(path)),
        special_tokens=_SPECIAL_TOKENS[name],
    )
    return _without_python_ranks(encoding)


def _without_python_ranks(encoding: tiktoken.Encoding) -> tiktoken.Encoding:
    """The encoding without its Python copy of the ranks: tiktoken's Rust core holds its own, and the copy serves
    only to pickle the encoding, which Synapse never does. It is 28 MB for o200k (a dict of 200,000 bytes keys),
    over a tenth of a serving process's memory (docs/performance.md)."""
    encoding._mergeable_ranks = {}
    return encoding


@functools.cache
def bundled_encoding(name: str) -> tiktoken.Encoding | None:
    """The bundled encoding, loaded once per process; None (and one error in the log) if its file is unusable.

    The first load of o200k takes a few tenths of a second (reading and hashing the file, then tiktoken building
    its tables); later calls are free.
    """
    try:
        return load_encoding(name)
    except EncodingFileError as exc:
        log.error("bundled tiktoken encoding unusable, token counts fall back to estimates: %s", exc)
        return None


def encoding_name_for(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model name, or None when the model is not one we know.

    Our family table covers the models Synapse is used with, whatever the installed tiktoken knows; tiktoken's own
    table covers the rest (embeddings, fine-tunes, legacy models). An `openai/` prefix (LiteLLM, OpenRouter) is
    ignored.
    """
    name = model.strip().lower().removeprefix("openai/")
    base = name.removeprefix("ft:")
    for family, separators, encoding in _FAMILIES:
        if base == family or (base.startswith(family) and base[len(family)] in separators):
            return encoding
    if name in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[name]
    for prefix, encoding in MODEL_PREFIX_TO_ENCODING.items():
        if name.startswith(prefix):
            return encoding
    return None


class TokenCounter:
    """Counts tokens for one model.

    `exact` is True when counts are the model's own tokenizer's (OpenAI models); otherwise counts are estimates,
    padded by `margin` so a budget computed from them stays safe.

    The encoding is loaded on the first count, or by `load()`: o200k's tables are 47 MB, which a process that only
    might call the model (a gateway, which answers in-process only while Redis is down) should not hold for nothing.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.encoding_name = encoding_name_for(model)

    @functools.cached_property
    def _loaded(self) -> tuple[tiktoken.Encoding | None, bool]:
        exact_encoding = bundled_encoding(self.encoding_name) if self.encoding_name in PUBLISHED_SHA256 else None
        if exact_encoding is not None:
            return exact_encoding, True
        return bundled_encoding(ESTIMATE_ENCODING), False

    def load(self) -> TokenCounter:
        """Load the encoding now (a process that runs jobs, while it starts) instead of on the first request."""
        _ = self._loaded
        return self

    @property
    def exact(self) -> bool:
        return self._loaded[1]

    @property
    def margin(self) -> float:
        return 1.0 if self.exact else MARGIN_UNKNOWN

    @property
    def _encoding(self) -> tiktoken.Encoding | None:
        return self._loaded[0]

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._encoding is None:
            raw = math.ceil(len(text) / CHARS_PER_TOKEN)
        else:
            raw = len(self._encoding.encode_ordinary(text))
        return math.ceil(raw * self.margin)

    def count_messages(self, messages: Iterable[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        """Tokens of a chat request: message framing per the OpenAI cookbook; tools counted as their JSON text."""
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
        budget = max(0, int(max_tokens / self.margin))
        if self._encoding is None:
            return text[: budget * CHARS_PER_TOKEN]
        kept = self._encoding.decode_bytes(self._encoding.encode_ordinary(text)[:budget])
        return kept.decode("utf-8", errors="ignore")  # a token boundary may split a character: drop its head
