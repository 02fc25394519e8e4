"""Write traces through MLflow's own client: the way for tracking URIs the direct sqlite writer does not take
(an MLflow server, another database, a sqlite schema it was not checked against).

Why not `mlflow.start_span_no_context` (what the recorder used to do): that API is for live code. It runs MLflow's
in-memory trace manager and OpenTelemetry span processors, and its exporter writes every span in its own database
transaction as the span ends, then the trace info in another. A finished RequestTrace is already complete, so its
spans (mlflow_rows.py) are rebuilt with `Span.from_dict`, MLflow's own deserialiser, and written with the store's
batch API, `log_spans`, once for a whole batch of traces: the store derives each trace's row from them.

Imported on the recorder thread only (MLflow is a slow import, ~44 MB, and its sqlite store another ~60 MB).
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import AssessmentSource, Metric, Span
from mlflow.tracing.client import TracingClient

from synapse_bot.tracking.mlflow_rows import REQUEST_ID_TAG, TraceRows


class MlflowWriter:
    """Traces, metrics and feedback through MLflow's client, for any tracking URI MLflow supports."""

    def __init__(self, tracking_uri: str, experiment_id: str) -> None:
        self.experiment_id = experiment_id
        self.client = TracingClient(tracking_uri)
        self.runs = MlflowClient(tracking_uri)

    def write(self, traces: list[TraceRows]) -> None:
        """All spans of all traces in one `log_spans` call (one transaction on a database store)."""
        self.client.log_spans(self.experiment_id, [Span.from_dict(span) for rows in traces for span in rows.spans])

    def create_run(self, name: str) -> str:
        return self.runs.create_run(self.experiment_id, run_name=name).info.run_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int, timestamp_ms: int) -> None:
        batch = [Metric(key, float(value), timestamp_ms, step) for key, value in metrics.items()]
        self.runs.log_batch(run_id, metrics=batch)

    def log_feedback(self, request_id: str, positive: bool, user_id: str) -> bool:
        """False when no trace of that request is stored."""
        import mlflow

        found = mlflow.search_traces(
            locations=[self.experiment_id],
            return_type="list",
            max_results=1,
            filter_string=f"tags.`{REQUEST_ID_TAG}` = '{request_id}'",
        )
        if not found:
            return False
        mlflow.log_feedback(
            trace_id=found[0].info.trace_id,
            name="user_feedback",
            value=positive,
            source=AssessmentSource(source_type="HUMAN", source_id=user_id),
        )
        return True

    def close(self) -> None:
        return None
