"""MLflow tracking: what the store holds after real requests, `stats`, privacy, and never being in the way."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mlflow
import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.tracking.recorder import MlflowRecorder
from synapse_bot.tracking.trace import RequestTrace
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings, make_settings, subprocess_env
from tests.support.waits import settled, wait_until

pytestmark = pytest.mark.e2e

SUMMARY = {"tldr": "short", "key_points": [], "decisions": [], "action_items": [], "open_questions": []}
SECRET_PHRASE = "zebra-quartz-launch-plan"


def _run_sequence(slack: SlackSandbox, runtime: Runtime, model: OpenAIServer, workspace: dict[str, str]) -> None:
    assert slack.wait_connected(1)
    ts = slack.mention(workspace["alice"], workspace["general"], "help")  # the fast path: no feedback buttons
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    model.script(Reply.text("I summarize threads and triage issues."))
    ts = slack.mention(workspace["alice"], workspace["general"], "what are you good at?")  # the model answers
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    root = slack.post_message(workspace["bob"], workspace["general"], f"the {SECRET_PHRASE} is on")
    model.script(Reply.json_content(SUMMARY))
    slack.message_shortcut(workspace["alice"], workspace["general"], root)
    slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    slack.message_shortcut(workspace["bob"], workspace["general"], root)  # cached: no model call
    slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=2)
    assert isinstance(runtime.sink, MlflowRecorder) and runtime.sink.flush(60)


def test_traces_metrics_stats_and_privacy(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer() as model:
        settings = make_model_settings(
            slack,
            redis_server,
            tmp_path,
            model,
            SYNAPSE_TRACKING_ENABLED=True,
            GITHUB_TOKEN="ghp_secrettoken12345678",
            SYNAPSE_METRICS_INTERVAL_SECONDS=1,
        )
        runtime = Runtime(settings).start()
        try:
            _run_sequence(slack, runtime, model, workspace)
            fast = next(m for m in slack.all_bot_messages() if "summarize_thread" in m["text"])
            assert not any(b["type"] == "context_actions" for b in fast["blocks"])
            answer = next(m for m in slack.all_bot_messages() if m["text"].startswith("I summarize threads"))
            slack.click_feedback(workspace["alice"], workspace["general"], answer["ts"], positive=True)
            sink = runtime.sink
            assert isinstance(sink, MlflowRecorder)
            wait_until(lambda: slack.ephemerals, 30, "the feedback's ephemeral note")
            assert sink.flush(60)
            assert "feedback is recorded" in slack.ephemerals[-1]["text"]
        finally:
            runtime.stop()
        usage = [(r["messages"], r) for r in model.requests]
    assert len(usage) == 2
    mlflow.set_tracking_uri(settings.tracking_uri)
    _check_feedback_and_metrics(settings.tracking_uri, workspace)
    experiment = mlflow.get_experiment_by_name("synapse")
    assert experiment is not None
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert len(traces) == 5
    full = [mlflow.get_trace(t.info.trace_id) for t in traces]
    rated = [t for t in full if t is not None and t.info.assessments]
    assert len(rated) == 1 and rated[0].data.spans[0].attributes["kind"] == "mention"
    [feedback] = rated[0].info.assessments
    assert (feedback.name, feedback.value, feedback.source.source_id) == ("user_feedback", True, workspace["alice"])
    spans_by_trace = [{s.name: s for s in t.data.spans} for t in traces]
    summaries = [s for s in spans_by_trace if "tool.summarize_thread" in s]
    assert len(summaries) == 2
    fresh = next(s for s in summaries if "llm.summary" in s)
    cached = next(s for s in summaries if "llm.summary" not in s)
    llm = fresh["llm.summary"]
    assert llm.parent_id == fresh["tool.summarize_thread"].span_id  # the model call nests in its tool
    assert llm.attributes["model"] == "gpt-4o-mini" and llm.attributes["prompt_tokens"] > 0
    assert llm.attributes["cost_usd"] > 0
    assert fresh["tool.summarize_thread"].attributes["result.cache_hit"] is False
    assert cached["tool.summarize_thread"].attributes["result.cache_hit"] is True
    root = fresh["slack.shortcut"]
    assert root.attributes["status"] == "ok" and root.attributes["cost_usd"] == llm.attributes["cost_usd"]
    assert root.attributes["prompt_tokens"] == llm.attributes["prompt_tokens"]

    _check_the_trace_list_tells_the_story(settings.tracking_uri, experiment.experiment_id, workspace)

    # `synapse-bot stats` reads the same figures back.
    env = subprocess_env(MLFLOW_TRACKING_URI=settings.tracking_uri)
    out = subprocess.run(
        [sys.executable, "-m", "synapse_bot", "stats"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "requests 5 · errors 0" in out.stdout
    assert "by kind: action 1, mention 2, shortcut 2" in out.stdout
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[4:] if line.strip()}
    assert rows["help"][1] == "1" and rows["summarize_thread"][1] == "2"
    total_tokens = llm.attributes["prompt_tokens"] + llm.attributes["completion_tokens"]
    assert rows["summarize_thread"][5] == f"{total_tokens:,}"

    # Nothing secret, and no message text, anywhere in the store.
    store = (tmp_path / "mlflow.db").read_bytes()
    for secret in settings.secrets():
        assert secret.encode() not in store
    assert SECRET_PHRASE.encode() not in store


def test_an_unreachable_tracking_store_changes_nothing_for_people(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], caplog: Any
) -> None:
    settings = make_settings(
        slack, redis_server, tmp_path, SYNAPSE_TRACKING_ENABLED=True, MLFLOW_TRACKING_URI="http://127.0.0.1:9"
    )
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        latencies = []
        for _ in range(3):
            started = time.monotonic()
            ts = slack.mention(workspace["alice"], workspace["general"], "help")
            slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=10)
            latencies.append(time.monotonic() - started)
        sink = runtime.sink
        assert isinstance(sink, MlflowRecorder)
        wait_until(lambda: sink.failed + sink.dropped >= 3, 60, "three traces failed or dropped")
        assert sink.recorded == 0 and sink.failed == 1 and sink.dropped == 2  # tried once, then paused
    finally:
        runtime.stop()
    assert max(latencies) < 3.0  # replies do not wait for tracking
    warnings = [r for r in caplog.records if "could not record a trace" in r.getMessage()]
    assert len(warnings) <= 1  # at most one warning a minute


def _check_the_trace_list_tells_the_story(tracking_uri: str, experiment_id: str, workspace: dict[str, str]) -> None:
    """What MLflow's trace list shows per row: previews, user, session (thread), token usage."""
    from mlflow import MlflowClient
    from mlflow.tracing.constant import SpanAttributeKey, TraceMetadataKey

    client = MlflowClient(tracking_uri)
    infos = {t.info.trace_id: t for t in client.search_traces(locations=[experiment_id], max_results=50)}
    assert len(infos) == 5
    for trace in infos.values():
        assert trace.info.request_preview and trace.info.response_preview
        assert SECRET_PHRASE not in trace.info.request_preview + trace.info.response_preview
    by_kind = {}
    for trace in infos.values():
        by_kind.setdefault(trace.info.request_preview.split(" · ")[0], []).append(trace)
    assert sorted((k, len(v)) for k, v in by_kind.items()) == [("action", 1), ("mention", 2), ("shortcut", 2)]
    previews = sorted(m.info.request_preview for m in by_kind["mention"])
    assert previews == ["mention · fast path · tools: help", "mention · via the model"]
    for mention in by_kind["mention"]:
        assert mention.info.trace_metadata[TraceMetadataKey.TRACE_USER] == workspace["alice"]
        assert mention.info.trace_metadata[TraceMetadataKey.TRACE_SESSION].endswith("@" + workspace["general"])
        if "fast path" in mention.info.request_preview:
            assert mention.info.response_preview == "ok" and mention.info.token_usage is None  # no model call
        else:
            assert "1 model call" in mention.info.response_preview and mention.info.token_usage
    fresh = next(t for t in by_kind["shortcut"] if "model call" in t.info.response_preview)
    cached = next(t for t in by_kind["shortcut"] if t is not fresh)
    assert fresh.info.request_preview == "shortcut · fast path · tools: summarize_thread"
    assert fresh.info.response_preview.startswith("ok · 1 model call, ")
    assert {
        fresh.info.trace_metadata[TraceMetadataKey.TRACE_USER],
        cached.info.trace_metadata[TraceMetadataKey.TRACE_USER],
    } == {
        workspace["alice"],
        workspace["bob"],
    }
    assert (
        fresh.info.trace_metadata[TraceMetadataKey.TRACE_SESSION]
        == cached.info.trace_metadata[TraceMetadataKey.TRACE_SESSION]
    )  # the same thread: one session
    llm = next(s for s in fresh.data.spans if s.name == "llm.summary")
    usage = llm.attributes[SpanAttributeKey.CHAT_USAGE]
    assert usage["input_tokens"] == llm.attributes["prompt_tokens"] > 0
    assert usage["total_tokens"] == llm.attributes["prompt_tokens"] + llm.attributes["completion_tokens"]
    assert llm.attributes[SpanAttributeKey.MODEL] == "gpt-4o-mini"
    assert fresh.info.token_usage == usage  # the trace's token columns, from its model calls
    cost = llm.attributes[SpanAttributeKey.LLM_COST]  # MLflow's cost columns, from the price table
    assert cost["input_cost"] > 0 and cost["output_cost"] > 0
    assert cost["total_cost"] == pytest.approx(llm.attributes["cost_usd"])
    assert json.loads(fresh.info.trace_metadata[TraceMetadataKey.COST])["total_cost"] == pytest.approx(
        cost["total_cost"]
    )


