"""A scripted OpenAI-compatible chat.completions server, so the real `openai` client runs unchanged in tests.

Replies come from a FIFO script (text, tool calls, JSON content, errors, delays), then from a responder function
when the script is empty. Every request body is recorded. Errors use OpenAI's status codes, headers and JSON
shapes, so the client's own retry logic (429 with Retry-After, 5xx) is exercised for real.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from synapse_sandbox.server import BackgroundServer, StandIn


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the class methods."""

    kind: str
    content: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()
    status: int = 200
    retry_after: float | None = None
    message: str = ""
    delay_s: float = 0.0
    then: Reply | None = None
    piece_delay_s: float = 0.0  # when streamed: the pause between pieces of text (a model writing slowly)

    @classmethod
    def text(cls, content: str) -> Reply:
        return cls("text", content=content)

    @classmethod
    def slowly(cls, content: str, piece_delay_s: float) -> Reply:
        """Text that, when streamed, arrives in 16-character pieces `piece_delay_s` apart."""
        return cls("text", content=content, piece_delay_s=piece_delay_s)

    @classmethod
    def json_content(cls, data: Any) -> Reply:
        return cls("text", content=json.dumps(data))

    @classmethod
    def calls(cls, *calls: tuple[str, dict[str, Any] | str]) -> Reply:
        """Tool calls; a str argument is sent as-is (e.g. invalid JSON)."""
        encoded = tuple((name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls)
        return cls("tools", tool_calls=encoded)

    @classmethod
    def error(cls, status: int, retry_after: float | None = None, message: str = "") -> Reply:
        return cls("error", status=status, retry_after=retry_after, message=message)

    @classmethod
    def delay(cls, seconds: float, then: Reply) -> Reply:
        return cls("delay", delay_s=seconds, then=then)

    @classmethod
    def hang(cls, seconds: float = 60.0) -> Reply:
        return cls("delay", delay_s=seconds, then=cls.text("too late"))


Responder = Callable[[dict[str, Any]], Reply]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def prompt_tokens(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages", []):
        content = message.get("content")
        total += estimate_tokens(content if isinstance(content, str) else json.dumps(content)) + 4
    if body.get("tools"):
        total += estimate_tokens(json.dumps(body["tools"]))
    return total


def _default_responder(body: dict[str, Any]) -> Reply:
    last: dict[str, Any] = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
    return Reply.text("stub: " + str(last.get("content", ""))[:60])


@dataclass
class OpenAIServer(StandIn):
    api_key: str = "sk-sandbox-key"
    known_models: set[str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    peak_in_flight: int = 0  # most requests answered at the same time (are calls made side by side?)
    _in_flight: int = 0
    first_tokens: list[float] = field(default_factory=list)  # time.time() when each streamed answer's text began
    _script: list[Reply] = field(default_factory=list)
    _responder: Responder = _default_responder
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        self._server = BackgroundServer(app)

    # Control ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.base_url + "/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def set_responder(self, responder: Responder) -> None:
        self._responder = responder

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= n:
                return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {n} model requests, got {len(self.requests)}")

    # Server ----------------------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self._responder(body)

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        models = sorted(self.known_models or {"gpt-4o-mini"})
        return web.json_response(
            {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "sandbox"} for m in models]}
        )

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        headers = {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in request.headers.items()}
        self.requests.append({**body, "_headers": headers})
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        model = str(body.get("model", ""))
        if self.known_models is not None and model not in self.known_models:
            return _error(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")
        reply = self._next(body)
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            while reply.kind == "delay":
                await asyncio.sleep(reply.delay_s)
                assert reply.then is not None
                reply = reply.then
        finally:
            self._in_flight -= 1
        if reply.kind == "error":
            return _status_error(reply)
        if body.get("stream"):
            return await self._stream(request, body, reply)
        if reply.piece_delay_s and reply.content:  # not streamed: the whole answer arrives once written
            self.first_tokens.append(time.time())
            await asyncio.sleep(reply.piece_delay_s * len(_pieces(reply.content, 16)))
        return web.json_response(self._completion(body, reply))

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function", "function": {"name": n, "arguments": a}}
                for n, a in reply.tool_calls
            ]
        completion = estimate_tokens((reply.content or "") + "".join(a for _, a in reply.tool_calls))
        prompt = prompt_tokens(body)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "system_fingerprint": "fp_stub",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
        }

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for index, piece in enumerate(_pieces(reply.content or "", 16)):
            await send({"content": piece})
            if index == 0:
                self.first_tokens.append(time.time())
            if reply.piece_delay_s:
                await asyncio.sleep(reply.piece_delay_s)
        for index, (name, arguments) in enumerate(reply.tool_calls):
            await send(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": f"call_{next(self._ids)}",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ]
                }
            )
        await send({}, "tool_calls" if reply.tool_calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = self._completion(body, reply)["usage"]
            await response.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _pieces(text: str, size: int) -> Sequence[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _error(
    status: int, message: str, kind: str, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}, status=status, headers=headers
    )


def _status_error(reply: Reply) -> web.Response:
    headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
    if reply.status == 429:
        return _error(
            429, reply.message or "Rate limit reached for requests", "requests", "rate_limit_exceeded", headers
        )
    if reply.status >= 500:
        return _error(
            reply.status,
            reply.message or "The server had an error while processing your request.",
            "server_error",
            None,
            headers,
        )
    return _error(reply.status, reply.message or "Bad request", "invalid_request_error", None, headers)
