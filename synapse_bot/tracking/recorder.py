"""Ship finished request traces to MLflow on a background thread, never in the way of a reply.

The queue is bounded: when MLflow is slow or down, new traces are dropped and counted rather than piling up,
and a warning is logged at most once a minute. MLflow itself (a slow import) is loaded on this thread only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from synapse_bot.startup import network_cause, where
from synapse_bot.tracking.metrics import MetricsWindow
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.trace import RequestTrace, SpanRecord

log = logging.getLogger(__name__)

WARN_EVERY_S = 60.0
_TICK = object()  # wakes the recorder thread to log metrics
PAUSE_AFTER_FAILURE_S = 30.0  # a store that failed is left alone this long; traces meanwhile are dropped


@dataclass(frozen=True)
class Feedback:
    request_id: str
    positive: bool
    user_id: str


class TraceSink(Protocol):
    def record(self, trace: RequestTrace) -> None: ...
    def record_feedback(self, feedback: Feedback) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...


class NullRecorder:
    """Tracking disabled."""

    def record(self, trace: RequestTrace) -> None:
        return None

    def record_feedback(self, feedback: Feedback) -> None:
        return None

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
    ) -> None:
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
        self._experiment_id: str | None = None
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
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.is_set():
                return True
            time.sleep(0.05)
        return False

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)

    # Recorder thread ----------------------------------------------------------------------------

    def _warn(self, message: str, **extra: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(message, extra=extra)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=max(0.05, self._next_metrics - time.monotonic()))
            except queue.Empty:
                item = _TICK
            if item is None:
                self._log_metrics()
                return
            try:
                if time.monotonic() >= self._next_metrics:
                    self._log_metrics()
                if item is _TICK:
                    continue
                if isinstance(item, RequestTrace):
                    self._window.add(item)
                if time.monotonic() < self._down_until:
                    self.dropped += 1
                    continue
                if isinstance(item, Feedback):
                    self._write_feedback(item)
                elif isinstance(item, RequestTrace):
                    self._write(item)
                    self.recorded += 1
            except Exception as exc:  # MLflow down, disk full, bad URI: never propagate
                self.failed += 1
                self._experiment_id = None
                self._down_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
                self._warn(
                    f"could not record a trace in MLflow at {where(self.tracking_uri)} ({network_cause(exc)}); "
                    f"traces are dropped for {PAUSE_AFTER_FAILURE_S:.0f} s, then tried again",
                    failed=self.failed,
                )
                log.debug("trace not recorded", exc_info=True)
            finally:
                if self._queue.empty() and item is not _TICK:
                    self._idle.set()

    def _ensure_experiment(self) -> str:
        if self._experiment_id is None:
            # MLflow logs its own INFO chatter (table creation, queue flushing) unless told otherwise, and its HTTP
            # client retries a dead server for minutes; the recorder would rather fail fast and pause.
            os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
            import mlflow

            logging.getLogger("mlflow").setLevel(logging.WARNING)

            mlflow.set_tracking_uri(self.tracking_uri)
            experiment = mlflow.set_experiment(self.experiment_name)
            self._experiment_id = experiment.experiment_id
        return self._experiment_id

    def _log_metrics(self) -> None:
        """One step of aggregate metrics on this process's metrics run (never raises)."""
        self._next_metrics = time.monotonic() + self.metrics_interval_s
        window, self._window = self._window, MetricsWindow()
        if not window.requests or time.monotonic() < self._down_until:
            return
        try:
            from mlflow import MlflowClient
            from mlflow.entities import Metric

            experiment_id = self._ensure_experiment()
            client = MlflowClient(self.tracking_uri)
            if self._metrics_run_id is None:
                name = f"synapse-metrics-{socket.gethostname()}-{os.getpid()}"
                self._metrics_run_id = client.create_run(experiment_id, run_name=name).info.run_id
            now = int(time.time() * 1000)
            metrics = [Metric(k, float(v), now, self._metrics_step) for k, v in window.metrics().items()]
            client.log_batch(self._metrics_run_id, metrics=metrics)
            self._metrics_step += 1
            self.metrics_logged += 1
        except Exception as exc:
            self.failed += 1
            self._warn("could not log metrics to MLflow", error=f"{type(exc).__name__}: {exc}"[:300])

    def _write_feedback(self, feedback: Feedback) -> None:
        import mlflow
        from mlflow.entities import AssessmentSource

        experiment_id = self._ensure_experiment()
        found = mlflow.search_traces(
            locations=[experiment_id],
            return_type="list",
            max_results=1,
            filter_string=f"tags.`synapse.request_id` = '{feedback.request_id}'",
        )
        if not found:
            self._warn("feedback for an unknown request", request_id=feedback.request_id)
            return
        mlflow.log_feedback(
            trace_id=found[0].info.trace_id,
            name="user_feedback",
            value=feedback.positive,
            source=AssessmentSource(source_type="HUMAN", source_id=feedback.user_id),
        )

    def _write(self, trace: RequestTrace) -> None:
        import mlflow

        experiment_id = self._ensure_experiment()
        root = trace.root
        live = mlflow.start_span_no_context(
            name=root.name,
            span_type=root.span_type,
            attributes={**self.scrubber.attributes(root.attributes), "synapse.request_id": trace.request_id},
            experiment_id=experiment_id,
            start_time_ns=root.start_ns,
            tags={"synapse.request_id": trace.request_id},
        )
        try:
            for child in root.children:
                self._write_span(child, live)
        finally:
            live.end(status=root.status, end_time_ns=root.end_ns or time.time_ns())
        mlflow.flush_trace_async_logging(terminate=False)

    def _write_span(self, span: SpanRecord, parent: Any) -> None:
        import mlflow

        live = mlflow.start_span_no_context(
            name=span.name,
            span_type=span.span_type,
            parent_span=parent,
            attributes=self.scrubber.attributes(span.attributes),
            start_time_ns=span.start_ns,
        )
        try:
            for child in span.children:
                self._write_span(child, live)
        finally:
            if span.error:
                live.set_attribute("error", self.scrubber.text(span.error))
            live.end(status=span.status, end_time_ns=span.end_ns or time.time_ns())
