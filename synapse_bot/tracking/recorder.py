"""Ship finished request traces to MLflow on a background thread, never in the way of a reply.

The queue is bounded: when MLflow is slow or down, new traces are dropped and counted rather than piling up,
and a warning is logged at most once a minute. The default store, a sqlite file, is written directly
(sqlite_store.py) and MLflow is not loaded into the process at all; for other stores MLflow (a slow import) is
loaded on this thread only (export.py).

The thread gathers traces for up to BATCH_WINDOW_S after the first one arrives (or until BATCH_SIZE) and writes
them as one batch: a database transaction costs about as much CPU for one trace as for twenty, so
batching is what keeps the recorder ahead of bursts and its CPU per request low; a trace shows in MLflow about a
second after its request finished.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import random
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from synapse_bot.startup import network_cause, where
from synapse_bot.tracking.metrics import MetricsWindow
from synapse_bot.tracking.mlflow_rows import TraceRows, trace_rows
from synapse_bot.tracking.prepare_store import PrepareFailed, prepare
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.sqlite_store import NotReady, SqliteWriter
from synapse_bot.tracking.store_init import opening_store, sqlite_path
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

WARN_EVERY_S = 60.0
_TICK = object()  # wakes the recorder thread to log metrics
PAUSE_AFTER_FAILURE_S = 30.0  # a store that failed is left alone this long; traces meanwhile are dropped
PAUSE_AFTER_REFUSAL_S = 300.0  # … and one MLflow refused to open (an old schema, a broken file) this long
BATCH_SIZE = 200  # traces per write at most (about a thousand spans in one log_spans call)
BATCH_WINDOW_S = 1.0  # how long the first trace of a batch waits for company


@dataclass(frozen=True)
class Feedback:
    request_id: str
    positive: bool
    user_id: str


class TraceSink(Protocol):
    def record(self, trace: RequestTrace) -> None: ...
    def record_feedback(self, feedback: Feedback) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def close(self, timeout: float = 5.0) -> None: ...


# MLflow's opt-in features the direct writer does not follow: workspaces decide which experiment a name means (the
# direct writer knows only the default one), and trace rollups need a rebuild queued with every write.
MLFLOW_FEATURES_WRITTEN_THROUGH_MLFLOW = ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_SQL_TRACE_ROLLUPS_ENABLED")


def _mlflow_features_on() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
        for name in MLFLOW_FEATURES_WRITTEN_THROUGH_MLFLOW
    )


class TraceWriter(Protocol):
    """Where a recorder's batches go: sqlite_store.SqliteWriter (the default store) or export.MlflowWriter."""

    def write(self, traces: list[TraceRows]) -> None: ...
    def create_run(self, name: str) -> str: ...
    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int, timestamp_ms: int) -> None: ...
    def log_feedback(self, request_id: str, positive: bool, user_id: str) -> bool: ...
    def close(self) -> None: ...


class NullRecorder:
    """Tracking disabled."""

    def record(self, trace: RequestTrace) -> None:
        return None

    def record_feedback(self, feedback: Feedback) -> None:
        return None

    def counts(self) -> dict[str, int]:
        return {}

    def close(self, timeout: float = 5.0) -> None:
        return None


