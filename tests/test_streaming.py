"""Model-written answers stream into the thread while the model writes them (chat.startStream / appendStream /
stopStream), fall back to post-and-edit where streaming is refused, and are never doubled when the worker writing
them dies mid-stream."""

from __future__ import annotations

import time

import pytest

from synapse_bot.context.stream_text import StreamText
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import cluster_env
from tests.support.rig import Rig, launch, model_env, replies
from tests.support.waits import processes_settled

pytestmark = pytest.mark.e2e

ANSWER = (
    "The deploy failed because the migration locked the orders table for four minutes. "
    "Run migrations in the maintenance window next time, and keep an eye on the lock timeout."
)


def test_a_model_answer_streams_into_the_thread_and_ends_as_the_final_answer(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.slowly(ANSWER, piece_delay_s=0.05))
    ts = slack.mention(workspace["alice"], workspace["general"], "why did the deploy fail?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    steps = [step for step, stream_ts, _, _ in slack.stream_log if stream_ts == reply["ts"]]
    assert steps[0] == "start" and steps[-1] == "stop" and "append" in steps
    streamed = "".join(text for _, stream_ts, text, _ in slack.stream_log if stream_ts == reply["ts"])
    assert reply["text"] == streamed == ANSWER  # what was streamed is the answer, nothing repeated
    assert [m["ts"] for m in slack.bot_messages(workspace["general"], thread_ts=ts)] == [reply["ts"]]
    assert reply["metadata"]["event_payload"]["request"]  # the reply marker, as for posted answers
    assert model.requests[-1].get("stream") is True


def test_streamed_text_is_made_safe_piece_by_piece(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    risky = "Heads up <!channel> and <!here>: the token sk-live-abcdefghijklmnop leaked in the logs, rotate it now."
    model.script(Reply.slowly(risky, piece_delay_s=0.02))
    ts = slack.mention(workspace["alice"], workspace["general"], "anything I should know?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    pieces = [text for _, stream_ts, text, _ in slack.stream_log if stream_ts == reply["ts"]]
    assert len(pieces) >= 2
    for shown in ("".join(pieces[:n]) for n in range(1, len(pieces) + 1)):
        assert "<!channel" not in shown and "<!here" not in shown and "sk-live" not in shown


def test_where_streaming_is_refused_the_answer_is_posted_then_edited(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    slack.fail("chat.startStream", "not_allowed_token_type")
    model.script(Reply.slowly(ANSWER, piece_delay_s=0.05))
    ts = slack.mention(workspace["alice"], workspace["general"], "why did the deploy fail?")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not slack.calls("chat.update"):
        time.sleep(0.02)
    reply = slack.wait_for_bot_message(
        workspace["general"], thread_ts=ts, timeout=30, predicate=lambda m: m["text"] == ANSWER
    )
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    assert slack.calls("chat.postMessage") and slack.calls("chat.update")
    assert reply["metadata"]["event_payload"]["request"]


def test_explicit_commands_are_posted_whole(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert slack.stream_log == [] and model.request_count == 0


@pytest.mark.faults
@pytest.mark.timeout(300)
def test_a_worker_killed_mid_stream_leaves_one_answer_marked_as_cut(rig: Rig, tcp_redis: EmbeddedRedis) -> None:
    slack, workspace, tmp_path, model, processes = rig.slack, rig.workspace, rig.tmp_path, rig.model, rig.processes
    long_answer = " ".join(f"Step {i}: check the lock timeout and the pool size." for i in range(40))
    model.set_responder(lambda body: Reply.slowly(long_answer, piece_delay_s=0.1))
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data", **model_env(model, SYNAPSE_QUEUE_HEARTBEAT_SECONDS="3"))
    launch(processes, "gateway", env, tmp_path).wait_healthy()
    worker = launch(processes, "worker", env, tmp_path)
    worker.wait_healthy()
    channel = workspace["general"]
    ts = slack.mention(workspace["alice"], channel, "walk me through the fix")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(step == "append" for step, *_ in slack.stream_log):
        time.sleep(0.05)
    worker.kill()  # mid-stream: the message exists, half written
    launch(processes, "worker", env, tmp_path)
    slack.wait_for_bot_message(channel, thread_ts=ts, timeout=60, predicate=lambda m: "cut short" in m["text"])
    processes_settled(slack, [p for p in processes if p is not worker])  # a duplicate answer would be posted by now
    answers = replies(slack, channel, ts)
    assert len(answers) == 1, [a["text"][:80] for a in answers]
    assert answers[0]["text"].startswith("Step 0") and "cut short when Synapse restarted" in answers[0]["text"]


def test_citations_are_links_while_streaming_not_only_at_the_end(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "The pool cap is 10 since the migration")
    slack.post_message(workspace["alice"], workspace["general"], "ack", thread_ts=root)
    model.script(Reply.slowly("The pool is capped at 10 since the migration [m1], as bob noted.", piece_delay_s=0.05))
    slack.mention(workspace["alice"], workspace["general"], "what is the pool cap?", thread_ts=root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=30)
    streamed = "".join(text for _, stream_ts, text, _ in slack.stream_log if stream_ts == reply["ts"])
    assert "([msg 1](https://" in streamed and "[m1]" not in streamed
    assert reply["text"] == streamed  # the stream was the answer: no replacement at the end
    assert not slack.calls("chat.update")


def test_a_tool_call_after_a_sentence_is_never_streamed() -> None:
    gate = StreamText()
    shown = [gate.feed(d) for d in ["I will call a tool for that.\n", "```json\n", '{"name": "help", "arguments": {}}']]
    shown.append(gate.end_round())
    assert "".join(shown) == "I will call a tool for that."
