"""The direct sqlite writer stores exactly what MLflow's own store would, and MLflow reads it back.

Each test writes the same traces (same ids), metrics and feedback once through MLflow (export.MlflowWriter) and
once directly (sqlite_store.SqliteWriter) into two real sqlite stores created by MLflow, then compares every row.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from synapse_bot.tracking import mlflow_rows
from synapse_bot.tracking.export import MlflowWriter
from synapse_bot.tracking.mlflow_rows import TraceRows, trace_rows
from synapse_bot.tracking.prepare_store import prepare
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.recorder import MlflowRecorder
from synapse_bot.tracking.sqlite_store import KNOWN_SCHEMAS, NotReady, SqliteWriter
from synapse_bot.tracking.trace import RequestTrace
from tests.support.settings import subprocess_env

pytestmark = pytest.mark.e2e  # real MLflow stores, made by MLflow in child processes

TABLES = [
    "trace_info",
    "trace_tags",
    "trace_request_metadata",
    "spans",
    "runs",
    "tags",
    "metrics",
    "latest_metrics",
    "assessments",
]


def _answered(i: int, *, error: bool = False, text: str = "deploy ok?") -> RequestTrace:
    trace = RequestTrace.start("mention", team="T1", channel="C1", user=f"U{i}", thread=f"17000.{i:06d}", text=text)
    with trace.span("dispatch", span_type="CHAIN") as dispatch:
        dispatch.set(path="llm")
        with trace.span("llm.route", span_type="LLM") as llm:
            llm.set(model="gpt-4o-mini", prompt_tokens=812, completion_tokens=41, input_cost_usd=0.0001218)
            llm.set(output_cost_usd=0.0000246)
        with trace.span("tool.summarize_thread", span_type="TOOL", tool="summarize_thread"):
            with trace.span("llm.summary", span_type="LLM") as inner:
                inner.set(model="my-local-llama", prompt_tokens=4685, completion_tokens=230)  # no price
            with trace.span("llm.summary", span_type="LLM") as failed:
                failed.finish("ERROR", "TimeoutError: model did not answer")
    with trace.span("slack.reply") as reply:
        reply.set(messages=1, chars=812)
    trace.root.set(path="llm", reply="Ünïcode ✅ — all green " * 60)
    trace.finish("ERROR", "TimeoutError") if error else trace.finish()
    return trace


def _fast_path() -> RequestTrace:
    trace = RequestTrace.start("slash_command", team="T1", channel="C2", text="help")
    trace.root.set(path="fast")
    trace.finish()
    return trace


def _traces() -> list[RequestTrace]:
    return [_answered(1), _answered(2, error=True, text="why is it red? " * 100), _fast_path()]


def _new_store(path: Path) -> str:
    uri = f"sqlite:///{path}"
    prepare(uri, "synapse")
    return uri


def _rows(db: Path) -> dict[str, list[dict[str, Any]]]:
    import sqlite3

    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    dump: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        rows = [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]
        for row in rows:
            if "content" in row:
                row["content"] = json.loads(row["content"])
            for volatile in ("run_uuid", "assessment_id", "start_time", "created_timestamp", "last_updated_timestamp"):
                row.pop(volatile, None)
            if table == "runs":
                row["artifact_uri"] = row["artifact_uri"].rsplit("/", 2)[0]  # the run id is in it
            for key, value in row.items():
                if isinstance(value, float):
                    row[key] = round(value, 12)
        dump[table] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))
    connection.close()
    return dump


def _write_both(tmp_path: Path, traces: list[TraceRows]) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    via_mlflow, direct = tmp_path / "via-mlflow.db", tmp_path / "direct.db"
    uri_a, uri_b = _new_store(via_mlflow), _new_store(direct)
    mlflow.set_tracking_uri(uri_a)
    experiment_id = MlflowClient(uri_a).get_experiment_by_name("synapse").experiment_id
    reference = MlflowWriter(uri_a, experiment_id)
    writer = SqliteWriter.open(direct, "synapse")
    assert writer.experiment_id == experiment_id
    for target in (reference, writer):
        target.write(traces)
        run_id = target.create_run("synapse-metrics-host-1")
        target.log_metrics(run_id, {"requests": 3.0, "latency_p95_ms": 812.5}, 0, 1_796_000_000_000)
        target.log_metrics(run_id, {"requests": 5.0, "latency_p95_ms": float("nan")}, 1, 1_796_000_060_000)
        assert target.log_feedback(traces[0].tags[mlflow_rows.REQUEST_ID_TAG], True, "U9")
        assert target.log_feedback(traces[1].tags[mlflow_rows.REQUEST_ID_TAG], False, "U8")
        assert not target.log_feedback("no-such-request", True, "U9")
    writer.close()
    return _rows(via_mlflow), _rows(direct), uri_a, uri_b


def test_traces_metrics_and_feedback_are_stored_row_for_row_as_mlflow_stores_them(tmp_path: Path) -> None:
    rng = random.Random(7)
    traces = [trace_rows(trace, Scrubber([], trace_content=True), rng) for trace in _traces()]
    reference, direct, _, _ = _write_both(tmp_path, traces)
    for table in TABLES:
        assert direct[table] == reference[table], table
    assert len(direct["spans"]) == 15 and len(direct["assessments"]) == 2 and len(direct["metrics"]) == 4


def test_mlflow_reads_directly_written_traces_with_their_previews_totals_tags_and_feedback(tmp_path: Path) -> None:
    rng = random.Random(8)
    traces = [trace_rows(trace, Scrubber([], trace_content=True), rng) for trace in _traces()]
    *_, uri = _write_both(tmp_path, traces)
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("synapse").experiment_id
    mlflow.set_tracking_uri(uri)
    request_id = traces[1].tags[mlflow_rows.REQUEST_ID_TAG]
    (found,) = mlflow.search_traces(
        locations=[experiment_id], return_type="list", filter_string=f"tags.`synapse.request_id` = '{request_id}'"
    )
    info = found.info
    assert info.state.value == "ERROR" and info.trace_metadata["mlflow.trace.user"] == "U2"
    assert info.request_preview.startswith("mention · via the model") and "why is it red?" in info.request_preview
    assert info.token_usage == {"input_tokens": 5497, "output_tokens": 271, "total_tokens": 5768}
    assert info.trace_metadata.get("mlflow.trace.session") == "17000.000002@C1"
    assert [a.value for a in info.assessments] == [False]
    names = sorted(span.name for span in found.data.spans)
    assert names == sorted(
        ["slack.mention", "dispatch", "llm.route", "tool.summarize_thread", "llm.summary", "llm.summary", "slack.reply"]
    )
    priced = next(span for span in found.data.spans if span.name == "llm.route")
    assert priced.get_attribute("mlflow.llm.cost")["total_cost"] == pytest.approx(0.000146)
    run = client.search_runs([experiment_id])[0]
    assert run.info.run_name == "synapse-metrics-host-1" and run.data.metrics["requests"] == 5.0
    assert [m.value for m in client.get_metric_history(run.info.run_id, "requests")] == [3.0, 5.0]


def test_the_names_spelled_out_for_the_direct_writer_are_mlflows_own() -> None:
    from mlflow.tracing.constant import (
        TRACE_REQUEST_ID_PREFIX,
        TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS,
        CostKey,
        SpanAttributeKey,
        TokenUsageKey,
        TraceMetadataKey,
        TraceTagKey,
    )
    from mlflow.utils.mlflow_tags import MLFLOW_ARTIFACT_LOCATION

    assert (mlflow_rows.INPUTS, mlflow_rows.OUTPUTS) == (SpanAttributeKey.INPUTS, SpanAttributeKey.OUTPUTS)
    assert (mlflow_rows.SPAN_TYPE, mlflow_rows.REQUEST_ID) == (SpanAttributeKey.SPAN_TYPE, SpanAttributeKey.REQUEST_ID)
    assert (mlflow_rows.CHAT_USAGE, mlflow_rows.LLM_COST) == (SpanAttributeKey.CHAT_USAGE, SpanAttributeKey.LLM_COST)
    assert (mlflow_rows.MODEL, mlflow_rows.SESSION_ID) == (SpanAttributeKey.MODEL, SpanAttributeKey.SESSION_ID)
    assert mlflow_rows.TAG_PREFIX == SpanAttributeKey.TRACE_TAG_PREFIX
    assert mlflow_rows.TRACE_NAME_TAG == TraceTagKey.TRACE_NAME
    assert mlflow_rows.SPANS_LOCATION_TAG == TraceTagKey.SPANS_LOCATION
    assert mlflow_rows.USER_METADATA == TraceMetadataKey.TRACE_USER
    assert mlflow_rows.ARTIFACT_LOCATION_TAG == MLFLOW_ARTIFACT_LOCATION
    assert mlflow_rows.TRACE_ID_PREFIX == TRACE_REQUEST_ID_PREFIX
    assert mlflow_rows.PREVIEW_MAX_CHARS == TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS
    assert (mlflow_rows.INPUT_TOKENS, mlflow_rows.OUTPUT_TOKENS, mlflow_rows.TOTAL_TOKENS) == (
        TokenUsageKey.INPUT_TOKENS,
        TokenUsageKey.OUTPUT_TOKENS,
        TokenUsageKey.TOTAL_TOKENS,
    )
    assert (mlflow_rows.INPUT_COST, mlflow_rows.OUTPUT_COST, mlflow_rows.TOTAL_COST) == (
        CostKey.INPUT_COST,
        CostKey.OUTPUT_COST,
        CostKey.TOTAL_COST,
    )


def test_the_installed_mlflow_creates_a_schema_the_direct_writer_knows(tmp_path: Path) -> None:
    """An MLflow upgrade that changes its schema fails here: compare the new rows (the test above), then add the
    revision to KNOWN_SCHEMAS. Until then such a store is written through MLflow."""
    import sqlite3

    db = tmp_path / "m.db"
    _new_store(db)
    (revision,) = sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision in KNOWN_SCHEMAS


def test_a_store_at_a_schema_it_does_not_know_is_not_written_directly(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "m.db"
    with pytest.raises(NotReady, match="does not exist"):
        SqliteWriter.open(db, "synapse")
    _new_store(db)
    with pytest.raises(NotReady, match="no experiment 'other'"):
        SqliteWriter.open(db, "other")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    with pytest.raises(NotReady, match="schema f00dfeedbeef"):
        SqliteWriter.open(db, "synapse")


_NO_MLFLOW = """
import sys
from synapse_bot.tracking.recorder import Feedback, MlflowRecorder
from synapse_bot.tracking.trace import RequestTrace
recorder = MlflowRecorder(sys.argv[1], "synapse", metrics_interval_s=3600, preload=True)
traces = [RequestTrace.start("mention", user=f"U{i}", channel="C1", thread="1.2") for i in range(3)]
for trace in traces:
    with trace.span("llm.route", span_type="LLM") as llm:
        llm.set(model="gpt-4o-mini", prompt_tokens=812, completion_tokens=41)
    trace.finish()
