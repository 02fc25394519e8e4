"""The job body: one Slack request in, one answer in its thread, one trace recorded.

Whatever happens inside (a tool error, a Slack error, a bug), the person gets a reply that says what went
wrong and what to do; the only thing that can stop a reply is Slack itself refusing every way to post.
"""

from __future__ import annotations

import logging

import redis
from slack_sdk.errors import SlackApiError

from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.integrations.slack import PartialReply, ReplyTarget, SlackReplier, lost_parts_notice
from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.jobs.guard import ClaimState, ReplyGuard
from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.monitors.alerts import AlertRouter
from synapse_bot.render.feedback import FEEDBACK_DOWN, FEEDBACK_UP, feedback_buttons
from synapse_bot.render.home import STOP_MONITOR_ACTION, RecentSummary, build_home_view
from synapse_bot.store.limits import Admission, Limiter, seconds_text
from synapse_bot.tools.monitor_channel import is_admin_user, stop_rule
from synapse_bot.tools.review_pull_request import POST_REVIEW_ACTION, post_review
from synapse_bot.tools.triage_issues import APPLY_LABELS_ACTION, apply_labels
from synapse_bot.tracking import stats
from synapse_bot.tracking.external import current_trace
from synapse_bot.tracking.recorder import Feedback, TraceSink
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

ANSWERED_KINDS = (RequestKind.MENTION, RequestKind.COMMAND, RequestKind.SHORTCUT, RequestKind.ACTION)


