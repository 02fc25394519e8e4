"""Button clicks: 👍/👎 feedback goes to the request's trace; every other button belongs to a tool, found through
the registry, and its outcome goes to the thread (or to the clicker alone, for buttons on their Home tab)."""

from __future__ import annotations

import logging

from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.integrations.slack import SlackReplier
from synapse_bot.jobs.home import HomePublisher
from synapse_bot.jobs.reply import ReplyPoster
from synapse_bot.render.feedback import parse_feedback
from synapse_bot.request import SlackRequest
from synapse_bot.tracking.recorder import Feedback, TraceSink
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)


class ActionJob:
    def __init__(
        self,
        dispatcher: Dispatcher,
        replier: SlackReplier,
        poster: ReplyPoster,
        sink: TraceSink,
        home: HomePublisher | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.replier = replier
        self.poster = poster
        self.sink = sink
        self.home = home

    def __call__(self, request: SlackRequest, trace: RequestTrace) -> None:
        trace.root.set(action=request.action_id)
        action_id, value = request.action_id or "", request.action_value or ""
        feedback = parse_feedback(action_id, value)
        if feedback is not None:
            self._feedback(request, *feedback)
            return
        handler = self.dispatcher.registry.action(action_id)
        if handler is None or not value:
            log.warning("click on a button no tool answers", extra={"action_id": action_id})
            return
        context = self.dispatcher.context_for(request, trace)
        with trace.span(f"action.{action_id}", span_type="TOOL"):
            outcome = handler(context, value)
        if outcome.private:
            self.replier.notify(request.user_id, outcome.text)
        else:
            self.poster.post_once(request, trace, outcome.text)
        if outcome.refresh_home and self.home is not None:
            self.home(request, trace)

    def _feedback(self, request: SlackRequest, request_id: str, positive: bool) -> None:
        self.sink.record_feedback(Feedback(request_id, positive, request.user_id))
        self.replier.ephemeral(
            request.channel_id,
            request.user_id,
            request.thread_ts,
            "Thanks — your feedback is recorded."
            if positive
            else "Thanks — noted. Tell me in the thread what was wrong and I'll try again.",
        )
