"""What a trace's row in MLflow's trace list says: the request and response previews, who asked and in which thread.

Pure functions over a finished RequestTrace. Without SYNAPSE_TRACE_CONTENT the previews say what kind of request it
was, which path and tools it took and how it ended, never what anyone wrote; with it, the message and the answer
follow. Everything here passes through the Scrubber, so secrets never reach the previews either.
"""

from __future__ import annotations

from dataclasses import dataclass

from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.trace import RequestTrace, SpanRecord

PREVIEW_CHARS = 300  # MLflow keeps up to 1,000; a list row shows far fewer


@dataclass(frozen=True)
class TraceStory:
    request_preview: str
    response_preview: str
    user: str | None  # Slack user id: MLflow's mlflow.trace.user
    session: str | None  # the Slack thread, "<thread ts>@<channel>": MLflow's mlflow.trace.session
    prompt_tokens: int
    completion_tokens: int


def _clip(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tools(trace: RequestTrace) -> list[str]:
    seen: list[str] = []
    for span in trace.walk():
        if span.name.startswith("tool."):
            name = span.name.removeprefix("tool.")
            if name not in seen:
                seen.append(name)
    return seen


def _llm_spans(trace: RequestTrace) -> list[SpanRecord]:
    return [span for span in trace.walk() if span.span_type == "LLM"]


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _outcome(trace: RequestTrace) -> str:
    root = trace.root
    attrs = root.attributes
    if root.status == "ERROR":
        return f"error ({root.error})" if root.error else "error"
    if attrs.get("limited"):
        return "refused: rate limit"
    if attrs.get("tool_error"):
        return "answered with a problem"
    reply = next((s for s in root.children if s.name == "slack.reply"), None)
    if reply is not None and reply.attributes.get("skipped"):
        return f"not reposted ({reply.attributes['skipped']})"
    return "ok"


def _path(trace: RequestTrace) -> str | None:
    path = trace.root.attributes.get("path")
    return {"fast": "fast path", "llm": "via the model", "offline": "offline"}.get(str(path)) if path else None


def tell(trace: RequestTrace, scrubber: Scrubber) -> TraceStory:
    """The list-row story of one finished request (the scrubber decides whether message text may appear)."""
    attrs = trace.root.attributes
    kind = str(attrs.get("kind") or trace.root.name.removeprefix("slack."))
    tools = _tools(trace)
    llm = _llm_spans(trace)
    prompt = sum(_int(s.attributes.get("prompt_tokens")) for s in llm)
    completion = sum(_int(s.attributes.get("completion_tokens")) for s in llm)

    request = [kind]
    if attrs.get("action"):
        request.append(str(attrs["action"]))
    if path := _path(trace):
        request.append(path)
    if tools:
        request.append("tools: " + ", ".join(tools))
    request_preview = " · ".join(request)

    response = [_outcome(trace)]
    if llm:
        response.append(f"{len(llm)} model call{'s' if len(llm) != 1 else ''}, {prompt + completion:,} tokens")
    response_preview = " · ".join(response)

    if scrubber.trace_content:
        if isinstance(text := attrs.get("text"), str) and text.strip():
            request_preview += f' — "{scrubber.text(text)}"'
        if isinstance(reply := attrs.get("reply"), str) and reply.strip():
            response_preview += f' — "{scrubber.text(reply)}"'

    user, thread, channel = attrs.get("user"), attrs.get("thread"), attrs.get("channel")
    return TraceStory(
        request_preview=_clip(scrubber.text(request_preview)),
        response_preview=_clip(scrubber.text(response_preview)),
        user=str(user) if user else None,
        # The thread's own timestamp first: MLflow's list shows a session's first characters only.
        session=f"{thread}@{channel}" if channel and thread else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )
