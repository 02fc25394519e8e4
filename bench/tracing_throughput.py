"""Tracing throughput: how many finished request traces a recorder writes per second into the default sqlite store,
and the CPU it spends per trace — the recorder as it is (rows written directly), against batches through MLflow's
own store (`ThroughMlflowRecorder`, what other stores still use) and the way it first wrote traces (one
`mlflow.start_span_no_context` per span and a flush per trace, kept here as `LegacyRecorder`).

Each trace is shaped like a mention answered through the model: the root, the dispatch, a routing model call, a tool
with a model call nested in it, and the Slack reply (6 spans). The traces are queued as fast as a burst would queue
them; the clock stops when the last one is in the store. CPU is this whole process's (every thread) over that time.

    python -m bench.tracing_throughput [--quick] [--traces N] [--out bench/results/tracing_throughput.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import write_json
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.recorder import MlflowRecorder
from synapse_bot.tracking.trace import RequestTrace


def sample_trace(i: int) -> RequestTrace:
    trace = RequestTrace.start(
        "mention", team="T1", channel="C1", user=f"U{i % 20}", thread=f"1700000000.{i:06d}", text="deploy ok?"
    )
    with trace.span("dispatch", span_type="CHAIN") as dispatch:
        dispatch.set(path="llm")
        with trace.span("llm.route", span_type="LLM") as llm:
            llm.set(model="gpt-4o-mini", prompt_tokens=812, completion_tokens=41, cost_usd=0.00015, latency_ms=2.1)
        with trace.span("tool.summarize_thread", span_type="TOOL", tool="summarize_thread") as tool:
            with trace.span("llm.summary", span_type="LLM") as inner:
                inner.set(model="gpt-4o-mini", prompt_tokens=4685, completion_tokens=230, cost_usd=0.0008)
            tool.set(ok=True, result_chars=812, **{"result.cache_hit": False})
    with trace.span("slack.reply") as reply:
        reply.set(messages=1, chars=812)
    trace.root.set(path="llm", tools="summarize_thread", prompt_tokens=5497, completion_tokens=271, reply="green")
    trace.finish()
    return trace


class ThroughMlflowRecorder(MlflowRecorder):
    """Batched, through MLflow's store (`log_spans`): how the default store was written before the direct writer,
    and how other stores still are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, direct=False, **kwargs)


class LegacyRecorder(MlflowRecorder):
    """The recorder's writing as it was before batching (2026-11-30): live spans, one flush per trace."""

    def _write_batch(self, traces: list[RequestTrace], feedback: list[Any]) -> None:
        for trace in traces:
            self._write_one(trace)
            self.recorded += 1

    def _ensure_experiment(self) -> str:
        import mlflow

        self._load_mlflow()
        mlflow.set_tracking_uri(self.tracking_uri)
        return str(mlflow.set_experiment(self.experiment_name).experiment_id)

    def _write_one(self, trace: RequestTrace) -> None:
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

    def _write_span(self, span: Any, parent: Any) -> None:
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
            live.end(status=span.status, end_time_ns=span.end_ns or time.time_ns())


def measure(recorder_class: type[MlflowRecorder], traces: int, workdir: Path) -> dict[str, Any]:
    uri = f"sqlite:///{workdir / f'{recorder_class.__name__}.db'}"
    recorder = recorder_class(uri, "synapse", queue_size=traces + 10, scrubber=Scrubber([]), metrics_interval_s=3600)
    recorder.record(sample_trace(-1))  # MLflow's import, the schema and the experiment: not part of the figure
    assert recorder.flush(300)
    batch = [sample_trace(i) for i in range(traces)]
    cpu_before, started = time.process_time(), time.monotonic()
    for trace in batch:
        recorder.record(trace)
    finished = recorder.flush(1800)
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu_before
    recorder.close()
    assert finished and recorder.recorded == traces + 1 and recorder.dropped == 0, (recorder.recorded, recorder.dropped)
    return {
        "traces": traces,
        "seconds": round(elapsed, 2),
        "traces_per_s": round(traces / elapsed, 1),
        "cpu_ms_per_trace": round(cpu * 1000 / traces, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer traces (and 20 for the old recorder)")
    parser.add_argument("--traces", type=int, default=0, help="traces for the current recorder (default 2000)")
    parser.add_argument("--legacy-traces", type=int, default=0, help="traces for the old recorder (default 60)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tracing_throughput.json"))
    args = parser.parse_args()
    current_n = args.traces or (300 if args.quick else 2000)
    legacy_n = args.legacy_traces or (20 if args.quick else 60)
    with tempfile.TemporaryDirectory(prefix="synapse-tracing-") as tmp:
        results = {
            "current": measure(MlflowRecorder, current_n, Path(tmp)),
            "through_mlflow": measure(ThroughMlflowRecorder, current_n // 2, Path(tmp)),
            "legacy": measure(LegacyRecorder, legacy_n, Path(tmp)),
        }
    print("tracing throughput into a sqlite store (6-span mention traces, queued as one burst)")
    print(f"{'recorder':>34} {'traces':>7} {'seconds':>8} {'traces/s':>9} {'CPU ms/trace':>13}")
    labels = {
        "current": "batched, direct sqlite (this code)",
        "through_mlflow": "batched, MLflow's log_spans",
        "legacy": "per-span live spans (before)",
    }
    for name, r in results.items():
        figures = f"{r['traces']:>7} {r['seconds']:>8} {r['traces_per_s']:>9} {r['cpu_ms_per_trace']:>13}"
        print(f"{labels[name]:>34} {figures}")
    write_json(args.out, results)


if __name__ == "__main__":
    main()
