"""Where an accepted request goes: onto the shared queue, or — while Redis is unreachable — to this process.

The gateway must keep answering through a Redis outage, so a failed enqueue runs the job on the local thread
pool instead (degraded: logged, and counted on /health). Once Redis answers a probe, requests go to the queue again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from synapse_bot.jobs.runner import InProcessRunner
from synapse_bot.request import SlackRequest
from synapse_bot.store.outage import RedisWatch

log = logging.getLogger(__name__)


class FailoverSubmitter:
    def __init__(
        self, enqueue: Callable[[SlackRequest], None] | None, local: InProcessRunner, watch: RedisWatch
    ) -> None:
        self._enqueue = enqueue
        self._local = local
        self._watch = watch
        self.queued = 0
        self.ran_locally = 0

    def submit(self, request: SlackRequest) -> None:
        if self._enqueue is not None and self._watch.usable():
            try:
                self._enqueue(request)
            except (redis.RedisError, OSError) as exc:
                self._watch.failed(exc)
            else:
                self._watch.ok()
                self.queued += 1
                return
        self.ran_locally += 1
        if self._enqueue is not None:
            log.info("job runs in-process (redis unavailable)", extra={"dedupe_key": request.dedupe_key})
        self._local.submit(request)
