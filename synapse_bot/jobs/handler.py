"""The job body: one Slack request in, the handler of its kind run inside one trace, the trace recorded.

Kinds: questions (mention — also a DM, a follow-up, an agent-view message —, command, shortcut) and work a
subscription asks for (triage or review of what just arrived from GitHub) → `AnswerJob`;
button clicks → `ActionJob`; the Home tab → `HomePublisher`; a new agent-view thread → `AssistantThreadJob`;
channel messages → keyword alerts (too many to trace one by one). A rerun of a job whose answer is already in Slack
(a redelivered queue message) does nothing. (The reply path remembers the threads Synapse answers in, for follow-ups.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from synapse_bot.jobs.actions import ActionJob
from synapse_bot.jobs.alerts import KeywordAlerter
from synapse_bot.jobs.answer import AnswerJob
from synapse_bot.jobs.assistant import AssistantThreadJob
from synapse_bot.jobs.home import HomePublisher
from synapse_bot.jobs.reply import ReplyPoster
from synapse_bot.request import RequestKind, SlackRequest, Surface
from synapse_bot.store.activity import ActivityLog, RequestFacts
from synapse_bot.tracking.external import current_trace
from synapse_bot.tracking.recorder import TraceSink
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

ANSWERED_KINDS = (
    RequestKind.MENTION,
    RequestKind.COMMAND,
    RequestKind.SHORTCUT,
    RequestKind.ACTION,
    RequestKind.AUTOMATIC,
)
POSTING_KINDS = (*ANSWERED_KINDS, RequestKind.THREAD_STARTED)  # a rerun finds their post and does nothing
KindHandler = Callable[[SlackRequest, RequestTrace], None]


class RequestHandler:
    def __init__(
        self,
        answer: AnswerJob,
        actions: ActionJob,
        home: HomePublisher | None,
        poster: ReplyPoster,
        sink: TraceSink,
        *,
        alerts: KeywordAlerter | None = None,
        activity: ActivityLog | None = None,
        assistant: AssistantThreadJob | None = None,
    ) -> None:
        self.answer = answer
        self.poster = poster
        self.sink = sink
        self.alerts = alerts
        self.activity = activity
        self.assistant = assistant
        self._handlers: dict[RequestKind, KindHandler] = {
            RequestKind.MENTION: answer,
            RequestKind.COMMAND: answer,
            RequestKind.SHORTCUT: answer,
            RequestKind.AUTOMATIC: answer,
            RequestKind.ACTION: actions,
        }
        if home is not None:
            self._handlers[RequestKind.HOME] = home
        if assistant is not None:
            self._handlers[RequestKind.THREAD_STARTED] = assistant

    def __call__(self, request: SlackRequest) -> None:
        if request.kind is RequestKind.MESSAGE:
            if self.alerts is not None:
                self.alerts.on_message(request.team_id, request.event)
            return
        if request.kind in POSTING_KINDS:
            posted = self.poster.already_posted(request)
            if posted is not None:
                log.info("already answered", extra={"dedupe_key": request.dedupe_key, "reply_ts": posted})
                return
        handler = self._handlers.get(request.kind)
        if handler is None:
            return
        trace = _start_trace(request)
        status, error = "OK", None
        token = current_trace.set(trace)
        try:
            if request.surface is Surface.ASSISTANT and request.kind is RequestKind.MENTION and self.assistant:
                self.assistant.on_question(request)
            handler(request, trace)
        except Exception as exc:
            status, error = "ERROR", f"{type(exc).__name__}"
            log.exception("request failed", extra={"kind": request.kind.value, "dedupe_key": request.dedupe_key})
        except BaseException as exc:  # Dramatiq's time limit or shutdown interrupting the job: trace it as such
            status, error = "ERROR", f"{type(exc).__name__}"
            raise
        finally:
            current_trace.reset(token)
            self._finish(trace, status, error)

    def time_limit_reached(self, request: SlackRequest) -> None:
        """The job was stopped at SYNAPSE_JOB_TIME_LIMIT_SECONDS: tell the person instead of going quiet."""
        if request.kind not in ANSWERED_KINDS:
            return
        trace = _start_trace(request)
        try:
            self.answer.time_limit_reached(request, trace)
        except Exception as exc:
            log.warning("time-limit notice not posted", extra={"error": type(exc).__name__})
        self._finish(trace, "ERROR", "TimeLimitExceeded")

    def _finish(self, trace: RequestTrace, status: str, error: str | None) -> None:
        trace.finish(status, error)
        self.sink.record(trace)
        if self.activity is not None:
            self.activity.record(_facts(trace))


def _start_trace(request: SlackRequest) -> RequestTrace:
    return RequestTrace.start(
        request.kind.value,
        surface=request.surface.value,
        team=request.team_id,
        channel=request.channel_id,
        user=request.user_id,
        thread=request.thread_ts or request.message_ts,
        text=request.text[:500] or None,  # content: kept out of MLflow unless SYNAPSE_TRACE_CONTENT=true
        retry_attempt=request.retry_attempt,
        queue_wait_ms=0.0,
    )


def _facts(trace: RequestTrace) -> RequestFacts:
    root = trace.root.attributes
    tools = {
        span.name.removeprefix("tool."): span.status != "ERROR"
        for span in trace.walk()
        if span.name.startswith("tool.")
    }
    return RequestFacts(
        ok=trace.root.status != "ERROR" and not root.get("tool_error"),
        fast_path=root.get("path") == "fast",
        latency_ms=trace.root.duration_ms,
        tokens=int(root.get("prompt_tokens") or 0) + int(root.get("completion_tokens") or 0),
        cost_usd=float(root.get("cost_usd") or 0.0),
        tools=tools,
    )
