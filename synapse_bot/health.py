"""Health for orchestrators: `GET /health` on SYNAPSE_HEALTH_PORT, and `synapse-bot health` to query it.

The body is JSON: the process shape, whether the Socket Mode connection is up (gateways), whether Redis answers,
whether jobs are running in degraded in-process mode, and job counts. The status code is 200 while the process
can serve (a Redis outage is "degraded", still 200: restarting would not help), 503 when it cannot (a gateway whose
socket is down).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from synapse_bot.serving import ServerThread

log = logging.getLogger(__name__)

HealthReport = Callable[[], dict[str, Any]]


def status_code(report: dict[str, Any]) -> int:
    return 503 if report.get("status") == "down" else 200


class HealthServer:
    def __init__(self, host: str, port: int, report: HealthReport) -> None:
        report_fn = report

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/health", "/healthz", "/"):
                    self.send_error(404, "try /health")
                    return
                try:
                    body = report_fn()
                except Exception as exc:  # a broken probe is itself a failed health check
                    body = {"status": "down", "error": type(exc).__name__}
                data = json.dumps(body).encode()
                self.send_response(status_code(body))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: keep logs quiet
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._serving = ServerThread(self._server, "synapse-health")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._serving.start()
        log.info("health endpoint listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._serving.stop()


def query(url: str, timeout_s: float = 3.0) -> tuple[int, dict[str, Any]]:
    """GET a health URL: (status code, body); (0, {error}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return int(exc.code), json.loads(exc.read() or b"{}")
        except json.JSONDecodeError:
            return int(exc.code), {}
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        return 0, {"status": "unreachable", "error": str(getattr(exc, "reason", exc))}
