"""Write traces, metrics and feedback straight into MLflow's sqlite store, without loading MLflow.

Why: loading MLflow costs a serving process ~44 MB and opening its sqlite store through sqlalchemy another ~60 MB
(`python -m bench.memory`), most of `run`'s memory, and MLflow's `log_spans` spends ~5 ms of CPU per trace. The
rows MLflow keeps for a finished trace are few and plain (mlflow_rows.py builds them), so for the default store —
a sqlite file — they are written here with the standard library's sqlite3, in one transaction per batch.

Only a schema this code was checked against is written to (KNOWN_SCHEMAS, MLflow's alembic revision): MLflow
creates and migrates the database itself (prepare_store.py, in a child process so its memory goes when it exits).
A database at any other revision is written through MLflow (export.py), as before. `tests/test_trace_store.py`
writes the same traces, metrics and feedback both ways and compares every row, and reads them back through MLflow.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
import uuid
from pathlib import Path

from synapse_bot.tracking.mlflow_rows import (
    ARTIFACT_LOCATION_TAG,
    INPUT_COST,
    INPUT_TOKENS,
    LLM_COST,
    MODEL,
    OUTPUT_COST,
    OUTPUT_TOKENS,
    REQUEST_ID_TAG,
    SPAN_TYPE,
    SPANS_IN_TRACKING_STORE,
    SPANS_LOCATION_TAG,
    TOTAL_COST,
    TOTAL_TOKENS,
    USER_METADATA,
    TraceRows,
    hex_id,
)

KNOWN_SCHEMAS = frozenset({"dc11669786a5"})  # MLflow 3.17's head revision
MODEL_MAX_CHARS = 500  # the `spans.model_name` column
BUSY_TIMEOUT_S = 30.0  # other processes (workers, `mlflow ui`) hold the write lock briefly
_SPAN_STATUS = {"STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}


class NotReady(Exception):
    """The file is not (yet) a store this writer can use; the message says why."""


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _artifact_uri(location: str, *parts: str) -> str:
    """MLflow's `append_to_uri_path` for the locations it makes (a path or a URI without a query)."""
    return "/".join([location.rstrip("/"), *parts])


