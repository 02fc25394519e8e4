"""Answer a question (mention, `/synapse`, the shortcut): limits, a sign of life, the dispatcher, one reply.

Whatever happens inside (a tool error, a model error, a bug), the person gets a reply that says what went wrong and
what to do; the only thing that can stop a reply is Slack itself refusing every way to post.
"""

from __future__ import annotations

import logging

from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.integrations.slack import SlackReplier
from synapse_bot.integrations.working_sign import WorkingSigns
from synapse_bot.jobs.reply import ReplyPoster
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
        signs: WorkingSigns | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.replier = replier
        self.poster = poster
        self.limiter = limiter
        self.feedback = feedback
        self.signs = signs

    def __call__(self, request: SlackRequest, trace: RequestTrace) -> None:
        if self.limiter is not None:
            admission = self.limiter.admit(request.team_id, request.user_id, request.channel_id)
            if not admission.allowed:
                trace.root.set(limited=True)
                self.poster.post_once(request, trace, admission.message)
                if self.signs:
                    self.signs.end(request, None)  # the gateway's sign comes down with the refusal
                return
        sign = self.signs.begin(request) if self.signs else None
        try:
            text, ok, buttons = self._dispatch(request, trace)
            if self.feedback and trace.root.attributes.get("path") == "llm":  # feedback on what the model wrote
                buttons = [*buttons, *feedback_buttons(trace.request_id)]
            self.poster.post_once(request, trace, text, buttons)
        finally:
            if self.signs:
                self.signs.end(request, sign)
        if not ok:
            trace.root.set(tool_error=True)

    def _dispatch(self, request: SlackRequest, trace: RequestTrace) -> tuple[str, bool, list[dict[str, object]]]:
        try:
            outcome = self.dispatcher.dispatch(request, trace)
        except Exception as exc:
            log.exception("dispatch failed", extra={"kind": request.kind.value})
            return (
                f"Sorry — something went wrong while handling that ({type(exc).__name__}). "
                "Please try again; if it keeps happening, tell your Synapse admin.",
                False,
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
        return text, outcome.ok, outcome.buttons

    def time_limit_reached(self, request: SlackRequest, trace: RequestTrace) -> None:
        """The job was stopped at SYNAPSE_JOB_TIME_LIMIT_SECONDS: tell the person instead of going quiet."""
        limit = seconds_text(self.dispatcher.settings.job_time_limit_seconds)
        text = (
            f"Sorry — that took longer than Synapse's limit of {limit}, so I stopped. Try a narrower request "
            "(a shorter thread, a smaller `limit`); an admin can raise SYNAPSE_JOB_TIME_LIMIT_SECONDS."
        )
        self.poster.post_once(request, trace, text)
