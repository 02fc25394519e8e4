"""The job deadline: a model call's limits (pure arithmetic), the real client against a hanging server, and the
deadline inside a request (the model loop, the map step) in process."""

from __future__ import annotations

import threading
import time

import pytest

from synapse_bot.config import Settings
from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.llm.client import DeadlineReached, LlmClient, TokenBudget
from synapse_bot.llm.deadline import MARGIN_S, CallLimits, Deadline, call_limits
from synapse_bot.request import SlackRequest
from synapse_bot.tools import help as help_tool
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace
from synapse_sandbox.openai_server import OpenAIServer, Reply
from tests.support.requests import mention
from tests.support.scripted_model import ScriptedModel, called, said
from tests.support.toy_tool import ROLL_TOOL


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_call_far_from_the_deadline_keeps_the_configured_timeout_and_retries() -> None:
    assert call_limits(590.0, timeout_s=60.0, max_retries=2) == CallLimits(60.0, 2)


def test_a_call_near_the_deadline_waits_only_until_the_margin_and_is_not_retried() -> None:
    # SYNAPSE_OPENAI_TIMEOUT_SECONDS=300 with 10 s left: wait 8 s (10 less the 2 s margin), once.
    assert call_limits(10.0, timeout_s=300.0, max_retries=2) == CallLimits(10.0 - MARGIN_S, 0)


def test_retries_are_kept_only_as_far_as_whole_attempts_and_their_pauses_fit() -> None:
    # 148 s usable: two 60 s attempts with the 8 s pause between them fit, a third does not.
    assert call_limits(150.0, timeout_s=60.0, max_retries=2) == CallLimits(60.0, 1)
    assert call_limits(2.0 + 3 * 60.0 + 2 * 8.0, timeout_s=60.0, max_retries=2) == CallLimits(60.0, 2)
    assert call_limits(2.0 + 3 * 60.0 + 2 * 8.0, timeout_s=60.0, max_retries=5) == CallLimits(60.0, 2)


def test_no_call_starts_when_less_than_a_second_is_left_before_the_margin() -> None:
    assert call_limits(MARGIN_S + 0.99, timeout_s=60.0, max_retries=2) is None
    assert call_limits(0.0, timeout_s=60.0, max_retries=2) is None
    assert call_limits(-5.0, timeout_s=60.0, max_retries=2) is None  # already past it
    assert call_limits(MARGIN_S + 1.0, timeout_s=60.0, max_retries=2) == CallLimits(1.0, 0)


def test_a_deadline_counts_from_when_the_job_started_on_its_clock() -> None:
    clock = FakeClock()
    deadline = Deadline.starting_now(10.0, clock=clock)
    assert deadline.remaining() == 10.0 and deadline.can_start_call() and not deadline.past_margin()
    clock.now += 7.5
    assert deadline.elapsed() == 7.5 and deadline.remaining() == 2.5
    assert not deadline.can_start_call() and not deadline.past_margin()  # too late to start, not yet to stop
    assert deadline.limits(timeout_s=300.0, max_retries=2) is None
    clock.now += 1.0
    assert deadline.past_margin()


def test_a_deadline_without_a_notice_still_says_what_stopped_and_after_how_long() -> None:
    assert "time limit of 10 s" in Deadline.starting_now(10.0).notice
    assert Deadline.starting_now(10.0, notice="Out of time.").notice == "Out of time."


# The real client over a real socket ---------------------------------------------------------------------------


def _client(model: OpenAIServer) -> LlmClient:
    """What a slow local server is configured with: a long per-call timeout and retries. Its token counter is loaded
    here, so that the deadlines below are spent waiting on the server, not on reading an encoding."""
    client = LlmClient(
        api_key=model.api_key, base_url=model.base_url, model="gpt-4o-mini", timeout_s=300, max_retries=2
    )
    client.counter.count_messages([{"role": "user", "content": "hello"}])
    return client


