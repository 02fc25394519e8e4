"""Post a request's answer exactly once, even when its job runs twice (see `jobs/guard.py`).

Before posting, the job claims the request's reply key; a rerun that finds the answer already posted does nothing,
and one that finds an earlier run died mid-post looks in Slack for the marked messages before posting again. When
only part of a long answer got out, the posted parts are kept and the person is told how many are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack import PartialReply, ReplyTarget, SlackReplier, lost_parts_notice
from synapse_bot.integrations.slack_audience import ConversationAudience
from synapse_bot.jobs.guard import ClaimState, ReplyClaim, ReplyGuard
from synapse_bot.privacy import Conversation, Delivery, Verdict, Visibility
from synapse_bot.request import SlackRequest
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)


def target_of(request: SlackRequest) -> ReplyTarget:
    """Where a request's answer goes: its thread (or channel), with the slash command's private fallback."""
    return ReplyTarget(request.channel_id, request.thread_ts, request.user_id, request.response_url)


class ReplyPoster:
    """Posts answers once; an answer quoting other conversations goes where the privacy rule allows.

    `audience` says who can read a conversation; without it (no Slack to ask) an answer with sources from another
    conversation is never posted in place.
    """

    def __init__(
        self, replier: SlackReplier, guard: ReplyGuard | None, audience: ConversationAudience | None = None
    ) -> None:
        self.replier = replier
        self.guard = guard
        self.audience = audience

    def already_posted(self, request: SlackRequest) -> str | None:
        """The ts of this request's answer if a previous run of its job posted it."""
        return self.guard.posted(request.team_id, request.dedupe_key) if self.guard else None

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