class MlflowRecorder:
    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        *,
        queue_size: int = 1000,
        scrubber: Scrubber | None = None,
        metrics_interval_s: float = 60.0,
        batch_window_s: float = BATCH_WINDOW_S,
        preload: bool = False,
        direct: bool = True,
    ) -> None:
        self.preload = preload
        self.batch_window_s = batch_window_s
        self._hurry = threading.Event()  # flush() and close(): write what is gathered now, do not wait for more
        self.metrics_interval_s = metrics_interval_s
        self._window = MetricsWindow()
        self._next_metrics = time.monotonic() + metrics_interval_s
        self._metrics_run_id: str | None = None
        self._metrics_step = 0
        self.metrics_logged = 0
        self.scrubber = scrubber or Scrubber([])
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="synapse-mlflow", daemon=True)
        self.direct = direct
        self._writer: TraceWriter | None = None
        self._rng = random.Random()
        self._last_warning = 0.0
        self._down_until = 0.0
        self._idle = threading.Event()
        self._idle.set()
        self.recorded = 0
        self.dropped = 0
        self.failed = 0
        self._thread.start()

    # Request side -------------------------------------------------------------------------------

    def record(self, trace: RequestTrace) -> None:
        try:
            self._idle.clear()
            self._queue.put_nowait(trace)
        except queue.Full:
            self.dropped += 1
            self._warn("tracking queue full; dropping traces", dropped=self.dropped)

    def record_feedback(self, feedback: Feedback) -> None:
        try:
            self._idle.clear()
            self._queue.put_nowait(feedback)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        try:
            while time.monotonic() < deadline:
                if self._queue.empty() and self._idle.is_set():
                    return True
                time.sleep(0.05)
            return False
        finally:
            self._hurry.clear()

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)

    def counts(self) -> dict[str, int]:
        """For /health: traces taken, dropped (store down, queue full), failed writes, metrics steps logged."""
        return {
            "recorded": self.recorded,
            "dropped": self.dropped,
            "failed": self.failed,
            "metrics_steps": self.metrics_logged,
        }

    # Recorder thread ----------------------------------------------------------------------------

    def warning_given(self) -> None:
        """Someone has just said the store is unreachable: the recorder's own warning waits its minute."""
        self._last_warning = time.monotonic()

    def _warn(self, message: str, **extra: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(message, extra=extra)

    def _next_batch(self) -> list[object]:
        """The next item (waiting until one comes or metrics are due), plus whatever else is already queued."""
        try:
            items = [self._queue.get(timeout=max(0.05, self._next_metrics - time.monotonic()))]
        except queue.Empty:
            return [_TICK]
        if items[0] is _TICK:
            return items
        deadline = time.monotonic() + self.batch_window_s
        while len(items) < BATCH_SIZE and items[-1] is not None:
            try:  # what is already queued joins the batch in any case
                items.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._hurry.is_set():
                break
            try:
                items.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                continue
        return items

    def _run(self) -> None:
        if self.preload:
            self._preload()
        while True:
            items = self._next_batch()
            stop = items[-1] is None
            items = [item for item in items if item is not None]
            try:
                if time.monotonic() >= self._next_metrics:
                    self._log_metrics()
                traces = [item for item in items if isinstance(item, RequestTrace)]
                feedback = [item for item in items if isinstance(item, Feedback)]
                for trace in traces:
                    self._window.add(trace)
                if time.monotonic() < self._down_until:
                    self.dropped += len(traces) + len(feedback)
                else:
                    self._write_batch(traces, feedback)
            except Exception as exc:  # MLflow down, disk full, bad URI: never propagate
                self.failed += 1
                self.dropped += max(0, len(items) - 1)
                self._drop_writer()
                # A store MLflow itself refused to open stays refused until someone acts: trying again every 30 s
                # would cost a child process's MLflow import (seconds of CPU) each time.
                refused = isinstance(exc, PrepareFailed)
                pause = PAUSE_AFTER_REFUSAL_S if refused else PAUSE_AFTER_FAILURE_S
                self._down_until = time.monotonic() + pause
                cause = str(exc) if refused else network_cause(exc)
                self._warn(
                    f"could not record a trace in MLflow at {where(self.tracking_uri)} ({cause}); "
                    f"traces are dropped for {pause:.0f} s, then tried again",
                    failed=self.failed,
                )
                log.debug("trace not recorded", exc_info=True)
            finally:
                if self._queue.empty() and items != [_TICK]:
                    self._idle.set()
            if stop:
                self._log_metrics()
                self._drop_writer()
                return

    def _drop_writer(self) -> None:
        """After a failure (opened afresh next time) and at the end."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._writer = None

    def _write_batch(self, traces: list[RequestTrace], feedback: list[Feedback]) -> None:
        """Traces first (feedback in the same batch may be about one of them), then feedback one by one."""
        if not traces and not feedback:
            return
        writer = self._ensure_writer()
        if traces:
            writer.write([trace_rows(trace, self.scrubber, self._rng) for trace in traces])
            self.recorded += len(traces)
        for item in feedback:
            if not writer.log_feedback(item.request_id, item.positive, item.user_id):
                self._warn("feedback for an unknown request", request_id=item.request_id)

    @property
    def writes_directly(self) -> bool:
        """Whether traces go into the sqlite file directly (else through MLflow's client, or nowhere open yet)."""
        return isinstance(self._writer, SqliteWriter)

    def _ensure_writer(self) -> TraceWriter:
        if self._writer is None:
            self._writer = self._open_writer()
            how = "directly" if self.writes_directly else "through MLflow"
            log.info(f"traces are written {how}", extra={"store": where(self.tracking_uri)})
        return self._writer

    def _open_writer(self) -> TraceWriter:
        """The direct sqlite writer for the default store (MLflow itself prepares the file, in a child process);
        MLflow's client for anything else."""
        path = self._direct_path()
        if path is None:
            return self._open_mlflow_writer()
        with opening_store(self.tracking_uri):  # one process at a time prepares a new store
            try:
                return SqliteWriter.open(path, self.experiment_name)
            except NotReady:
                prepare(self.tracking_uri, self.experiment_name)
            try:
                return SqliteWriter.open(path, self.experiment_name)
            except NotReady as exc:
                log.warning(f"{exc}: traces are written through MLflow itself, at a cost in memory and CPU")
        return self._open_mlflow_writer()

    def _direct_path(self) -> Path | None:
        """The sqlite file the direct writer would write, where it may (else traces go through MLflow)."""
        if not self.direct or _mlflow_features_on():
            return None
        return sqlite_path(self.tracking_uri)

    def _open_mlflow_writer(self) -> TraceWriter:
        self._load_mlflow()
        import mlflow

        from synapse_bot.tracking.export import MlflowWriter

        mlflow.set_tracking_uri(self.tracking_uri)
        with opening_store(self.tracking_uri):
            experiment = mlflow.set_experiment(self.experiment_name)
        writer = MlflowWriter(self.tracking_uri, experiment.experiment_id)
        gc.freeze()  # the store's modules too (see _load_mlflow)
        return writer

    def _load_mlflow(self) -> None:
        """Import MLflow on this thread (only where the direct sqlite writer does not apply)."""
        # MLflow logs its own INFO chatter (table creation, queue flushing) unless told otherwise, and its HTTP
        # client retries a dead server for minutes; the recorder would rather fail fast and pause.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        try:
            import synapse_bot.tracking.export  # noqa: F401  (imports mlflow)
        except Exception as exc:  # a broken install: every write will fail and be counted
            self._warn("could not load MLflow", error=f"{type(exc).__name__}: {exc}"[:300])
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        # Serving processes freeze what they loaded at start-up out of the garbage collector's reach
        # (process_tuning.py); MLflow arrives later, on this thread, and its hundreds of thousands of objects would
        # otherwise be walked by every full collection with the GIL held, stalling acknowledgements.
        gc.freeze()

    def _preload(self) -> None:
        """While the process starts, not in the middle of serving: open the store (the direct writer), or import
        MLflow, whose second of GIL-holding imports would otherwise stall the first requests' acknowledgements."""
        if self._direct_path() is None:
            self._load_mlflow()
            return
        try:
            self._ensure_writer()
        except Exception as exc:  # tried again with the first trace; the failure is reported then
            log.debug("tracking store not opened at start", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})

    def _log_metrics(self) -> None:
        """One step of aggregate metrics on this process's metrics run (never raises)."""
        self._next_metrics = time.monotonic() + self.metrics_interval_s
        window, self._window = self._window, MetricsWindow()
        if not window.requests or time.monotonic() < self._down_until:
            return
        try:
            writer = self._ensure_writer()
            if self._metrics_run_id is None:
                self._metrics_run_id = writer.create_run(f"synapse-metrics-{socket.gethostname()}-{os.getpid()}")
            writer.log_metrics(self._metrics_run_id, window.metrics(), self._metrics_step, int(time.time() * 1000))
            self._metrics_step += 1
            self.metrics_logged += 1
        except Exception as exc:
            self.failed += 1
            self._warn("could not log metrics to MLflow", error=f"{type(exc).__name__}: {exc}"[:300])
