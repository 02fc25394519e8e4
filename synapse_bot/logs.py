"""Structured logging that never carries a secret.

Log records are JSON lines (or `key=value` text for a terminal). A filter on the root handler replaces every
configured secret value and anything shaped like a Slack, OpenAI or GitHub token with a marker, so a token
cannot leak through a library's debug message or an exception text either.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

TOKEN_PATTERN = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{4,}|xapp-[A-Za-z0-9-]{4,}|sk-[A-Za-z0-9_-]{8,}"
    r"|gh[pousr]_[A-Za-z0-9]{8,}|github_pat_[A-Za-z0-9_]{8,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})"
)
REDACTED = "[redacted]"

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secret values and token-shaped strings."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return TOKEN_PATTERN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value, self.secrets))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} "
        line += f"{record.name}: {record.getMessage()}" + (f"  {extras}" if extras else "")
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def configure_logging(level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = (), stream: Any = None) -> None:
    """Install one redacting handler on the root logger (idempotent: replaces our previous handler)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("synapse")
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "synapse":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at warning unless we are debugging.
    if level.upper() != "DEBUG":
        for noisy in (
            "slack_sdk",
            "slack_bolt",
            "urllib3",
            "httpx",
            "httpcore",
            "openai",
            "github",
            "alembic",
            "mlflow",
            "aiohttp.access",
            "bm25s",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
