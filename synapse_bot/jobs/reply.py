"""Post a request's answer exactly once, even when its job runs twice (see `jobs/guard.py`).

Before posting, the job claims the request's reply key; a rerun that finds the answer already posted does nothing,
and one that finds an earlier run died mid-post looks in Slack for the marked messages before posting again. When
only part of a long answer got out, the posted parts are kept and the person is told how many are missing.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack import PartialReply, ReplyTarget, SlackReplier, lost_parts_notice
from synapse_bot.integrations.slack_stream import StreamedReply, mark_cut_stream
from synapse_bot.jobs.guard import ClaimState, ReplyClaim, ReplyGuard
from synapse_bot.request import SlackRequest
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)


def target_of(request: SlackRequest) -> ReplyTarget:
    """Where a request's answer goes: its thread (or channel), with the slash command's private fallback."""
    return ReplyTarget(request.channel_id, request.thread_ts, request.user_id, request.response_url)


class ReplyPoster:
    def __init__(self, replier: SlackReplier, guard: ReplyGuard | None) -> None:
        self.replier = replier
        self.guard = guard

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

    def abandon_stream(self, stream: StreamedReply) -> None:
        """The stream never started: give its claim back so the answer can be posted normally."""
        if self.guard is not None and stream.claim is not None and not stream.started:
            self.guard.release(stream.claim)

    def post_once(
        self, request: SlackRequest, trace: RequestTrace, text: str, buttons: list[dict[str, Any]] | None = None
    ) -> None:
        """Post the answer unless this request's answer is already in Slack."""
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

    def notice(self, target: ReplyTarget, text: str) -> None:
        """A short extra message (what went missing); failing to post it is logged, not raised."""
        try:
            self.replier.reply(target, text)
        except SlackApiError as exc:
            log.warning("notice not posted", extra={"error": exc.response.get("error")})
