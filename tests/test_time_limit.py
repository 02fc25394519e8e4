"""SYNAPSE_JOB_TIME_LIMIT_SECONDS against a model server that hangs: the real bot, the stand-ins over the wire.

Dramatiq's time limit cannot interrupt a blocking HTTP read, so these show the job's own deadline at work: the
person is told within the limit, not when the model would have answered, and no model call starts after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.jobs.answer import kept_after_cut
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings
from tests.support.waits import settled

pytestmark = pytest.mark.e2e

LIMIT_S = 10  # the shortest SYNAPSE_JOB_TIME_LIMIT_SECONDS allowed
HANG_S = 60.0  # when the model would answer
NOTICE = f"took longer than Synapse's limit of {LIMIT_S} s, so I stopped"


class HangingModel:
    """The stand-in's responder: every call waits HANG_S before answering; when each call arrived is kept."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.arrivals.append(time.monotonic())
        return Reply.hang(HANG_S)


@pytest.fixture
def slow_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, model: OpenAIServer
) -> Iterator[Runtime]:
    """The bot on a slow local model's settings (a 300 s call timeout, retries) with the shortest time limit."""
    settings = make_model_settings(
        slack,
        redis_server,
        tmp_path,
        model,
        SYNAPSE_JOB_TIME_LIMIT_SECONDS=LIMIT_S,
        SYNAPSE_OPENAI_TIMEOUT_SECONDS=300,
        SYNAPSE_OPENAI_MAX_RETRIES=2,
        SYNAPSE_SUMMARY_CALL_TOKENS=4_000,  # a long thread is many parts…
        SYNAPSE_SUMMARY_PARALLEL_CALLS=2,  # …of which two are summarised at a time
    )
    runtime = Runtime(settings).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


def _asked_in_thread(
    slack: SlackSandbox, workspace: dict[str, str], root: str, text: str, **wait: Any
) -> tuple[dict[str, Any], float]:
    """Alice asks Synapse in the thread of #general's `root`: its first reply (matching `wait`), and when she asked."""
    asked = time.monotonic()
    slack.mention(workspace["alice"], workspace["general"], text, thread_ts=root)
    return slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=LIMIT_S + 10, **wait), asked


def test_a_question_to_a_hanging_model_gets_the_time_limit_notice_within_the_limit(
    slow_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    hanging = HangingModel()
    model.set_responder(hanging)
    channel = workspace["general"]
    root = slack.post_message(workspace["bob"], channel, "the release is blocked on the flaky auth test")
    reply, asked = _asked_in_thread(slack, workspace, root, "what should we do about it?")
    answered_after = time.monotonic() - asked
    assert answered_after < LIMIT_S + 1, answered_after  # not at 60 s, when the model would have answered
    assert NOTICE in reply["text"] and "SYNAPSE_JOB_TIME_LIMIT_SECONDS" in reply["text"]
    assert "Explicit commands still work" not in reply["text"]  # the model did not fail: the request's time ran out
    settled(slack, slow_bot)
    assert len(hanging.arrivals) == 1  # the one call, not retried into the next 300 s
    assert len(slack.bot_messages(channel, thread_ts=root)) == 1


def test_a_long_summary_on_a_hanging_model_starts_no_part_after_the_limit(
    slow_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    hanging = HangingModel()
    model.set_responder(hanging)
    channel = workspace["general"]
    texts = [f"update {i}: the deploy pipeline flaked again on the integration stage, retrying" * 2 for i in range(200)]
    root = slack.seed_thread(channel, workspace["bob"], texts)
    reply, asked = _asked_in_thread(slack, workspace, root, "summarize this thread")
    assert time.monotonic() - asked < LIMIT_S + 1
    assert NOTICE in reply["text"]
    settled(slack, slow_bot)
    # Two parts were being summarised when the limit came; the others, queued behind them, never started.
    assert len(hanging.arrivals) == 2, len(hanging.arrivals)
    assert max(hanging.arrivals) - asked < LIMIT_S
    assert len(slack.bot_messages(channel, thread_ts=root)) == 1


def test_an_answer_cut_by_the_limit_while_streaming_keeps_what_was_shown_and_says_why(
    slow_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    answer = "The flaky auth test is the token refresh race again. " + "Disable the cache warmup for now. " * 20
    model.set_responder(lambda body: Reply.slowly(answer, piece_delay_s=0.5))  # ~45 s to write it all
    channel = workspace["general"]
    root = slack.post_message(workspace["bob"], channel, "the release is blocked on the flaky auth test")
    reply, asked = _asked_in_thread(
        slack, workspace, root, "what should we do about it?", predicate=lambda m: NOTICE in m.get("text", "")
    )
    assert time.monotonic() - asked < LIMIT_S + 2
    settled(slack, slow_bot)
    [message] = slack.bot_messages(channel, thread_ts=root)  # the streamed message itself, not a second one
    assert message["text"] == reply["text"]
    assert reply["text"].startswith("The flaky auth test is the token refresh race")  # what people already read
    assert "(cut short)" in reply["text"] and NOTICE in reply["text"]


def test_kept_after_cut_keeps_the_shown_text_and_adds_the_failure() -> None:
    assert kept_after_cut("", "Sorry — stopped.") == "Sorry — stopped."
    assert kept_after_cut("Partial answ", "Sorry — stopped.") == "Partial answ …\n\n_(cut short)_ Sorry — stopped."
    assert kept_after_cut("Found", "Found 3 issues. I stopped there.") == "Found 3 issues. I stopped there."
