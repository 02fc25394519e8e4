"""Answer a question (mention, `/synapse`, the shortcut): limits, a sign of life, the dispatcher, one reply.

Whatever happens inside (a tool error, a model error, a bug), the person gets a reply that says what went wrong and
what to do; the only thing that can stop a reply is Slack itself refusing every way to post. The job's deadline
(SYNAPSE_JOB_TIME_LIMIT_SECONDS from when it started) goes with the dispatch, so a slow model is cut off in time
for that reply to be posted before Dramatiq's time limit stops the job.
"""

from __future__ import annotations

import logging

from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.dispatch.model_loop import ShowText
from synapse_bot.integrations.slack import SlackReplier
from synapse_bot.integrations.slack_stream import StreamedReply
from synapse_bot.integrations.working_sign import WorkingSigns
from synapse_bot.jobs.reply import ReplyPoster
from synapse_bot.llm.deadline import Deadline
from synapse_bot.privacy import Delivery
from synapse_bot.render.feedback import feedback_buttons
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.limits import Limiter, seconds_text
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)


class AnswerJob:
    def __init__(
        self,
        dispatcher: Dispatcher,
        replier: SlackReplier,
        poster: ReplyPoster,
        *,
        limiter: Limiter | None = None,
        feedback: bool = False,
        streaming: bool = False,
        secrets: tuple[str, ...] = (),
        signs: WorkingSigns | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.replier = replier
        self.poster = poster
        self.limiter = limiter
        self.feedback = feedback
        self.streaming = streaming
        self.secrets = secrets
        self.signs = signs

    def __call__(self, request: SlackRequest, trace: RequestTrace) -> None:
        deadline = Deadline.starting_now(self.dispatcher.settings.job_time_limit_seconds, self.time_limit_text())
        started = deadline.started
        if request.confirm_addressed and not self._meant_for_synapse(request, trace):
            return  # people talking among themselves (or over their budget): nothing is posted
        if self.limiter is not None:
            # Work nobody asked for right now (a subscription's review) is not held to people's request rates.
            admission = self.limiter.admit(
                request.team_id, request.user_id, request.channel_id, rates=request.kind is not RequestKind.AUTOMATIC
            )
            if not admission.allowed:
                trace.root.set(limited=True)
                self.poster.post_once(request, trace, admission.message)
                if self.signs:
                    self.signs.end(request, None)  # the gateway's sign comes down with the refusal
                return
        sign = self.signs.begin(request) if self.signs else None
        stream = self._stream_for(request)
        try:
            text, ok, buttons, sources = self._dispatch(
                request, trace, deadline, stream.write if stream is not None else None
            )
            if not text.strip() and request.kind is RequestKind.AUTOMATIC:
                trace.root.set(path="nothing_to_post")  # a quiet schedule with nothing to list
                return
            trace.root.set(reply=text[:500])  # content, like the request's text: MLflow gets it only when asked
            if self.feedback and trace.root.attributes.get("path") == "llm":  # feedback on what the model wrote
                buttons = [*buttons, *feedback_buttons(trace.request_id)]
            if stream is not None and stream.started and not stream.broken:
                trace.root.set(first_text_ms=round(((stream.first_text_at or 0) - started) * 1000, 1))
                if not ok:
                    text = kept_after_cut(stream.written, text)
                verdict = self.poster.verdict(request, sources)
                if verdict.delivery is Delivery.IN_PLACE:
                    self.poster.finish_stream(request, trace, stream, text, buttons)
                else:
                    self.poster.finish_stream_privately(request, trace, stream, text, buttons, verdict)
            else:
                if stream is not None:
                    self.poster.abandon_stream(stream)
                self.poster.post_once(request, trace, text, buttons, sources=sources)
        finally:
            if self.signs:
                self.signs.end(request, sign)
        if not ok:
            trace.root.set(tool_error=True)

    def _meant_for_synapse(self, request: SlackRequest, trace: RequestTrace) -> bool:
        """A follow-up the words alone could not place: the dispatcher's small check, charged like any model use.
        Someone over their daily budget is not checked (nor answered): a refusal would answer what was not asked."""
        if self.limiter is not None:
            quota = self.limiter.admit(request.team_id, request.user_id, request.channel_id, rates=False)
            if not quota.allowed:
                trace.root.set(path="not_addressed", limited=True)
                return False
        verdict, budget = self.dispatcher.meant_for_synapse(request, trace)
        used = budget.prompt_tokens + budget.completion_tokens
        trace.root.set(
            prompt_tokens=budget.prompt_tokens,
            completion_tokens=budget.completion_tokens,
            llm_calls=len(budget.calls),
            cost_usd=budget.cost_usd,
        )
        if self.limiter is not None and used:
            self.limiter.charge(request.team_id, request.user_id, request.channel_id, used)
        if not verdict:
            trace.root.set(path="not_addressed")
        return verdict

    def _stream_for(self, request: SlackRequest) -> StreamedReply | None:
        """Model-written answers to mentions stream into their thread (SYNAPSE_STREAMING)."""
        if not self.streaming or self.dispatcher.model_loop is None or request.kind is not RequestKind.MENTION:
            return None
        return self.poster.open_stream(request, self.secrets)

    def _dispatch(
        self, request: SlackRequest, trace: RequestTrace, deadline: Deadline, show: ShowText | None = None
    ) -> tuple[str, bool, list[dict[str, object]], list[str]]:
        try:
            outcome = self.dispatcher.dispatch(request, trace, show, deadline)
        except Exception as exc:
            log.exception("dispatch failed", extra={"kind": request.kind.value})
            return (
                f"Sorry — something went wrong while handling that ({type(exc).__name__}). "
                "Please try again; if it keeps happening, tell your Synapse admin.",
                False,
                [],
                [],
            )
        text = outcome.text
        if outcome.budget is not None:
            budget = outcome.budget
            trace.root.set(
                prompt_tokens=budget.prompt_tokens,
                completion_tokens=budget.completion_tokens,
                llm_calls=len(budget.calls),
                cost_usd=budget.cost_usd,
            )
            if self.limiter is not None:
                used = budget.prompt_tokens + budget.completion_tokens
                self.limiter.charge(request.team_id, request.user_id, request.channel_id, used)
        if request.kind is RequestKind.COMMAND:
            # Others in the channel never saw the command itself, so say who asked what.
            asked = request.text.strip()[:200].replace("`", "'")
            text = f"_<@{request.user_id}> asked `/synapse {asked}`_\n\n{text}"
        trace.root.set(path=outcome.path, tools=",".join(t.call.name for t in outcome.tools) or None)
        return text, outcome.ok, outcome.buttons, outcome.sources

    def time_limit_text(self) -> str:
        """What the person reads when the job's time is up: from a model call stopped at the deadline, or here."""
        limit = seconds_text(self.dispatcher.settings.job_time_limit_seconds)
        return (
            f"Sorry — that took longer than Synapse's limit of {limit}, so I stopped. Try a narrower request "
            "(a shorter thread, a smaller `limit`); an admin can raise SYNAPSE_JOB_TIME_LIMIT_SECONDS."
        )

    def time_limit_reached(self, request: SlackRequest, trace: RequestTrace) -> None:
        """The job was stopped at SYNAPSE_JOB_TIME_LIMIT_SECONDS: tell the person instead of going quiet."""
        self.poster.post_once(request, trace, self.time_limit_text())


def kept_after_cut(streamed: str, failure: str) -> str:
    """The reply to an answer that failed while it was being streamed (the deadline, the model gone): the text
    people already read stays, marked as cut, with the failure after it. Replacing it with the failure alone would
    take back what they saw. A failure text that already begins with the streamed text is kept as it is."""
    shown = streamed.strip()
    if not shown or failure.strip().startswith(shown):
        return failure
    return f"{shown} …\n\n_(cut short)_ {failure}"