for trace in traces:
    recorder.record(trace)
recorder.flush(120)
recorder.record_feedback(Feedback(traces[0].request_id, True, "U9"))
recorder.close(120)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("mlflow", "sqlalchemy", "alembic"))
print(recorder.recorded, recorder.failed, recorder.metrics_logged, len(loaded), loaded[:3])
"""


def test_a_serving_process_records_into_the_default_store_without_loading_mlflow(tmp_path: Path) -> None:
    """MLflow and sqlalchemy would cost ~100 MB of each serving process: the store is prepared by a child process
    and written directly."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _NO_MLFLOW, uri], capture_output=True, text=True, env=subprocess_env(), timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[:4] == ["3", "0", "1", "0"], done.stdout
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("synapse").experiment_id
    stored = client.search_traces(locations=[experiment_id])
    assert len(stored) == 3
    with_feedback = [t for t in stored if t.info.assessments]
    assert [a.value for t in with_feedback for a in t.info.assessments] == [True]


def test_a_store_mlflow_must_upgrade_gets_mlflows_own_instructions_in_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    db = tmp_path / "mlflow.db"
    _new_store(db)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '75868b020152'")  # the revision before 3.17's
    recorder = MlflowRecorder(f"sqlite:///{db}", "synapse", metrics_interval_s=3600)
    trace = RequestTrace.start("mention")
    trace.finish()
    recorder.record(trace)
    recorder.flush(120)
    recorder.close()
    assert recorder.recorded == 0 and recorder.failed == 1
    assert f"back it up, then run `mlflow db upgrade sqlite:///{db}`" in caplog.text
    assert "traces are dropped for 300 s" in caplog.text  # not a child process's MLflow import every 30 s


