"""Channel messages in, keyword alerts out.

Each process keeps one compiled matcher per channel and rebuilds it only when the channel's rule version in Redis
changes (one GET per message). All of a channel's rules share that matcher, so a message is scanned once however
many rules and keywords there are. Bot messages (ours included) never alert; a message (edits included) alerts
each destination — a person's DM or an alert channel — at most once, however many of the rules sending there
match; at most one alert per rule per interval goes out, later hits are folded into a digest that the sweeper posts
when the interval ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack_audience import ConversationAudience
from synapse_bot.monitors.matcher import InvalidKeyword, KeywordMatcher
from synapse_bot.privacy import Delivery
from synapse_bot.render.sanitize import clip_neutralized, neutralize_mass_mentions
from synapse_bot.startup import network_cause
from synapse_bot.store.connection import OutageReport
from synapse_bot.store.monitors import MonitorRule, MonitorStore, PendingHit

log = logging.getLogger(__name__)

SNIPPET_CHARS = 300
DIGEST_LIST = 10


@dataclass
class _Compiled:
    version: int
    matcher: KeywordMatcher
    rules: list[tuple[MonitorRule, set[str]]]  # each rule with its keywords as the matcher reports them


def message_of(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The human message an event carries, or None for bot messages, deletions and other noise."""
    if event.get("subtype") == "message_changed":
        message = dict(event.get("message") or {})
    elif event.get("subtype") in (None, "thread_broadcast", "file_share", "me_message"):
        message = dict(event)
    else:
        return None
    if message.get("bot_id") or message.get("subtype") == "bot_message" or not message.get("user"):
        return None
    return message


def _by_destination(
    rules: list[tuple[MonitorRule, set[str]]], found: set[str]
) -> list[tuple[list[MonitorRule], list[str]]]:
    """The matching rules grouped by where they alert, each group with the union of its hits (in rule order).

    One person with two rules that both match a message gets one alert naming every keyword, not two.
    """
    groups: dict[str, tuple[list[MonitorRule], list[str]]] = {}
    for rule, keywords in rules:
        hits = sorted(k for k in keywords if k.casefold() in found)
        if not hits:
            continue
        matched, seen = groups.setdefault(rule.destination, ([], []))
        matched.append(rule)
        seen.extend(k for k in hits if k.casefold() not in {s.casefold() for s in seen})
    return list(groups.values())


