"""The sandbox's Socket Mode endpoint: hello, envelopes to one connection each, acks, redelivery, disconnects.

As on Slack: each envelope goes to one of the app's connections (Slack promises no order, so the sandbox
picks at random from a fixed seed: reproducible, with no strict alternation for a test to lean on); an envelope
not acknowledged within the ack timeout is sent again with `retry_attempt` + 1 and `retry_reason: "timeout"`
(at most 3 retries); envelopes that arrive while no connection is open wait and are delivered on the next connect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)
MAX_RETRIES = 3


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""
    delivered_at: float | None = None
    deliveries: int = 0

    def wire(self) -> str:
        body: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = self.retry_reason
        return json.dumps(body)


@dataclass
class AckRecord:
    envelope_id: str
    received_at: float
    latency_s: float
    payload: dict[str, Any] | None = None
    count: int = 1


@dataclass
class SocketHub:
    app_id: str
    ack_timeout: float
    loop: asyncio.AbstractEventLoop | None = None
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    envelopes: dict[str, Envelope] = field(default_factory=dict)
    acks: dict[str, AckRecord] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    _pick: random.Random = field(default_factory=lambda: random.Random(7))
    connects: int = 0
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)

    # Server side ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self.connects += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.connections),
                    "debug_info": {"host": "sandbox-socket", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        await self._flush_pending()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(message.data)
                elif message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
        return ws

    def _on_text(self, data: str) -> None:
        try:
            body = json.loads(data)
        except json.JSONDecodeError:
            return
        envelope_id = body.get("envelope_id")
        envelope = self.envelopes.get(str(envelope_id))
        if envelope is None:
            return
        now = time.monotonic()
        latency = now - (envelope.delivered_at or now)
        previous = self.acks.get(envelope.envelope_id)
        self.acks[envelope.envelope_id] = AckRecord(
            envelope.envelope_id, time.time(), latency, body.get("payload"), (previous.count + 1) if previous else 1
        )

    # Delivery ------------------------------------------------------------------------------------

    async def deliver(self, envelope_id: str) -> None:
        envelope = self.envelopes[envelope_id]
        live = [ws for ws in self.connections if not ws.closed]
        if not live:
            if envelope_id not in self.pending:
                self.pending.append(envelope_id)
            return
        ws = self._pick.choice(live)
        envelope.delivered_at = time.monotonic()
        envelope.deliveries += 1
        self.acks.pop(envelope_id, None)
        try:
            await ws.send_str(envelope.wire())
        except (ConnectionResetError, RuntimeError):
            self.pending.append(envelope_id)
            return
        asyncio.get_running_loop().call_later(self.ack_timeout, self._check_ack, envelope_id, envelope.deliveries)

    def _check_ack(self, envelope_id: str, delivery: int) -> None:
        envelope = self.envelopes[envelope_id]
        if envelope_id in self.acks or envelope.deliveries != delivery:
            return
        if envelope.retry_attempt >= MAX_RETRIES:
            log.info("envelope dropped after retries", extra={"envelope_id": envelope_id})
            return
        envelope.retry_attempt += 1
        envelope.retry_reason = "timeout"
        task = asyncio.ensure_future(self.deliver(envelope_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_pending(self) -> None:
        waiting, self.pending = self.pending, []
        for envelope_id in waiting:
            await self.deliver(envelope_id)

    def new_envelope(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0, retry_reason: str = "") -> str:
        envelope = Envelope(uuid.uuid4().hex, kind, payload, kind != "events_api", retry_attempt, retry_reason)
        self.envelopes[envelope.envelope_id] = envelope
        return envelope.envelope_id

    # Control -------------------------------------------------------------------------------------

    async def disconnect_all(self, reason: str, close_after: float) -> None:
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "sandbox-socket"}})
        doomed = list(self.connections)
        for ws in doomed:
            if not ws.closed:
                await ws.send_str(message)
        await asyncio.sleep(close_after)
        for ws in doomed:
            await ws.close()

    async def drop_all(self) -> None:
        for ws in list(self.connections):
            self.connections.remove(ws)
            await ws.close(code=1006)
