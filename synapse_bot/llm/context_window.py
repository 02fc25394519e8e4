"""How many tokens (prompt + answer) one call to the configured model may hold.

In order: OPENAI_CONTEXT_TOKENS when set; what the server reports (vLLM's `max_model_len`, llama.cpp's `n_ctx` /
`meta.n_ctx_train` in `/models`); OpenAI's published windows for its own models; otherwise a conservative 8,192 —
the window small local models are often served with, so an unknown model is never sent more than it can take.
"""

from __future__ import annotations

from typing import Any

UNKNOWN_MODEL_WINDOW = 8_192

# Longest prefix wins. Published context windows of OpenAI models.
KNOWN_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
}


def known_window(model: str) -> int | None:
    name = model.rsplit("/", 1)[-1].removeprefix("ft:")
    match = max((key for key in KNOWN_WINDOWS if name.startswith(key)), key=len, default=None)
    return KNOWN_WINDOWS[match] if match else None


def reported_window(model_entry: dict[str, Any]) -> int | None:
    """The window a server states in its `/models` entry for the model, if it states one."""
    meta = model_entry.get("meta") if isinstance(model_entry.get("meta"), dict) else {}
    for value in (
        model_entry.get("max_model_len"),  # vLLM
        model_entry.get("context_length"),  # LiteLLM, OpenRouter-style
        (meta or {}).get("n_ctx"),  # llama.cpp server
        (meta or {}).get("n_ctx_train"),
    ):
        if isinstance(value, int) and value > 0:
            return value
    return None
