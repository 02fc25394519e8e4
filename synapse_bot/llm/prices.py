"""Estimated model cost from a price table (USD per million tokens, input and output).

The defaults are list prices for common OpenAI models; SYNAPSE_MODEL_PRICES (JSON: {"model": [input, output]})
adds or overrides entries, e.g. for Azure deployments or self-hosted models ([0, 0]). A model matches the longest
table key it starts with; an unknown model has no cost estimate rather than a wrong one.
"""

from __future__ import annotations

import json

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


class PriceTable:
    def __init__(self, overrides_json: str = "") -> None:
        self.prices = dict(DEFAULT_PRICES)
        if overrides_json.strip():
            data = json.loads(overrides_json)
            if not isinstance(data, dict):
                raise ValueError("SYNAPSE_MODEL_PRICES must be a JSON object of model: [input, output]")
            for model, pair in data.items():
                if not (isinstance(pair, list | tuple) and len(pair) == 2):
                    raise ValueError(f"SYNAPSE_MODEL_PRICES[{model!r}] must be [input_usd_per_1M, output_usd_per_1M]")
                self.prices[str(model)] = (float(pair[0]), float(pair[1]))

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        split = self.split_cost(model, prompt_tokens, completion_tokens)
        return None if split is None else round(split[0] + split[1], 6)

    def split_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float, float] | None:
        """(input, output) cost in USD, as MLflow's cost columns want them; None for a model with no price."""
        match = max((key for key in self.prices if model.startswith(key)), key=len, default=None)
        if match is None:
            return None
        inp, out = self.prices[match]
        return round(prompt_tokens * inp / 1_000_000, 6), round(completion_tokens * out / 1_000_000, 6)