class SqliteWriter:
    """One recorder's connection to a sqlite store at a known schema, for one experiment."""

    def __init__(
        self, connection: sqlite3.Connection, experiment_id: str, artifact_location: str, revision: str
    ) -> None:
        self.connection = connection
        self.experiment_id = experiment_id
        self.artifact_location = artifact_location
        self.revision = revision

    @classmethod
    def open(cls, path: Path, experiment_name: str) -> SqliteWriter:
        if not path.is_file():
            raise NotReady(f"{path} does not exist yet")
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            try:
                (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
            except sqlite3.OperationalError:
                raise NotReady(f"{path} has no MLflow tables yet") from None
            if revision not in KNOWN_SCHEMAS:
                raise NotReady(f"{path} has MLflow schema {revision or 'none'}, not one Synapse writes directly")
            found = connection.execute(
                "SELECT experiment_id, artifact_location FROM experiments"
                " WHERE name = ? AND lifecycle_stage = 'active' AND workspace = 'default'",
                (experiment_name,),
            ).fetchone()
            if found is None:
                raise NotReady(f"{path} has no experiment {experiment_name!r} yet")
        except BaseException:
            connection.close()
            raise
        return cls(connection, str(found[0]), str(found[1]), revision)

    def close(self) -> None:
        self.connection.close()

    def _transaction(self) -> sqlite3.Connection:
        """The caller runs its statements inside `with self._transaction() as db:` (committed, or rolled back).

        The schema is checked again under the write lock: `mlflow db upgrade` (or a newer `mlflow ui`) may have
        migrated the file since it was opened, and then the recorder opens it afresh (and writes through MLflow)."""
        self.connection.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through
        try:
            (revision,) = self.connection.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
        except sqlite3.Error:
            self.connection.rollback()
            raise
        if revision != self.revision:
            self.connection.rollback()
            raise NotReady(f"the store's MLflow schema changed from {self.revision} to {revision or 'none'}")
        return self.connection

    # Traces -------------------------------------------------------------------------------------

    def write(self, traces: list[TraceRows]) -> None:
        """All rows of all traces in one transaction: a batch is stored whole or not at all."""
        infos, tags, metadata, spans = [], [], [], []
        for rows in traces:
            usage, cost = rows.usage or {}, rows.cost or {}
            infos.append(
                (
                    rows.trace_id,
                    self.experiment_id,
                    rows.timestamp_ms,
                    rows.execution_time_ms,
                    rows.status,
                    rows.request_preview,
                    rows.response_preview,
                    rows.trace_name,
                    rows.session_id,
                    usage.get(INPUT_TOKENS),
                    usage.get(OUTPUT_TOKENS),
                    usage.get(TOTAL_TOKENS),
                    _finite(cost.get(INPUT_COST)),
                    _finite(cost.get(OUTPUT_COST)),
                    _finite(cost.get(TOTAL_COST)),
                )
            )
            location = _artifact_uri(self.artifact_location, "traces", rows.trace_id, "artifacts")
            tags.append((ARTIFACT_LOCATION_TAG, location, rows.trace_id))
            tags.append((SPANS_LOCATION_TAG, SPANS_IN_TRACKING_STORE, rows.trace_id))
            tags.extend((key, value, rows.trace_id) for key, value in rows.tags.items())
            if rows.user:
                metadata.append((USER_METADATA, rows.user, rows.trace_id))
            for span in rows.spans:
                standard = rows.standard.get(span["span_id"], {})
                span_cost = standard.get(LLM_COST, {})
                model = standard.get(MODEL)
                parent = span["parent_span_id"]
                spans.append(
                    (
                        rows.trace_id,
                        self.experiment_id,
                        hex_id(span["span_id"]),
                        hex_id(parent) if parent else None,
                        span["name"],
                        json.loads(span["attributes"][SPAN_TYPE]),
                        _SPAN_STATUS.get(span["status"]["code"], "UNSET"),
                        span["start_time_unix_nano"],
                        span["end_time_unix_nano"],
                        json.dumps(span, ensure_ascii=False),
                        _finite(span_cost.get(INPUT_COST)),
                        _finite(span_cost.get(OUTPUT_COST)),
                        _finite(span_cost.get(TOTAL_COST)),
                        model[:MODEL_MAX_CHARS] if isinstance(model, str) else None,
                    )
                )
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status,"
                " request_preview, response_preview, db_payload_generation, trace_name, session_id, input_tokens,"
                " output_tokens, total_tokens, input_cost, output_cost, total_cost)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                infos,
            )
            db.executemany("INSERT INTO trace_tags (key, value, request_id) VALUES (?, ?, ?)", tags)
            db.executemany("INSERT INTO trace_request_metadata (key, value, request_id) VALUES (?, ?, ?)", metadata)
            db.executemany(
                "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status,"
                " start_time_unix_nano, end_time_unix_nano, content, input_cost, output_cost, total_cost, model_name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                spans,
            )

    # Metrics ------------------------------------------------------------------------------------

    def create_run(self, name: str) -> str:
        """A run as `MlflowClient.create_run` makes it, named `name`."""
        run_id = uuid.uuid4().hex
        now = int(time.time() * 1000)
        artifact_uri = _artifact_uri(self.artifact_location, run_id, "artifacts")
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
                " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)"
                " VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
                (run_id, name, now, artifact_uri, self.experiment_id),
            )
            db.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)", (name, run_id))
        return run_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int, timestamp_ms: int) -> None:
        """One step of metrics, and each metric's latest value (what MLflow's run list shows)."""
        rows = []
        for key, value in metrics.items():
            number = float(value)
            is_nan = math.isnan(number)
            rows.append((key, 0.0 if is_nan else number, timestamp_ms, run_id, step, int(is_nan)))
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp,"
                " step = excluded.step, is_nan = excluded.is_nan"
                " WHERE (excluded.step, excluded.timestamp, excluded.value)"
                " >= (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
                rows,
            )

    # Feedback -----------------------------------------------------------------------------------

    def log_feedback(self, request_id: str, positive: bool, user_id: str) -> bool:
        """A person's 👍/👎 on the latest trace of that request, as `mlflow.log_feedback` stores it; False when
        no trace of the request is stored."""
        now = int(time.time() * 1000)
        with self._transaction() as db:
            found = db.execute(
                "SELECT i.request_id, i.timestamp_ms FROM trace_tags t JOIN trace_info i ON i.request_id = t.request_id"
                " WHERE t.key = ? AND t.value = ? AND i.experiment_id = ? ORDER BY i.timestamp_ms DESC LIMIT 1",
                (REQUEST_ID_TAG, request_id, self.experiment_id),
            ).fetchone()
            if found is None:
                return False
            db.execute(
                "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, created_timestamp,"
                " last_updated_timestamp, source_type, source_id, valid, experiment_id, trace_timestamp_ms,"
                " aggregate_value, is_numeric_value)"
                " VALUES (?, ?, 'user_feedback', 'feedback', ?, ?, ?, 'HUMAN', ?, 1, ?, ?, ?, 0)",
                (
                    "a-" + uuid.uuid4().hex,
                    found[0],
                    json.dumps(positive),
                    now,
                    now,
                    user_id,
                    self.experiment_id,
                    found[1],
                    1.0 if positive else 0.0,
                ),
            )
        return True