class RequestHandler:
    def __init__(
        self,
        dispatcher: Dispatcher,
        replier: SlackReplier,
        sink: TraceSink,
        alerts: AlertRouter | None = None,
        *,
        feedback: bool = False,
        guard: ReplyGuard | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.feedback = feedback
        self.guard = guard
        self.limiter = limiter
        self.dispatcher = dispatcher
        self.replier = replier
        self.sink = sink
        self.alerts = alerts

    def __call__(self, request: SlackRequest) -> None:
        if request.kind is RequestKind.MESSAGE:
            # Channel messages feed monitors; nothing to answer, and too many to trace one by one.
            if self.alerts is not None:
                self.alerts.on_message(request.team_id, request.event)
            return
        if self.guard is not None and request.kind in ANSWERED_KINDS:
            posted = self.guard.posted(request.team_id, request.dedupe_key)
            if posted is not None:
                # A rerun of a job whose answer is already in Slack (a redelivered queue message).
                log.info("already answered", extra={"dedupe_key": request.dedupe_key, "reply_ts": posted})
                return
        trace = RequestTrace.start(
            request.kind.value,
            team=request.team_id,
            channel=request.channel_id,
            user=request.user_id,
            thread=request.thread_ts or request.message_ts,
            text=request.text[:500] or None,  # content: kept out of MLflow unless SYNAPSE_TRACE_CONTENT=true
            retry_attempt=request.retry_attempt,
            queue_wait_ms=0.0,
        )
        status, error = "OK", None
        token = current_trace.set(trace)
        try:
            if request.kind is RequestKind.HOME:
                self._publish_home(request, trace)
            elif request.kind is RequestKind.ACTION:
                self._act(request, trace)
            else:
                self._answer(request, trace)
        except Exception as exc:
            status, error = "ERROR", f"{type(exc).__name__}"
            log.exception("request failed", extra={"kind": request.kind.value, "dedupe_key": request.dedupe_key})
        except BaseException as exc:  # Dramatiq's time limit or shutdown interrupting the job: trace it as such
            status, error = "ERROR", f"{type(exc).__name__}"
            raise
        finally:
            current_trace.reset(token)
            trace.finish(status, error)
            self.sink.record(trace)

    def _answer(self, request: SlackRequest, trace: RequestTrace) -> None:
        target = ReplyTarget(
            channel_id=request.channel_id,
            thread_ts=request.thread_ts,
            user_id=request.user_id,
            response_url=request.response_url,
        )
        buttons: list[dict[str, object]] = []
        admission = (
            self.limiter.admit(request.team_id, request.user_id, request.channel_id)
            if self.limiter is not None
            else Admission(True)
        )
        if not admission.allowed:
            trace.root.set(limited=True)
            self._post_once(request, trace, target, admission.message, [])
            return
        sign = self.replier.start_working(target, request.message_ts if request.kind is RequestKind.MENTION else None)
        try:
            outcome = self.dispatcher.dispatch(request, trace)
            text, ok, buttons = outcome.text, outcome.ok, outcome.buttons
            if outcome.budget is not None:
                trace.root.set(
                    prompt_tokens=outcome.budget.prompt_tokens,
                    completion_tokens=outcome.budget.completion_tokens,
                    llm_calls=len(outcome.budget.calls),
                    cost_usd=outcome.budget.cost_usd,
                )
                if self.limiter is not None:
                    used = outcome.budget.prompt_tokens + outcome.budget.completion_tokens
                    self.limiter.charge(request.team_id, request.user_id, request.channel_id, used)
            if request.kind is RequestKind.COMMAND:
                # Others in the channel never saw the command itself, so say who asked what.
                asked = request.text.strip()[:200].replace("`", "'")
                text = f"_<@{request.user_id}> asked `/synapse {asked}`_\n\n{text}"
            trace.root.set(path=outcome.path, tools=",".join(t.call.name for t in outcome.tools) or None)
        except Exception as exc:
            log.exception("dispatch failed", extra={"kind": request.kind.value})
            text, ok = (
                f"Sorry — something went wrong while handling that ({type(exc).__name__}). "
                "Please try again; if it keeps happening, tell your Synapse admin.",
                False,
            )
        trace.root.set(reply=text[:500])  # content, like `text` above
        if self.feedback:
            buttons = [*buttons, *feedback_buttons(trace.request_id)]
        try:
            self._post_once(request, trace, target, text, buttons)
        finally:
            self.replier.stop_working(sign)
        if not ok:
            trace.root.set(tool_error=True)

    def _post_once(
        self,
        request: SlackRequest,
        trace: RequestTrace,
        target: ReplyTarget,
        text: str,
        buttons: list[dict[str, object]],
    ) -> None:
        """Post the answer unless this request's answer is already in Slack (see jobs/guard.py)."""
        with trace.span("slack.reply", span_type="UNKNOWN") as span:
            claim = self.guard.claim(request.team_id, request.dedupe_key) if self.guard else None
            if claim is not None and claim.state is ClaimState.POSTED:
                span.set(skipped="already_posted")
                return
            if claim is not None and claim.state is ClaimState.IN_DOUBT:
                found = self.replier.find_reply(target, request.dedupe_key, request.received_at)
                if found is not None:
                    assert self.guard is not None
                    self.guard.record(claim, found.first_ts)
                    span.set(skipped="found_earlier_post")
                    if not found.complete:  # the earlier run died between parts: say so rather than leave a gap
                        missing = found.parts_total - found.parts_found
                        self._notice(target, lost_parts_notice(missing, "Synapse restarted while posting it"))
                    return
            try:
                posted = self.replier.reply(target, text, buttons, marker=request.dedupe_key)
            except PartialReply as partial:
                # Part of the answer is in Slack: record it so no rerun repeats it, and say what is missing.
                if claim is not None and self.guard is not None:
                    self.guard.record(claim, partial.posted[0])
                span.set(messages=len(partial.posted), error=partial.error)
                self._notice(target, lost_parts_notice(partial.total - len(partial.posted), partial.error))
                return
            except Exception as exc:
                if isinstance(exc, SlackApiError):
                    span.set(error=str(exc.response.get("error")))
                if claim is not None and self.guard is not None:
                    self.guard.release(claim)
                raise
            if claim is not None and self.guard is not None:
                self.guard.record(claim, posted[0] if posted else "private")
            span.set(messages=len(posted), chars=len(text))

    def _notice(self, target: ReplyTarget, text: str) -> None:
        try:
            self.replier.reply(target, text)
        except SlackApiError as exc:
            log.warning("notice not posted", extra={"error": exc.response.get("error")})

    def time_limit_reached(self, request: SlackRequest) -> None:
        """The job was stopped at SYNAPSE_JOB_TIME_LIMIT_SECONDS: tell the person instead of going quiet."""
        if request.kind not in ANSWERED_KINDS:
            return
        limit = seconds_text(self.dispatcher.settings.job_time_limit_seconds)
        target = ReplyTarget(request.channel_id, request.thread_ts, request.user_id, request.response_url)
        trace = RequestTrace.start(request.kind.value, team=request.team_id, channel=request.channel_id)
        text = (
            f"Sorry — that took longer than Synapse's limit of {limit}, so I stopped. Try a narrower request "
            "(a shorter thread, a smaller `limit`); an admin can raise SYNAPSE_JOB_TIME_LIMIT_SECONDS."
        )
        try:
            self._post_once(request, trace, target, text, [])
        except SlackApiError as exc:
            log.warning("time-limit notice not posted", extra={"error": exc.response.get("error")})
        trace.finish("ERROR", "TimeLimitExceeded")
        self.sink.record(trace)

    def _publish_home(self, request: SlackRequest, trace: RequestTrace) -> None:
        services = self.dispatcher.services
        monitors = []
        recent: list[RecentSummary] = []
        with trace.span("home.gather"):
            try:
                if services.monitors is not None:
                    monitors = [r for r in services.monitors.all_rules(request.team_id) if r.creator == request.user_id]
                if services.summaries is not None:
                    for channel, ts in services.summaries.recent_for(request.team_id, request.user_id):
                        entry = services.summaries.get(request.team_id, channel, ts)
                        if entry is not None:
                            recent.append(RecentSummary(channel, ts, entry.summary.tldr, entry.message_count))
            except (redis.RedisError, OSError):
                log.warning("home tab without stored data: redis unavailable")
        admin_stats = self._admin_stats(request) if services.slack is not None else None
        with trace.span("slack.views_publish"):
            view = build_home_view(self.dispatcher.registry, self.dispatcher.settings, monitors, recent, admin_stats)
            self.replier.publish_home(request.user_id, view)

    def _admin_stats(self, request: SlackRequest) -> str | None:
        """`synapse-bot stats` for the Home tab of admins (tracking on); None for everyone else."""
        settings, services = self.dispatcher.settings, self.dispatcher.services
        if not settings.tracking_enabled or services.slack is None:
            return None
        reader = SlackReader(services.slack, services.redis, services.keys, request.team_id)
        if not is_admin_user(settings.admin_ids, reader, request.user_id):
            return None
        try:
            collected = stats.collect(settings.tracking_uri, settings.mlflow_experiment_name, hours=24, max_traces=5000)
            return stats.render(collected, 24, "MLflow")
        except Exception as exc:  # the store being down must not break the Home tab
            log.warning("home stats unavailable", extra={"error": type(exc).__name__})
            return "Statistics are unavailable right now (the MLflow store could not be read)."

    def _act(self, request: SlackRequest, trace: RequestTrace) -> None:
        services = self.dispatcher.services
        trace.root.set(action=request.action_id)
        if request.action_id == STOP_MONITOR_ACTION and services.monitors and services.slack:
            channel, _, rule_id = (request.action_value or "").partition("|")
            reader = SlackReader(services.slack, services.redis, services.keys, request.team_id)
            _, message = stop_rule(
                services.monitors,
                reader,
                self.dispatcher.settings.admin_ids,
                request.team_id,
                channel,
                rule_id,
                request.user_id,
            )
            self.replier.notify(request.user_id, message)
            self._publish_home(request, trace)
        elif request.action_id in (FEEDBACK_UP, FEEDBACK_DOWN) and request.action_value:
            positive = request.action_id == FEEDBACK_UP
            self.sink.record_feedback(Feedback(request.action_value, positive, request.user_id))
            self.replier.ephemeral(
                request.channel_id,
                request.user_id,
                request.thread_ts,
                "Thanks — your feedback is recorded."
                if positive
                else "Thanks — noted. Tell me in the thread what was wrong and I'll try again.",
            )
        elif request.action_id in (APPLY_LABELS_ACTION, POST_REVIEW_ACTION) and request.action_value:
            context = self.dispatcher.context_for(request, trace)
            write = apply_labels if request.action_id == APPLY_LABELS_ACTION else post_review
            with trace.span(f"github.{request.action_id}", span_type="TOOL"):
                message = write(context, request.action_value)
            target = ReplyTarget(request.channel_id, request.thread_ts, request.user_id, request.response_url)
            self._post_once(request, trace, target, message, [])
