"""Run request jobs on a pool of in-process worker threads.

This is the embedded default shape: the listener hands a job over and acknowledges; a worker thread runs it.
Shutdown waits for jobs in flight so nothing accepted is dropped on a clean stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from synapse_bot.request import SlackRequest

log = logging.getLogger(__name__)

JobHandler = Callable[[SlackRequest], None]


class InProcessRunner:
    def __init__(self, handler: JobHandler, threads: int = 8) -> None:
        self._handler = handler
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="synapse-job")
        self._in_flight: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, request: SlackRequest) -> None:
        future = self._pool.submit(self._run, request)
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def _run(self, request: SlackRequest) -> None:
        try:
            self._handler(request)
        except Exception:
            # The handler replies on its own errors; reaching here is a bug, but it must not kill the worker.
            log.exception("job crashed", extra={"kind": request.kind.value, "dedupe_key": request.dedupe_key})

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
