"""Is a message in a channel thread meant for Synapse? The follow-up rule, pure.

In a thread where Synapse has answered, people go on talking among themselves. A message without a mention is
answered only when it is meant for Synapse: from someone who has asked Synapse in that thread, soon after its last
answer, reading as a question or request to it. Most messages are decided by their words alone; a question that
could be for anyone is `CHECK`: the job asks the model, in one small call, before answering (offline it is left).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Addressed(StrEnum):
    ANSWER = "answer"  # meant for Synapse: answer it
    CHECK = "check"  # a question that may be for Synapse or for the people: one small model call decides
    IGNORE = "ignore"  # people talking among themselves (or to someone else): stay quiet


@dataclass(frozen=True)
class ThreadFacts:
    """What Synapse knows of the thread and the writer: did they ask Synapse here, and how long ago it answered."""

    asked_here: bool
    seconds_since_answer: float | None  # None: not known


_OTHER_PING = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|<!(?:subteam\^[A-Z0-9]+|here|channel|everyone)[^>]*>")
_EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+:")
_ACK = re.compile(
    r"^(?:thanks?(?: a lot| so much| again)?|thank you(?: so much)?|thx|ty|tysm|cheers|much appreciated|"
    r"\+1|agreed|agree|same|ok(?:ay)?|k|kk|cool|great|nice|perfect|awesome|amazing|got it|gotcha|sounds good|"
    r"lgtm|makes sense|fair|true|yes|yep|yeah|yup|no|nope|nah|sure|done|will do|on it|noted|right|exactly|"
    r"good (?:call|point|catch)|haha|lol|wow|oops|ack|roger)(?:[\s,!.]+(?:synapse|bot|thanks?|all))*[\s!.]*$",
    re.I,
)
_GROUP = re.compile(
    r"\b(?:does|do|did|has|have|can|could|would|will|is|are)\s+(?:any(?:one|body)|some(?:one|body)|every(?:one|body)|"
    r"you all|y'?all|you guys|folks|people|the team)\b|^(?:any(?:one|body)|some(?:one|body)|folks|team|all|"
    r"every(?:one|body)|guys)\b|\bany(?:one|body)\s+(?:know|knows|seen|tried|else|around|able)\b|"
    r"\bwho(?:'s| is)?\s+(?:around|free|on call|available|up for)\b",
    re.I,
)
_TO_SYNAPSE = re.compile(
    r"^\s*(?:hey\s+|hi\s+|ok\s+)?(?:synapse|bot)\b|\bsynapse\b|\b(?:can|could|would|will)\s+you\b|^\s*(?:please|pls|plz)\b|"
    r"\bfor me\b|^\s*(?:and|also|now|then|ok(?:ay)?|great|thanks?)[,\s]+(?:can|could|please|what|how|why|show|"
    r"summari[sz]e|check|list|search|find|tell)\b",
    re.I,
)
_REQUEST = re.compile(
    r"^\s*(?:summari[sz]e|recap|search|find|show|list|triage|review|explain|describe|tell me|give me|check|"
    r"look (?:up|into|at)|compare|draft|write|translate|rewrite|what about|how about|and (?:what|how|why|where|when|"
    r"who)|what else|anything else|more (?:detail|details|on))\b",
    re.I,
)
_QUESTION_START = re.compile(
    r"^\s*(?:what|why|how|when|where|who|whom|whose|which|is|are|was|were|does|do|did|can|could|should|would|will|"
    r"has|have|any)\b",
    re.I,
)


def _plain(text: str) -> str:
    """The words of a message: no emoji, no :shortcodes:, no links' labels in brackets, collapsed spaces."""
    text = _EMOJI_CODE.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cf", "Cs"))
    return " ".join(text.split())


def addressed(text: str, facts: ThreadFacts, *, window_s: float, bot_user_id: str) -> Addressed:
    """The follow-up rule for a message without a mention of Synapse, in a channel thread it has answered in."""
    if _OTHER_PING.search(text.replace(f"<@{bot_user_id}>", "")):
        return Addressed.IGNORE  # written to someone else, or to a group
    if not facts.asked_here:
        return Addressed.IGNORE  # only the people who asked Synapse here get answers without asking again
    if facts.seconds_since_answer is None or facts.seconds_since_answer > window_s:
        return Addressed.IGNORE  # the conversation has moved on
    words = _plain(text)
    if not words or _ACK.match(words):
        return Addressed.IGNORE  # an emoji, "thanks", "+1", "agreed": no answer needed
    if _GROUP.search(words):
        return Addressed.IGNORE  # "does anyone know…": put to the people
    if _TO_SYNAPSE.search(words) or _REQUEST.match(words):
        return Addressed.ANSWER
    if "?" in words or _QUESTION_START.match(words):
        return Addressed.CHECK
    return Addressed.IGNORE  # a statement
