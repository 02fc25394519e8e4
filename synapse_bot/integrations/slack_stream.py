"""Stream an answer into its thread while the model writes it.

Slack's streaming methods (`chat.startStream` / `appendStream` / `stopStream`) show text as it arrives. The first
piece starts the stream at once (the person sees text within a second of the model's first words); later pieces are
sent at most every `interval_s`, so a fast model never costs more than two calls a second. Where streaming is
unavailable or refused (an older workspace, a missing scope), the same answer is posted as a message and edited in
place with `chat.update` at most once a second. Either way the finished message is made exactly the final answer
(links, buttons, the reply marker), and a long answer continues in further messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack import REPLY_EVENT_TYPE, PartialReply, ReplyTarget
from synapse_bot.logs import redact
from synapse_bot.render.feedback import element_blocks
from synapse_bot.render.slack import message_payloads
from synapse_bot.render.split import MAX_MESSAGE_CHARS

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.5
UPDATE_INTERVAL_S = 1.0  # chat.update is Tier 3: about one edit a second per message is safe
STREAM_LIMIT_CHARS = MAX_MESSAGE_CHARS - 200  # past this the stream pauses; the rest follows in further messages
CUT_NOTE = "\n\n_(This answer was cut short when Synapse restarted while writing it. Ask again for the rest.)_"


class StreamedReply:
    """One answer streamed into one thread; `write` from the job's thread, `finish` once at the end."""

    def __init__(
        self,
        client: WebClient,
        target: ReplyTarget,
        team_id: str,
        *,
        marker: str,
        secrets: Sequence[str] = (),
        on_started: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._target = target
        self._team_id = team_id
        self._marker = marker
        self._secrets = tuple(secrets)
        self._on_started = on_started
        self._clock = clock
        self._lock = threading.Lock()
        self._sent = ""  # text Slack already shows
        self._pending = ""  # text received, not sent yet
        self._last_send = 0.0
        self._mode: str | None = None  # "stream", "update", or None before the first piece
        self._paused = False
        self.ts: str | None = None
        self.first_text_at: float | None = None
        self.broken = False
        self.claim: Any = None  # the reply guard's claim this stream posts under (set by its owner)

    @property
    def started(self) -> bool:
        return self.ts is not None

    @property
    def written(self) -> str:
        """The text written to the stream so far: what Slack shows, and what was still to be sent."""
        with self._lock:
            return self._sent + self._pending

    def write(self, text: str) -> None:
        """More of the answer (already safe to show); sent now or with the next piece. Never raises: a piece
        Slack refuses is kept for `finish`, and a stream that cannot even start leaves the answer to a plain post."""
        try:
            self._write(text)
        except (SlackApiError, OSError) as exc:
            self.broken = True
            log.warning("streaming stopped", extra={"error": type(exc).__name__})

    def _write(self, text: str) -> None:
        if self.broken:
            return
        with self._lock:
            self._pending += redact(text, self._secrets)
            if self._paused or not self._pending.strip():
                return
            if len(self._sent) + len(self._pending) > STREAM_LIMIT_CHARS:
                self._paused = True  # the rest goes out with finish(), in further messages
                return
            if self.ts is None:
                self._start()
            elif self._clock() - self._last_send >= (
                STREAM_INTERVAL_S if self._mode == "stream" else UPDATE_INTERVAL_S
            ):
                self._send()

    def finish(self, final_text: str, buttons: list[dict[str, Any]] | None = None) -> list[str]:
        """Make the thread show exactly `final_text` (split if long, buttons under the last part); the ts posted."""
        with self._lock:
            assert self.ts is not None, "finish() on a stream that never started"
            final = redact(final_text, self._secrets).strip()
            payloads = message_payloads(final)
            if buttons and payloads:
                payloads[-1]["blocks"] = [*payloads[-1]["blocks"], *element_blocks(buttons)]
            for index, payload in enumerate(payloads):
                tag = {"request": self._marker, "part": index, "parts": len(payloads)}
                payload["metadata"] = {"event_type": REPLY_EVENT_TYPE, "event_payload": tag}
            first = payloads[0] if payloads else {"text": " ", "blocks": [], "metadata": None}
            shown = self._sent + self._pending
            if self._mode == "stream" and len(payloads) == 1 and final.startswith(shown):
                # The usual case: what was streamed is the start of the answer; send the rest and the buttons.
                tail = [b for b in first["blocks"] if b.get("type") != "markdown"]
                self._client.chat_stopStream(
                    channel=self._target.channel_id,
                    ts=self.ts,
                    markdown_text=final[len(self._sent) :] or None,
                    blocks=tail or None,
                    metadata=first.get("metadata"),
                )
            else:
                log.info(
                    "streamed message replaced by the final answer",
                    extra={"mode": self._mode, "parts": len(payloads), "streamed_chars": len(shown)},
                )
                self._close(first)
            posted = [self.ts]
            for payload in payloads[1:]:
                try:
                    response = self._client.chat_postMessage(
                        channel=self._target.channel_id,
                        thread_ts=self._target.thread_ts,
                        unfurl_links=False,
                        unfurl_media=False,
                        **payload,
                    )
                except SlackApiError as exc:
                    raise PartialReply(posted, len(payloads), str(exc.response.get("error", "unknown_error"))) from exc
                posted.append(str(response["ts"]))
            return posted

    # Slack -----------------------------------------------------------------------------------------

    def _start(self) -> None:
        text, self._pending = self._pending.lstrip(), ""
        try:
            response = self._client.chat_startStream(
                channel=self._target.channel_id,
                thread_ts=self._target.thread_ts or "",
                recipient_team_id=self._team_id,
                recipient_user_id=self._target.user_id,
                markdown_text=text,
            )
            self._mode = "stream"
        except SlackApiError as exc:
            log.info("streaming unavailable; posting and editing instead", extra={"error": exc.response.get("error")})
            response = self._client.chat_postMessage(
                channel=self._target.channel_id,
                thread_ts=self._target.thread_ts,
                text=text,
                blocks=[{"type": "markdown", "text": text}],
                unfurl_links=False,
                unfurl_media=False,
            )
            self._mode = "update"
        self.ts = str(response["ts"])
        self._sent = text
        self._last_send = self._clock()
        self.first_text_at = self._last_send
        if self._on_started is not None:
            self._on_started(self.ts)

    def _send(self) -> None:
        assert self.ts is not None
        text, self._pending = self._pending, ""
        try:
            if self._mode == "stream":
                self._client.chat_appendStream(channel=self._target.channel_id, ts=self.ts, markdown_text=text)
            else:
                shown = self._sent + text
                self._client.chat_update(
                    channel=self._target.channel_id,
                    ts=self.ts,
                    text=shown,
                    blocks=[{"type": "markdown", "text": shown}],
                )
        except SlackApiError as exc:
            # The piece is kept: finish() replaces the whole message with the final answer anyway.
            log.info("streamed piece not sent", extra={"error": exc.response.get("error")})
            self._pending = text + self._pending
            return
        self._sent += text
        self._last_send = self._clock()

    def _close(self, payload: dict[str, Any]) -> None:
        """End the stream (if streaming) and make the message exactly `payload`."""
        assert self.ts is not None
        channel = self._target.channel_id
        if self._mode == "stream":
            try:
                self._client.chat_stopStream(channel=channel, ts=self.ts, metadata=payload.get("metadata"))
            except SlackApiError as exc:
                log.info("stream not stopped cleanly", extra={"error": exc.response.get("error")})
        self._client.chat_update(
            channel=channel,
            ts=self.ts,
            text=payload["text"],
            blocks=payload["blocks"],
            metadata=payload.get("metadata"),
        )


def mark_cut_stream(client: WebClient, channel: str, ts: str) -> None:
    """An answer whose writer died mid-stream: stop its stream and say it was cut, instead of answering twice."""
    try:
        client.chat_stopStream(channel=channel, ts=ts, markdown_text=CUT_NOTE)
        return
    except SlackApiError as exc:
        log.info("cut stream could not be stopped; editing it", extra={"error": exc.response.get("error")})
    try:
        found = client.conversations_replies(channel=channel, ts=ts, limit=1, inclusive=True, latest=ts)
        messages = found.get("messages") or []
        shown = str(messages[0].get("text") or "") if messages and messages[0].get("ts") == ts else ""
        text = (shown + CUT_NOTE).strip()
        client.chat_update(channel=channel, ts=ts, text=text, blocks=[{"type": "markdown", "text": text}])
    except SlackApiError as exc:
        log.warning("cut stream not marked", extra={"error": exc.response.get("error")})