def _check_feedback_and_metrics(tracking_uri: str, workspace: dict[str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("synapse")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id], filter_string="attributes.run_name LIKE 'synapse-metrics-%'")
    metrics = run.data.metrics
    history = client.get_metric_history(run.info.run_id, "requests")
    assert sum(m.value for m in history) == 5  # every request (4 asks, 1 click) counted once across the intervals
    assert "tool.help.calls" in metrics and "latency_p95_ms" in metrics
    cache = client.get_metric_history(run.info.run_id, "cache_hit_rate")
    assert cache and all(0 <= m.value <= 1 for m in cache)
    tokens = client.get_metric_history(run.info.run_id, "tool.summarize_thread.tokens")
    assert sum(m.value for m in tokens) > 0


def test_admins_see_the_days_figures_on_the_home_tab(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    settings = make_settings(
        slack, redis_server, tmp_path, SYNAPSE_TRACKING_ENABLED=True, SYNAPSE_ADMINS=workspace["alice"]
    )
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        ts = slack.mention(workspace["bob"], workspace["general"], "help")
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        sink = runtime.sink
        assert isinstance(sink, MlflowRecorder)
        # the request's facts are kept just after its trace is queued, and the reply goes out before either
        wait_until(lambda: sink.recorded >= 1, 60, "the request's trace written")
        for user in ("alice", "bob"):  # one after the other: a home tab opened is itself a request of the day
            slack.open_home(workspace[user])
            wait_until(lambda user=user: workspace[user] in slack.home_views, 60, f"{user}'s home view")
    finally:
        runtime.stop()
    admin_view = str(slack.home_views[workspace["alice"]]["blocks"])
    assert "Last 24 hours (admins)" in admin_view and "requests 1 · errors 0" in admin_view and "help" in admin_view
    assert "Last 24 hours" not in str(slack.home_views[workspace["bob"]]["blocks"])


def test_retries_and_rate_limit_waits_are_recorded_on_the_spans_that_paid_them(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    from synapse_sandbox.github_server import GitHubServer

    with GitHubServer() as github:
        github.add_repo("acme/widgets", labels=["bug"])
        github.add_issue("acme/widgets", "Crash on start", "it crashes")
        settings = make_settings(
            slack,
            redis_server,
            tmp_path,
            SYNAPSE_TRACKING_ENABLED=True,
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
        )
        runtime = Runtime(settings).start()
        try:
            assert slack.wait_connected(1)
            slack.rate_limit("chat.postMessage", times=1, retry_after=1)
            github.fail_next(502, times=1)
            ts = slack.mention(workspace["alice"], workspace["general"], "triage acme/widgets")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
            assert "Crash on start" in reply["text"]
            settled(slack, runtime)
            assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1  # posted once
            assert isinstance(runtime.sink, MlflowRecorder) and runtime.sink.flush(60)
        finally:
            runtime.stop()
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name("synapse")
    assert experiment is not None
    [trace] = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    spans = {s.name: s for s in trace.data.spans}
    assert spans["slack.reply"].attributes["slack_retries"] == 1
    assert spans["slack.reply"].attributes["slack_wait_s"] >= 1.0
    assert spans["tool.triage_issues"].attributes["github_retries"] >= 1
    assert spans["tool.triage_issues"].attributes["github_operation_calls"] >= 1
    assert spans["slack.reply"].attributes["slack_calls"] == 1  # one call, retried once by the handler


@pytest.mark.parametrize("content", [False, True])
def test_message_text_reaches_the_previews_only_with_content_tracing(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], content: bool
) -> None:
    secret = "ghp_contenttoken12345678"
    settings = make_settings(
        slack,
        redis_server,
        tmp_path,
        SYNAPSE_TRACKING_ENABLED=True,
        SYNAPSE_TRACE_CONTENT=content,
        GITHUB_TOKEN=secret,
    )
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        ts = slack.mention(workspace["alice"], workspace["general"], f"what is the {SECRET_PHRASE}? token {secret}")
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        assert isinstance(runtime.sink, MlflowRecorder) and runtime.sink.flush(60)
    finally:
        runtime.stop()
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("synapse")
    assert experiment is not None
    [trace] = client.search_traces(locations=[experiment.experiment_id])
    preview = trace.info.request_preview
    assert preview.startswith("mention · offline")
    assert (SECRET_PHRASE in preview) is content
    store = (tmp_path / "mlflow.db").read_bytes()
    assert (SECRET_PHRASE.encode() in store) is content
    assert secret.encode() not in store  # never, content or not


def test_a_burst_of_traces_is_written_whole(tmp_path: Path) -> None:
    """Every trace of a burst reaches the store (the recorder batches rather than dropping)."""
    from mlflow import MlflowClient
    from mlflow.tracing.constant import TraceMetadataKey

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    recorder = MlflowRecorder(uri, "synapse", queue_size=1000, metrics_interval_s=3600)
    traces = []
    for i in range(400):
        trace = RequestTrace.start("mention", channel="C1", user=f"U{i % 7}", thread=f"17.{i}")
        with trace.span("llm.route", span_type="LLM") as llm:
            llm.set(model="gpt-4o-mini", prompt_tokens=100 + i, completion_tokens=5)
            if i == 0:  # priced: MLflow's cost columns; the others are a model with no price
                llm.set(input_cost_usd=0.25, output_cost_usd=0.5)
        trace.finish()
        traces.append(trace)
    for trace in traces:
        recorder.record(trace)
    assert recorder.flush(300)
    recorder.close()
    assert (recorder.recorded, recorder.dropped, recorder.failed) == (400, 0, 0)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("synapse")
    assert experiment is not None
    stored = client.search_traces(locations=[experiment.experiment_id], max_results=1000)
    assert len(stored) == 400
    assert sorted(t.info.token_usage["input_tokens"] for t in stored) == list(range(100, 500))
    costs = [
        json.loads(t.info.trace_metadata[TraceMetadataKey.COST])
        for t in stored
        if TraceMetadataKey.COST in t.info.trace_metadata
    ]
    assert costs == [{"input_cost": 0.25, "output_cost": 0.5, "total_cost": 0.75}]
    assert {t.info.tags["synapse.request_id"] for t in stored} == {t.request_id for t in traces}


RECORD_TRACES = """
import sys, time
from synapse_bot.tracking.recorder import MlflowRecorder
from synapse_bot.tracking.trace import RequestTrace
recorder = MlflowRecorder(sys.argv[1], "synapse", metrics_interval_s=3600, batch_window_s=0.005)
for i in range(int(sys.argv[2])):
    trace = RequestTrace.start("mention")
    trace.finish()
    recorder.record(trace)
    if i % 10 == 9:
        time.sleep(0.002)  # many small batches: the processes take turns at the file's write lock
recorder.flush(120)
recorder.close()
print(recorder.recorded, recorder.failed)
"""


def test_processes_starting_together_on_a_new_sqlite_store_all_write(tmp_path: Path) -> None:
    """MLflow prepares a new store in whichever process opens it first; without a lock, the others failed. Then they
    all write into the one file at once, batch after batch, and lose nothing."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_TRACES, uri, "300"], env=subprocess_env(), stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=300)[0].strip() for process in processes]
    assert outputs == ["300 0", "300 0", "300 0"]
    experiment = MlflowClient(uri).get_experiment_by_name("synapse")
    assert experiment is not None
    stored = MlflowClient(uri).search_traces(locations=[experiment.experiment_id], max_results=1000)
    assert len(stored) == 900


def test_mlflow_and_its_store_are_kept_out_of_the_garbage_collectors_walks(tmp_path: Path) -> None:
    """MLflow loads on the recorder thread after start-up froze the rest: a full collection walking its objects held
    the GIL ~46 ms, a stall for every acknowledgement waiting behind it."""
    import gc

    recorder = MlflowRecorder(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "synapse", metrics_interval_s=3600, preload=True, direct=False
    )
    trace = RequestTrace.start("mention")
    trace.finish()
    recorder.record(trace)
    assert recorder.flush(120)
    recorder.close()
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    walked = {id(o) for o in gc.get_objects()}
    assert id(mlflow.set_experiment) not in walked and id(SqlAlchemyStore.log_spans) not in walked
