"""Connect to the configured Redis, or start the embedded one."""

from __future__ import annotations

import redis

from synapse_bot.config import Settings
from synapse_bot.store.embedded import EmbeddedRedis


def open_redis(settings: Settings) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for REDIS_URL; without one, an embedded redis-server under the data dir (returned to be stopped)."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir / "redis").start()
        url = embedded.url
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=15,
        retry_on_timeout=True,
    )
    return client, embedded
