"""Post a request's answer exactly once, even when its job runs twice (see `jobs/guard.py`).

Before posting, the job claims the request's reply key; a rerun that finds the answer already posted does nothing,
and one that finds an earlier run died mid-post looks in Slack for the marked messages before posting again. When
only part of a long answer got out, the posted parts are kept and the person is told how many are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack import PartialReply, ReplyTarget, SlackReplier, lost_parts_notice
from synapse_bot.integrations.slack_audience import ConversationAudience
from synapse_bot.integrations.slack_stream import StreamedReply, mark_cut_stream
from synapse_bot.jobs.guard import ClaimState, ReplyClaim, ReplyGuard
from synapse_bot.privacy import Conversation, Delivery, Verdict, Visibility
from synapse_bot.request import RequestKind, SlackRequest, Surface
from synapse_bot.store.conversations import AnsweredThreads
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)


def target_of(request: SlackRequest) -> ReplyTarget:
    """Where a request's answer goes: its thread (or channel), with the slash command's private fallback."""
    return ReplyTarget(request.channel_id, request.thread_ts, request.user_id, request.response_url)


FOLLOWED_UP = (Surface.CHANNEL, Surface.FOLLOW_UP)  # where an answer makes the next message a follow-up


class ReplyPoster:
    """Posts answers once; an answer quoting other conversations goes where the privacy rule allows.

    `audience` says who can read a conversation; without it (no Slack to ask) an answer with sources from another
    conversation is never posted in place.
    """

    def __init__(
        self,
        replier: SlackReplier,
        guard: ReplyGuard | None,
        audience: ConversationAudience | None = None,
        answered: AnsweredThreads | None = None,
    ) -> None:
        self.replier = replier
        self.guard = guard
        self.audience = audience
        self.answered = answered

    def _mark_answered(self, request: SlackRequest) -> None:
        """Record that Synapse speaks in this thread, and who asked it, just before it does, so a follow-up typed the
        moment the answer shows is already recognised (see listeners/follow_ups.py). The one place this is recorded."""
        if (
            self.answered is not None
            and request.kind in (RequestKind.MENTION, RequestKind.SHORTCUT)
            and request.surface in FOLLOWED_UP
            and request.thread_ts
        ):
            try:
                self.answered.remember(request.team_id, request.channel_id, request.thread_ts, request.user_id)
            except (redis.RedisError, OSError):
                log.info("answered thread not recorded (redis)")

    def already_posted(self, request: SlackRequest) -> str | None:
        """The ts of this request's answer if a previous run of its job posted it (or died streaming it)."""
        if self.guard is None:
            return None
        posted = self.guard.posted(request.team_id, request.dedupe_key)
        if posted is not None:
            return posted
        cut = self.guard.streaming(request.team_id, request.dedupe_key)
        if cut is not None:
            # The earlier run died mid-stream: its message says so now, and no second answer follows.
            mark_cut_stream(self.replier.client, request.channel_id, cut)
            self.guard.record(ReplyClaim(ClaimState.STREAMING, request.team_id, request.dedupe_key), cut)
        return cut

    # Streaming -------------------------------------------------------------------------------------

    def open_stream(self, request: SlackRequest, secrets: tuple[str, ...] = ()) -> StreamedReply | None:
        """A stream for this request's answer, claimed like a post; None when the answer must not be streamed here."""
        if not request.thread_ts or request.response_url:
            return None  # slash commands answer through their own path (and may need the private fallback)
        claim = self.guard.claim(request.team_id, request.dedupe_key) if self.guard else None
        if claim is not None and claim.state not in (ClaimState.FRESH, ClaimState.UNGUARDED):
            return None  # posted already, or in doubt (the lease stays for post_once to look before posting)
        guard = self.guard

        def started(ts: str) -> None:
            if guard is not None and claim is not None:
                guard.record_stream(claim, ts)
            self._mark_answered(request)

        stream = StreamedReply(
            self.replier.client,
            target_of(request),
            request.team_id,
            marker=request.dedupe_key,
            secrets=secrets,
            on_started=started,
        )
        stream.claim = claim
        return stream

    def finish_stream(
        self,
        request: SlackRequest,
        trace: RequestTrace,
        stream: StreamedReply,
        text: str,
        buttons: list[dict[str, Any]],
    ) -> None:
        """The streamed message becomes exactly the final answer (more messages if long), recorded as posted."""
        with trace.span("slack.reply", span_type="UNKNOWN") as span:
            claim = stream.claim
            try:
                posted = stream.finish(text, buttons)
            except PartialReply as partial:
                # The streamed part is in Slack and a later part was refused: keep it, say what is missing.
                if self.guard is not None and claim is not None:
                    self.guard.record(claim, partial.posted[0])
                span.set(messages=len(partial.posted), error=partial.error, streamed=True)
                self.notice(target_of(request), lost_parts_notice(partial.total - len(partial.posted), partial.error))
                return
            if self.guard is not None and claim is not None:
                self.guard.record(claim, posted[0])
            span.set(messages=len(posted), chars=len(text), streamed=True)

    def finish_stream_privately(
        self,
        request: SlackRequest,
        trace: RequestTrace,
        stream: StreamedReply,
        text: str,
        buttons: list[dict[str, Any]],
        verdict: Verdict,
    ) -> None:
        """A stream that started before the answer quoted a conversation not everyone here can read (only text
        written before such a tool result is ever streamed): the streamed message becomes a one-line note, and the
        answer goes to the requester alone, with the reason."""
        note = (
            f"_I answered <@{request.user_id}> privately: the answer quotes a conversation not everyone here can read._"
        )
        self.finish_stream(request, trace, stream, note, [])
        self._post_privately(request, target_of(request), verdict, text, buttons, None)

    def abandon_stream(self, stream: StreamedReply) -> None:
        """The stream never started: give its claim back so the answer can be posted normally."""
        if self.guard is not None and stream.claim is not None and not stream.started:
            self.guard.release(stream.claim)

    def post_once(
        self,
        request: SlackRequest,
        trace: RequestTrace,
        text: str,
        buttons: list[dict[str, Any]] | None = None,
        sources: Sequence[str] = (),
    ) -> None:
        """Post the answer unless this request's answer is already in Slack.

        `sources` are the Slack conversations the answer quotes (`DispatchOutcome.sources`): when someone who can
        read this conversation could not read one of them, only the requester gets the answer, with the reason.
        """
        target = target_of(request)
        guard = self.guard
        with trace.span("slack.reply", span_type="UNKNOWN") as span:
            claim = guard.claim(request.team_id, request.dedupe_key) if guard else None
            if claim is not None and claim.state is ClaimState.POSTED:
                span.set(skipped="already_posted")
                return
            if guard is not None and claim is not None and claim.state is ClaimState.STREAMING and claim.posted_ts:
                mark_cut_stream(self.replier.client, request.channel_id, claim.posted_ts)
                guard.record(claim, claim.posted_ts)
                span.set(skipped="cut_stream_marked")
                return
            if guard is not None and claim is not None and claim.state is ClaimState.IN_DOUBT:
                found = self.replier.find_reply(target, request.dedupe_key, request.received_at)
                if found is not None:
                    guard.record(claim, found.first_ts)
                    span.set(skipped="found_earlier_post")
                    if not found.complete:  # the earlier run died between parts: say so rather than leave a gap
                        missing = found.parts_total - found.parts_found
                        self.notice(target, lost_parts_notice(missing, "Synapse restarted while posting it"))
                    return
            verdict = self.verdict(request, sources)
            if verdict.delivery is not Delivery.IN_PLACE:
                span.set(delivery=verdict.delivery.value, blocking=",".join(c.id for c in verdict.blocking))
                self._post_privately(request, target, verdict, text, buttons or [], claim)
                return
            self._mark_answered(request)
            try:
                posted = self.replier.reply(target, text, buttons or [], marker=request.dedupe_key)
            except PartialReply as partial:
                # Part of the answer is in Slack: record it so no rerun repeats it, and say what is missing.
                if guard is not None and claim is not None:
                    guard.record(claim, partial.posted[0])
                span.set(messages=len(partial.posted), error=partial.error)
                self.notice(target, lost_parts_notice(partial.total - len(partial.posted), partial.error))
                return
            except Exception as exc:
                if isinstance(exc, SlackApiError):
                    span.set(error=str(exc.response.get("error")))
                if guard is not None and claim is not None:
                    guard.release(claim)
                raise
            if guard is not None and claim is not None:
                guard.record(claim, posted[0] if posted else "private")
            span.set(messages=len(posted), chars=len(text))

    def verdict(self, request: SlackRequest, sources: Sequence[str]) -> Verdict:
        """The privacy rule's decision for an answer quoting `sources`, asked in the request's conversation."""
        others = [s for s in sources if s != request.channel_id]
        if not others:
            return Verdict(Delivery.IN_PLACE)
        unknown = Verdict(Delivery.PRIVATE, tuple(Conversation(s, "", Visibility.PRIVATE) for s in others))
        if self.audience is None:  # nobody to ask who reads what: unknown is private
            return unknown
        try:
            return self.audience.verdict(request.team_id, others, request.channel_id, request.user_id)
        except Exception:  # Slack unreachable mid-check: the answer still goes out, privately
            log.warning("privacy check failed; answering privately", exc_info=True)
            return unknown

    def _post_privately(
        self,
        request: SlackRequest,
        target: ReplyTarget,
        verdict: Verdict,
        text: str,
        buttons: list[dict[str, Any]],
        claim: ReplyClaim | None,
    ) -> None:
        if verdict.delivery is Delivery.WITHHELD:
            text, buttons, note_here, note_elsewhere = verdict.reason(), [], "", ""
        else:
            note_here = f"_{verdict.reason()}_"
            note_elsewhere = f"_You asked in <#{request.channel_id}>. {verdict.reason('there')}_"
        where = self.replier.reply_privately(target, text, buttons, note_here=note_here, note_elsewhere=note_elsewhere)
        if self.guard is not None and claim is not None:
            if where is None:
                self.guard.release(claim)
            else:
                self.guard.record(claim, "private")

    def notice(self, target: ReplyTarget, text: str) -> None:
        """A short extra message (what went missing); failing to post it is logged, not raised."""
        try:
            self.replier.reply(target, text)
        except SlackApiError as exc:
            log.warning("notice not posted", extra={"error": exc.response.get("error")})