def _ask(client: LlmClient, deadline: Deadline, *, stream: bool = False) -> None:
    pieces: list[str] = []
    client.chat(
        [{"role": "user", "content": "hello"}],
        budget=TokenBudget(100_000),
        purpose="test",
        deadline=deadline,
        on_text=pieces.append if stream else None,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_to_a_hanging_server_gives_up_at_the_deadline_less_the_margin_without_retrying(stream: bool) -> None:
    with OpenAIServer() as model:
        model.set_responder(lambda body: Reply.hang(60.0))
        client = _client(model)
        deadline = Deadline.starting_now(5.0, notice="Out of time.")
        with pytest.raises(DeadlineReached) as caught:
            _ask(client, deadline, stream=stream)
        took = deadline.elapsed()
        assert 5.0 - MARGIN_S - 0.5 < took < 5.0 - MARGIN_S + 1.0, took  # not the 300 s timeout, nor 3 × 3 s
        assert caught.value.user_message == "Out of time." and caught.value.kind == "deadline"
        assert model.request_count == 1


def test_a_streamed_answer_written_slowly_is_cut_at_the_deadline_less_the_margin() -> None:
    with OpenAIServer() as model:
        model.script(Reply.slowly("word " * 400, piece_delay_s=0.2))  # 125 pieces: 25 s of writing
        client = _client(model)
        deadline = Deadline.starting_now(5.0)
        with pytest.raises(DeadlineReached):
            _ask(client, deadline, stream=True)
        assert deadline.elapsed() < 5.0 - MARGIN_S + 1.0


def test_a_call_that_would_start_after_the_deadline_fails_at_once_and_reaches_no_server() -> None:
    with OpenAIServer() as model:
        clock = FakeClock()
        deadline = Deadline.starting_now(10.0, notice="Out of time.", clock=clock)
        clock.now += 10.0 - MARGIN_S - 0.5  # half a second of usable time left: not worth a call
        client = _client(model)
        started = time.monotonic()
        with pytest.raises(DeadlineReached, match=r"Out of time\."):
            _ask(client, deadline)
        assert time.monotonic() - started < 0.5
        assert model.request_count == 0


# The deadline inside a request, in process ----------------------------------------------------------------------


def _ask_in_thread(text: str) -> SlackRequest:
    return mention(text, thread_ts="1.000001", message_ts="1.000002")


def _dispatcher(model: ScriptedModel) -> Dispatcher:
    settings = Settings(_env_file=None, OPENAI_API_KEY="sk-test")  # type: ignore[call-arg]
    return Dispatcher(ToolRegistry([ROLL_TOOL, help_tool.TOOL]), settings, llm=model)


def test_a_model_call_stopped_by_the_deadline_answers_with_the_time_limit_notice_alone() -> None:
    deadline = Deadline.starting_now(10.0, notice="Sorry — that took longer than Synapse's limit.")
    model = ScriptedModel([DeadlineReached(deadline)])
    outcome = _dispatcher(model).dispatch(_ask_in_thread("what now?"), RequestTrace.start("mention"), None, deadline)
    assert outcome.text == "Sorry — that took longer than Synapse's limit."  # no "explicit commands still work"


def test_a_deadline_after_a_tool_ran_answers_with_what_the_tool_found_and_says_it_stopped() -> None:
    deadline = Deadline.starting_now(10.0)
    model = ScriptedModel([called(("roll_dice", {"sides": 20})), DeadlineReached(deadline)])
    outcome = _dispatcher(model).dispatch(
        _ask_in_thread("roll me something"), RequestTrace.start("mention"), None, deadline
    )
    assert "Rolled a d20" in outcome.text and "stopped before finishing because it was taking too long" in outcome.text


def test_no_model_round_starts_once_most_of_the_job_time_is_gone() -> None:
    clock = FakeClock()
    deadline = Deadline.starting_now(100.0, clock=clock)
    clock.now += 81.0  # past the loop's share (80%) of the time limit, counted from the job's start
    model = ScriptedModel([said("too late")])
    outcome = _dispatcher(model).dispatch(_ask_in_thread("what now?"), RequestTrace.start("mention"), None, deadline)
    assert model.requests == [] and "it was taking too long" in outcome.text


def test_the_map_step_starts_no_part_once_the_deadline_leaves_no_time_for_a_call() -> None:
    clock = FakeClock()
    deadline = Deadline.starting_now(10.0, notice="Out of time.", clock=clock)
    settings = Settings(_env_file=None, SYNAPSE_SUMMARY_PARALLEL_CALLS=2)  # type: ignore[call-arg]
    context = ToolContext(
        request=_ask_in_thread("summarize"),
        settings=settings,
        registry=ToolRegistry([]),
        trace=RequestTrace.start("mention"),
        budget=TokenBudget(1_000),
        deadline=deadline,
    )
    started: list[int] = []
    both_running = threading.Barrier(2, timeout=5)

    def part(i: int) -> int:
        started.append(i)
        both_running.wait()  # the first two parts run side by side…
        clock.now += 9.0  # …until the deadline is all but reached
        return i

    with pytest.raises(DeadlineReached, match=r"Out of time\."):
        context.side_by_side(part, range(6))
    assert sorted(started) == [0, 1]  # the four parts queued behind them never ran