class KeywordAlerter:
    def __init__(
        self,
        store: MonitorStore,
        client: WebClient,
        *,
        interval_s: int,
        bot_user_id: str | None,
        audience: ConversationAudience | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.audience = audience  # who reads what: an alert quotes the watched channel (see synapse_bot/privacy.py)
        self.interval_s = interval_s
        self.bot_user_id = bot_user_id
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()
        self.alerts_sent = 0
        self.hits_deferred = 0

    def _matcher(self, team: str, channel: str) -> _Compiled | None:
        version = self.store.version(team, channel)
        with self._lock:
            compiled = self._compiled.get((team, channel))
            if compiled and compiled.version == version:
                return compiled
        rules = self.store.rules(team, channel) if version else []
        if not rules:
            with self._lock:
                self._compiled.pop((team, channel), None)
            return None
        matcher = KeywordMatcher([])
        per_rule: list[tuple[MonitorRule, set[str]]] = []
        for rule in rules:
            names = set()
            for keyword in rule.keywords:
                try:
                    matcher.add(keyword)
                    names.add(keyword.strip())
                except InvalidKeyword:
                    continue
            per_rule.append((rule, names))
        compiled = _Compiled(version, matcher, per_rule)
        with self._lock:
            self._compiled[(team, channel)] = compiled
        return compiled

    def on_message(self, team: str, event: Mapping[str, Any]) -> int:
        """Alerts sent (or folded into digests) for one channel message event."""
        channel = str(event.get("channel", ""))
        message = message_of(event)
        if not channel or message is None or message.get("user") == self.bot_user_id:
            return 0
        compiled = self._matcher(team, channel)
        if compiled is None:
            return 0
        found = compiled.matcher.find(str(message.get("text", "")))
        if not found:
            return 0
        found_keys = {f.casefold() for f in found}
        fired = 0
        for rules, hits in _by_destination(compiled.rules, found_keys):
            lead = rules[0]
            if not self.store.first_alert_to(team, lead.destination, channel, str(message["ts"])):
                continue  # this person (or channel) was already alerted about this message
            fired += 1
            opened = [self.store.open_window(team, rule.id, self.interval_s) for rule in rules]
            if any(opened):
                self._alert(lead, message, hits)
            else:
                self.store.defer(
                    lead,
                    PendingHit(message_ts=str(message["ts"]), author=str(message["user"]), keywords=hits),
                    self.interval_s,
                )
                self.hits_deferred += 1
        return fired

    # Posting ---------------------------------------------------------------------------------------

    def _destination(self, rule: MonitorRule) -> str:
        if rule.alert_channel:
            return rule.alert_channel
        opened = self.client.conversations_open(users=rule.creator)
        return str(opened["channel"]["id"])

    def _link(self, channel: str, ts: str) -> str | None:
        try:
            return str(self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError:
            return None

    def _private_destination(self, rule: MonitorRule, text: str) -> tuple[str, str] | None:
        """Where an alert may go under the privacy rule, and the text to post; None: nowhere (log only).

        The watched channel is the source. An alert channel some of whose readers cannot read it gets nothing; the
        rule's creator gets the alert by DM with the reason. A creator who can no longer read it gets nothing.
        """
        destination = self._destination(rule)
        if self.audience is None or destination == rule.channel_id:
            return destination, text
        verdict = self.audience.verdict(rule.team_id, [rule.channel_id], destination, rule.creator)
        if verdict.delivery is Delivery.IN_PLACE:
            return destination, text
        if verdict.delivery is Delivery.WITHHELD or not rule.alert_channel:
            log.info("monitor alert withheld", extra={"rule": rule.id, "delivery": verdict.delivery.value})
            return None
        dm = str(self.client.conversations_open(users=rule.creator)["channel"]["id"])
        reason = verdict.reason(f"in <#{rule.alert_channel}>", what="This alert", then="so I sent it to you directly")
        return dm, f"_{reason}_\n\n{text}"

    def _post(self, rule: MonitorRule, text: str) -> None:
        """Every alert and digest leaves through here, neutralised (keywords and snippets are people's text)."""
        text = neutralize_mass_mentions(text)
        try:
            target = self._private_destination(rule, text)
            if target is None:
                return
            destination, text = target
            self.client.chat_postMessage(
                channel=destination,
                text=text,
                unfurl_links=False,
                blocks=[{"type": "markdown", "text": text}],
            )
            self.alerts_sent += 1
        except SlackApiError as exc:
            log.warning("monitor alert not delivered", extra={"rule": rule.id, "error": exc.response.get("error")})

    def _alert(self, rule: MonitorRule, message: Mapping[str, Any], hits: list[str]) -> None:
        snippet = clip_neutralized(" ".join(str(message.get("text", "")).split()), SNIPPET_CHARS)
        link = self._link(rule.channel_id, str(message["ts"]))
        keywords = ", ".join(f"**{k}**" for k in hits)
        text = f"🔔 {keywords} in <#{rule.channel_id}> from <@{message['user']}>:\n> {snippet}"
        if link:
            text += f"\n[View message]({link})"
        self._post(rule, text)

    def flush_digests(self, now: float | None = None) -> int:
        """Post every digest whose interval has ended; returns how many were posted."""
        posted = 0
        for team, channel, rule_id, hits in self.store.take_due_digests(now):
            rule = next((r for r in self.store.rules(team, channel) if r.id == rule_id), None)
            if rule is None:
                continue  # stopped meanwhile
            counts: dict[str, int] = {}
            for hit in hits:
                for keyword in hit.keywords:
                    counts[keyword] = counts.get(keyword, 0) + 1
            summary = ", ".join(f"**{k}** ×{n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
            lines = [
                f"🔔 Digest: {len(hits)} more matching message{'s' if len(hits) != 1 else ''} in "
                f"<#{channel}> ({summary})"
            ]
            for hit in hits[:DIGEST_LIST]:
                link = self._link(channel, hit.message_ts)
                where = f"[message]({link})" if link else hit.message_ts
                lines.append(f"• <@{hit.author}>: {', '.join(hit.keywords)} — {where}")
            if len(hits) > DIGEST_LIST:
                lines.append(f"…and {len(hits) - DIGEST_LIST} more.")
            self._post(rule, "\n".join(lines))
            self.store.open_window(team, rule_id, self.interval_s)
            posted += 1
        return posted


class DigestSweeper:
    """A daemon thread that posts due digests every few seconds (any process may; each digest is claimed once): the
    keyword monitors' and the GitHub subscriptions', each a `flush` returning how many it posted."""

    def __init__(self, flushes: list[Callable[[], int]], every_s: float = 5.0) -> None:
        self.flushes = flushes
        self.every_s = every_s
        self.failed_sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synapse-digests", daemon=True)

    def start(self) -> DigestSweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        report = OutageReport()
        while not self._stop.wait(self.every_s):
            try:
                for flush in self.flushes:
                    flush()
            except Exception as exc:  # Redis or Slack trouble: try again next round
                self.failed_sweeps += 1
                # One line when it starts failing and one a minute while it does (a sweep runs every few seconds);
                # the traceback only at DEBUG.
                now = time.monotonic()
                if report.failed(now):
                    log.warning(
                        f"digests not sent: {network_cause(exc)}; retrying every {self.every_s:.0f} s"
                        + (f" (failing for {report.down_for(now):.0f} s)" if report.down_for(now) else "")
                    )
                log.debug("digest sweep failed", exc_info=True)
            else:
                if report.down_since is not None:
                    log.warning(f"digests sent again after {report.down_for(time.monotonic()):.0f} s")
                    report = OutageReport()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
