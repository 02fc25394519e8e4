"""Connect to the configured Redis, or start the embedded one; at start, wait for a Redis that is not there yet.

Redis unreachable at start (REDIS_URL on a host that is down or still booting): Synapse waits for it rather than
exiting. A process that has never reached Redis has no claims, monitors or queue to work with, so it cannot serve
in the degraded mode a running process falls back to; but exiting would only trade one clear line for a restart
loop run by the orchestrator (or nothing, run by hand), and in compose-style deployments Redis often comes up a
few seconds after us. So: one plain line saying what is wrong and how to fix it, retries with backoff (up to
`MAX_RETRY_DELAY_S`), one "still unreachable for N s" line a minute, and one line when it answers. SIGTERM while
waiting stops the process at once. A Redis that answers but refuses the credentials is not waited for: that needs a
person, so it is a start-up failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis

from synapse_bot.config import Settings
from synapse_bot.startup import StartupError, network_cause, where
from synapse_bot.store.embedded import EmbeddedRedis

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 10.0
STILL_DOWN_EVERY_S = 60.0


def open_redis(settings: Settings) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for REDIS_URL; without one, an embedded redis-server under the data dir (returned to be stopped)."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        directory = settings.data_dir / "redis"
        try:
            embedded = EmbeddedRedis(directory).start()
        except (RuntimeError, OSError) as exc:
            raise StartupError(
                "Embedded Redis",
                f"the redis-server under {directory} did not start ({exc})",
                "Look in its redis.log, free the data dir (SYNAPSE_DATA_DIR), or set REDIS_URL to a Redis you run.",
            ) from exc
        url = embedded.url
    try:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            health_check_interval=15,
            retry_on_timeout=True,
        )
    except ValueError as exc:
        raise StartupError(
            "Redis",
            f"REDIS_URL is not a Redis URL ({exc})",
            "Use redis://HOST:6379/0, rediss://… for TLS, or unset REDIS_URL for the embedded Redis.",
        ) from exc
    return client, embedded


def retry_delays(first: float = FIRST_RETRY_DELAY_S, cap: float = MAX_RETRY_DELAY_S) -> Iterator[float]:
    """0.5, 1, 2, 4, 8, 10, 10, … seconds."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


@dataclass
class OutageReport:
    """What to say while waiting for a service: the first failure, then one line a minute, then the recovery.

    Pure: it is told the time and the outcome of each attempt and returns the line to log, if any.
    """

    every_s: float = STILL_DOWN_EVERY_S
    down_since: float | None = None
    _next_report: float = field(default=0.0, repr=False)

    def failed(self, now: float) -> bool:
        """True when a line is due: the first failure, or a minute since the last line."""
        if self.down_since is None:
            self.down_since = now
            self._next_report = now + self.every_s
            return True
        if now >= self._next_report:
            self._next_report = now + self.every_s
            return True
        return False

    def down_for(self, now: float) -> float:
        return 0.0 if self.down_since is None else now - self.down_since


def wait_for_redis(
    client: redis.Redis,
    url: str,
    stopped: threading.Event,
    *,
    clock: Callable[[], float] = time.monotonic,
    delays: Iterator[float] | None = None,
) -> bool:
    """Block until Redis answers PING (True) or `stopped` is set (False), saying plainly what is going on."""
    report = OutageReport()
    delays = delays or retry_delays()
    shown = where(url)
    while not stopped.is_set():
        try:
            client.ping()
        except redis.AuthenticationError as exc:  # it answered: waiting will not fix a wrong password
            raise StartupError(
                "Redis",
                f"{shown} refused the credentials in REDIS_URL ({exc})",
                "Put the right user name and password in REDIS_URL (redis://USER:PASSWORD@HOST:6379/0).",
            ) from exc
        except (redis.RedisError, OSError) as exc:
            now = clock()
            if report.failed(now):
                if report.down_for(now) == 0:
                    log.error(
                        f"Redis is unreachable at {shown} ({network_cause(exc)}): Synapse waits for it and retries "
                        "with backoff. Check REDIS_URL and that the Redis server is running."
                    )
                else:
                    log.warning(
                        f"Redis still unreachable for {report.down_for(now):.0f} s at {shown} ({network_cause(exc)})."
                    )
            log.debug("redis ping failed", exc_info=True)
            stopped.wait(next(delays))
            continue
        if report.down_since is not None:
            log.warning(f"Redis reachable at {shown} after {report.down_for(clock()):.0f} s; starting.")
        return True
    return False
