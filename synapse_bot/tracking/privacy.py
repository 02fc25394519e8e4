"""What may reach MLflow: metadata always, people's text only when SYNAPSE_TRACE_CONTENT=true, secrets never.

Every string attribute passes through the same redaction as the logs (configured secrets and token-shaped
strings) plus any SYNAPSE_TRACE_REDACT_PATTERNS; attributes that carry message text are dropped unless content
tracing is on.
"""

from __future__ import annotations

import re
from typing import Any

from synapse_bot.logs import REDACTED, redact

CONTENT_ATTRIBUTES = {"args", "text", "reply", "question"}


class Scrubber:
    def __init__(self, secrets: list[str], patterns: str = "", trace_content: bool = False) -> None:
        self.secrets = [s for s in secrets if s]
        self.patterns = [re.compile(p) for p in patterns.split(",") if p.strip()] if patterns else []
        self.trace_content = trace_content

    def text(self, value: str) -> str:
        value = redact(value, self.secrets)
        for pattern in self.patterns:
            value = pattern.sub(REDACTED, value)
        return value

    def attributes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in attributes.items():
            if value is None:
                continue
            if key in CONTENT_ATTRIBUTES and not self.trace_content:
                continue
            clean[key] = self.text(value) if isinstance(value, str) else value
        return clean
