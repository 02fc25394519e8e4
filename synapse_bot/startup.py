"""Start-up failures phrased for the person who runs Synapse: which part, what went wrong, what to do.

A failure to start is one or two sentences and a non-zero exit, never a traceback (that is logged at DEBUG). The
causes of network failures are boiled down to a few words ("connection refused", "timed out") from whatever the
client library raised, however deeply it wrapped them.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from synapse_bot.config import Settings

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Synapse cannot start: `part` failed because of `cause`; `fix` says what to do about it."""

    def __init__(self, part: str, cause: str, fix: str) -> None:
        super().__init__(f"{part}: {cause}. {fix}")
        self.part = part
        self.cause = cause
        self.fix = fix


class StartupCancelled(Exception):
    """Asked to stop (SIGTERM, Ctrl-C) while still starting, e.g. while waiting for Redis: not a failure."""


_TEXT_CAUSES = [
    (re.compile(r"connection refused", re.I), "connection refused"),
    (re.compile(r"timed? ?out", re.I), "no answer (timed out)"),
    (
        re.compile(r"name or service not known|nodename nor servname|getaddrinfo failed|name resolution", re.I),
        "host name not found",
    ),
    (re.compile(r"certificate verify failed|ssl", re.I), "TLS handshake failed"),
    (re.compile(r"no such file or directory", re.I), "no such socket file"),
    (re.compile(r"connection reset", re.I), "connection reset"),
    (re.compile(r"network is unreachable|no route to host", re.I), "network unreachable"),
]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        reason = getattr(current, "reason", None)  # urllib.error.URLError wraps the socket error here
        if isinstance(current, urllib.error.URLError) and isinstance(reason, BaseException):
            seen.append(reason)
        current = current.__cause__ or current.__context__
    return seen


def network_cause(exc: BaseException) -> str:
    """A few words for why a connection failed: "connection refused", "no answer (timed out)", …"""
    chain = _chain(exc)
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return "host name not found"
        if isinstance(error, TimeoutError | socket.timeout):
            return "no answer (timed out)"
        if isinstance(error, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(error, FileNotFoundError):
            return "no such socket file"
    text = " ".join(str(error) for error in chain)
    for pattern, cause in _TEXT_CAUSES:
        if pattern.search(text):
            return cause
    first_line = (str(exc).strip().splitlines() or [""])[0][:120]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def where(url: str) -> str:
    """A URL as it is safe to print: scheme, host, port and path, never a user name or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    if not parts.scheme:
        return url
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def slack_unreachable(api_url: str, exc: BaseException) -> StartupError:
    return StartupError(
        "Slack",
        f"the Web API at {where(api_url)} cannot be reached ({network_cause(exc)})",
        "Check SLACK_API_URL (unset means https://slack.com/api/) and that this machine can reach it "
        "(network, proxy, firewall).",
    )


def socket_mode_refused(error: str) -> StartupError:
    """Slack refused to open a Socket Mode connection (apps.connections.open) with SLACK_APP_TOKEN."""
    if error == "missing_scope":
        return StartupError(
            "Slack Socket Mode",
            "SLACK_APP_TOKEN lacks the connections:write scope",
            "Add connections:write to the app-level token (Basic Information → App-Level Tokens) or make a new one.",
        )
    return StartupError(
        "Slack Socket Mode",
        f"Slack rejected SLACK_APP_TOKEN ({error})",
        "Generate an app-level token with the connections:write scope (https://api.slack.com/apps → your app → "
        "Basic Information → App-Level Tokens), put it in SLACK_APP_TOKEN, and check Socket Mode is enabled.",
    )


TRACKING_PROBE_TIMEOUT_S = 5.0


def tracking_unreachable(tracking_uri: str, timeout_s: float = TRACKING_PROBE_TIMEOUT_S) -> str | None:
    """Why an HTTP MLflow tracking server does not answer, or None when it does (or the store is not HTTP)."""
    if urlsplit(tracking_uri).scheme not in ("http", "https"):
        return None
    try:
        with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # it answered: a server that has no /health (or wants auth) is still reachable
    except (OSError, ValueError) as exc:
        return network_cause(exc)


def warn_if_tracking_unreachable(
    settings: Settings, warned: Callable[[], None] | None = None
) -> threading.Thread | None:
    """Say once, at start, when the MLflow server does not answer. Replies never wait on MLflow, so this runs
    beside the start-up rather than in its way. `warned` is told it was said (the recorder then keeps its own
    warning for later, so an unreachable store is one line, not two)."""
    if not settings.tracking_enabled:
        return None
    uri = settings.tracking_uri

    def probe() -> None:
        cause = tracking_unreachable(uri)
        if cause is not None:
            log.warning(
                f"MLflow is unreachable at {where(uri)} ({cause}): traces are not recorded until it answers; "
                "replies are unaffected. Check MLFLOW_TRACKING_URI and that the tracking server is running."
            )
            if warned is not None:
                warned()

    thread = threading.Thread(target=probe, name="synapse-mlflow-probe", daemon=True)
    thread.start()
    return thread


class _OnlyAtDebug(logging.Filter):
    """Let a record through only when the process logs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return logging.getLogger().isEnabledFor(logging.DEBUG)


# Loggers of the Slack SDK that report, at ERROR and with tracebacks, the very failures start-up turns into one line.
STARTUP_QUIET_LOGGERS = ("slack_sdk.web", "slack_sdk.web.base_client", "slack_sdk.socket", "slack_bolt.synapse")


@contextmanager
def library_errors_at_debug(names: tuple[str, ...] = STARTUP_QUIET_LOGGERS) -> Iterator[None]:
    """While starting, the client libraries' own reports of a failure we explain ourselves show only at DEBUG."""
    quiet = _OnlyAtDebug()
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


class QueueOutageLines(logging.Filter):
    """Dramatiq's consumers log a CRITICAL "Consumer encountered a connection error" and an INFO "Restarting
    consumer" every 3 s per queue while Redis is down. Put on the log handlers, this keeps one plain WARNING a minute
    (the first at once) and drops the rest; at DEBUG everything passes unchanged."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()
        self.held = 0  # connection-error lines dropped so far (/health: the outage goes on, quietly)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq.worker.ConsumerThread") or logging.getLogger().isEnabledFor(
            logging.DEBUG
        ):
            return True
        message = record.getMessage()
        if "Restarting consumer" in message:
            return False
        if "connection error" not in message:
            return True
        with self._lock:
            now = self._clock()
            if now < self._next:
                self.held += 1
                return False
            self._next = now + self._every_s
        cause = next((c for p, c in _TEXT_CAUSES if p.search(message)), "connection error")
        record.msg = f"job queue: Redis unreachable ({cause}); the workers keep retrying (this line once a minute)"
        record.args = ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = None
        record.exc_text = None
        return True


def webhook_port_refused(host: str, port: int, exc: OSError) -> StartupError:
    """The GitHub webhook receiver could not listen (the port is taken, or not allowed)."""
    return StartupError(
        "GitHub webhooks",
        f"cannot listen on {host}:{port} ({exc.strerror or exc})",
        "Pick a free port for SYNAPSE_GITHUB_WEBHOOK_PORT (each process that receives webhooks needs its own), or "
        "unset it to rely on polling alone.",
    )
