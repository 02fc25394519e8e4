"""The GitHub webhook receiver, for teams whose GitHub can reach Synapse: `POST /github/webhook` on
SYNAPSE_GITHUB_WEBHOOK_HOST:SYNAPSE_GITHUB_WEBHOOK_PORT.

Each delivery is answered within GitHub's 10 s, with the work queued for the events job (the same job the poller
feeds, so an event seen by both is posted once):

- 401 unless `X-Hub-Signature-256` is the HMAC-SHA256 of the raw body with SYNAPSE_GITHUB_WEBHOOK_SECRET (compared
  in constant time); 413 for a body over GitHub's own 25 MB cap, 411 without a length, 400 for a delivery that is
  not what GitHub sends (no event or delivery id, a body that is not JSON);
- 200 for a `ping` and for a delivery already received (redeliveries reuse `X-GitHub-Delivery`);
- 202 once queued, or when there is nothing to do (an event kind Synapse does not post, a repository no channel
  subscribes to: the body says which); 503 when it cannot be queued (Redis is down), so the delivery shows as
  failed in GitHub and can be redelivered — the poller catches up with it anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from synapse_bot.background.github_poller import BatchSubmitter
from synapse_bot.feed.payloads import WEBHOOK_EVENTS, PayloadError, from_webhook, webhook_repo
from synapse_bot.serving import ServerThread
from synapse_bot.store.dedupe import EventDeduper
from synapse_bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

PATH = "/github/webhook"
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
READ_TIMEOUT_S = 10.0  # a sender slower than GitHub's own delivery timeout is dropped


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`, checked in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def _payload(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON body, or the `payload` field GitHub sends when the hook's content type is form-encoded."""
    text = body.decode("utf-8")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(text)
        text = (fields.get("payload") or [""])[0]
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the payload is not a JSON object")
    return data


class WebhookHandling:
    """What a delivery gets, apart from HTTP: verified, deduplicated, turned into observations and queued."""

    def __init__(
        self, secret: str, deliveries: EventDeduper, subscriptions: SubscriptionStore, batches: BatchSubmitter
    ) -> None:
        self._secret = secret
        self._deliveries = deliveries
        self._subscriptions = subscriptions
        self._batches = batches
        self.queued = 0

    def handle(self, headers: dict[str, str], body: bytes) -> Answer:
        if not signature_valid(self._secret, body, headers.get("x-hub-signature-256")):
            return Answer(
                401,
                {
                    "error": "X-Hub-Signature-256 is missing or does not match: the webhook's secret must be "
                    "SYNAPSE_GITHUB_WEBHOOK_SECRET"
                },
            )
        event, delivery = headers.get("x-github-event", ""), headers.get("x-github-delivery", "")
        if not event or not delivery:
            return Answer(400, {"error": "X-GitHub-Event and X-GitHub-Delivery are required (GitHub sends both)"})
        try:
            payload = _payload(body, headers.get("content-type", "application/json"))
        except (UnicodeDecodeError, ValueError) as exc:
            return Answer(400, {"error": f"the body is not a GitHub webhook payload ({str(exc)[:120]})"})
        if event == "ping":
            return Answer(200, {"ok": True, "pong": True, "path": PATH})
        if event not in WEBHOOK_EVENTS:
            return Answer(202, {"ignored": f"Synapse does not post {event} events", "events": list(WEBHOOK_EVENTS)})
        repo = webhook_repo(payload)
        try:
            if repo is None or not self._subscriptions.for_repo(repo):
                return Answer(202, {"ignored": f"no channel subscribes to {repo or 'this repository'}"})
            if not self._deliveries.claim("all", f"github-delivery:{delivery}"):
                return Answer(200, {"ok": True, "duplicate": delivery})
        except (redis.RedisError, OSError):
            return Answer(503, {"error": "Synapse cannot reach its Redis; redeliver this later"})
        try:
            seen = from_webhook(event, payload)
        except PayloadError as exc:
            self._release(delivery)
            return Answer(400, {"error": str(exc)})
        if seen is None:
            return Answer(202, {"ignored": f"{event} {payload.get('action', '')} is not posted".strip()})
        try:
            self._batches.submit_github(seen)
        except (redis.RedisError, OSError) as exc:
            self._release(delivery)
            log.warning("webhook delivery not queued", extra={"delivery": delivery, "error": type(exc).__name__})
            return Answer(503, {"error": "Synapse cannot queue events right now (Redis is down); redeliver later"})
        self.queued += 1
        return Answer(202, {"queued": True, "delivery": delivery})

    def _release(self, delivery: str) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self._deliveries.release("all", f"github-delivery:{delivery}")


class WebhookReceiver:
    """The HTTP side: one path, POST only, a length cap, a read timeout; each request on its own thread."""

    def __init__(self, host: str, port: int, handling: WebhookHandling) -> None:
        self.handling = handling

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_S
            server_version = "synapse-webhook"

            def _answer(self, answer: Answer) -> None:
                data = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.split("?")[0] == PATH:
                    self._answer(Answer(405, {"error": f"GitHub webhooks POST to {PATH}"}))
                else:
                    self._answer(Answer(404, {"error": f"the webhook path is {PATH}"}))

            def do_POST(self) -> None:
                if self.path.split("?")[0] != PATH:
                    self._answer(Answer(404, {"error": f"the webhook path is {PATH}"}))
                    return
                length = self.headers.get("Content-Length")
                if length is None or not length.strip().isdigit():
                    self.close_connection = True
                    self._answer(Answer(411, {"error": "a Content-Length is required"}))
                    return
                if int(length) > MAX_BODY_BYTES:
                    self.close_connection = True  # the body is not read
                    self._answer(Answer(413, {"error": f"payloads over {MAX_BODY_BYTES} bytes are refused"}))
                    return
                try:
                    body = self.rfile.read(int(length))
                except TimeoutError:
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    answer = handling.handle(headers, body)
                except Exception:
                    log.exception("webhook delivery failed")
                    answer = Answer(500, {"error": "Synapse failed on this delivery; it is logged"})
                self._answer(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._serving = ServerThread(self._server, "synapse-github-webhook")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> WebhookReceiver:
        self._serving.start()
        log.info("github webhook receiver listening", extra={"port": self.port, "path": PATH})
        return self

    def stop(self) -> None:
        self._serving.stop()