def test_a_store_migrated_while_open_is_not_written_with_the_old_schemas_rows(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "m.db"
    _new_store(db)
    writer = SqliteWriter.open(db, "synapse")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")  # as `mlflow db upgrade` would
    rows = trace_rows(_fast_path(), Scrubber([]), random.Random(1))
    with pytest.raises(NotReady, match=r"changed from \w+ to f00dfeedbeef"):
        writer.write([rows])
    writer.close()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM trace_info").fetchone() == (0,)


@pytest.mark.parametrize("feature", ["MLFLOW_ENABLE_WORKSPACES", "MLFLOW_SQL_TRACE_ROLLUPS_ENABLED"])
def test_with_an_mlflow_feature_the_direct_writer_does_not_follow_traces_go_through_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feature: str
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")  # what MLflow asks for once workspaces are on
    for enabled, direct in (("false", True), ("true", False)):
        monkeypatch.setenv(feature, enabled)
        recorder = MlflowRecorder(uri, "synapse", metrics_interval_s=3600)
        trace = RequestTrace.start("mention")
        trace.finish()
        recorder.record(trace)
        assert recorder.flush(120)
        assert (recorder.recorded, recorder.writes_directly) == (1, direct)
        recorder.close()


def test_a_store_a_newer_mlflow_made_is_reported_as_newer_not_as_one_to_upgrade(tmp_path: Path) -> None:
    import sqlite3

    from synapse_bot.tracking.prepare_store import PrepareFailed

    db = tmp_path / "mlflow.db"
    _new_store(db)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")  # no migration of ours has it
    with pytest.raises(PrepareFailed, match=r"schema \(f00dfeedbeef\) is newer than this MLflow's") as refused:
        prepare(f"sqlite:///{db}", "synapse")
    assert "mlflow db upgrade" not in str(refused.value)
