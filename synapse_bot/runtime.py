"""Wire settings into a running bot: Redis, MLflow, the dispatcher, workers, and the Socket Mode connection.

`Runtime` is what `synapse-bot run`, `demo` and the integration tests start; everything it builds is passed
down explicitly, so two runtimes (two "processes") can live side by side in one test.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from synapse_bot.app import build_app, build_web_client
from synapse_bot.config import ConfigError, Settings
from synapse_bot.dispatch.dispatcher import Dispatcher, build_llm
from synapse_bot.integrations.github import GitHubClient
from synapse_bot.integrations.slack import SlackReplier
from synapse_bot.jobs.handle import RequestHandler
from synapse_bot.jobs.runner import InProcessRunner
from synapse_bot.listeners.intake import Intake
from synapse_bot.monitors.alerts import AlertRouter, DigestSweeper
from synapse_bot.store.connection import open_redis
from synapse_bot.store.dedupe import EventDeduper
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.store.keys import Keys
from synapse_bot.store.memory import ThreadMemory
from synapse_bot.store.monitors import MonitorStore
from synapse_bot.store.pending import PendingWrites
from synapse_bot.store.summaries import SummaryCache
from synapse_bot.tools.context import ToolServices
from synapse_bot.tools.registry import ToolRegistry, default_registry
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.recorder import MlflowRecorder, NullRecorder, TraceSink

log = logging.getLogger(__name__)


def build_sink(settings: Settings) -> TraceSink:
    if not settings.tracking_enabled:
        return NullRecorder()
    if not settings.mlflow_tracking_uri:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    scrubber = Scrubber(settings.secrets(), settings.trace_redact_patterns, settings.trace_content)
    return MlflowRecorder(
        settings.tracking_uri,
        settings.mlflow_experiment_name,
        queue_size=settings.tracking_queue_size,
        scrubber=scrubber,
        metrics_interval_s=settings.metrics_interval_seconds,
    )


class Runtime:
    def __init__(self, settings: Settings, *, registry: ToolRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or default_registry()
        self.redis: redis.Redis | None = None
        self.embedded_redis: EmbeddedRedis | None = None
        self.sink: TraceSink = NullRecorder()
        self.runner: InProcessRunner | None = None
        self.app: App | None = None
        self.socket: SocketModeHandler | None = None
        self.bot_user_id: str | None = None
        self.services: ToolServices | None = None
        self.alerts: AlertRouter | None = None
        self.sweeper: DigestSweeper | None = None
        self._stopped = threading.Event()

    def start(self) -> Runtime:
        bot_token, app_token = self.settings.require_slack()
        client = build_web_client(self.settings, bot_token)
        try:
            identity = client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise ConfigError(
                [
                    f"Slack rejected SLACK_BOT_TOKEN ({error}) at {self.settings.slack_api_url}: check the token, "
                    "and that the app is installed to the workspace."
                ]
            ) from None
        self.bot_user_id = str(identity.get("user_id"))
        self.redis, self.embedded_redis = open_redis(self.settings)
        self.sink = build_sink(self.settings)
        keys = Keys(self.settings.key_prefix)
        memory = ThreadMemory(
            self.redis, keys, max_turns=self.settings.memory_turns, ttl_seconds=self.settings.memory_ttl_seconds
        )
        monitor_store = MonitorStore(self.redis, keys)
        services = ToolServices(
            slack=client,
            redis=self.redis,
            keys=keys,
            bot_user_id=self.bot_user_id,
            summaries=SummaryCache(self.redis, keys, self.settings.summary_ttl_seconds),
            monitors=monitor_store,
            github=GitHubClient(self.settings),
            pending=PendingWrites(self.redis, keys),
        )
        self.services = services
        dispatcher = Dispatcher(
            self.registry, self.settings, llm=build_llm(self.settings), memory=memory, services=services
        )
        self.alerts = AlertRouter(
            monitor_store,
            client,
            interval_s=self.settings.monitor_alert_interval_seconds,
            bot_user_id=self.bot_user_id,
        )
        self.sweeper = DigestSweeper(self.alerts, every_s=min(5.0, self.settings.monitor_alert_interval_seconds / 2))
        self.sweeper.start()
        handler = RequestHandler(
            dispatcher, SlackReplier(client), self.sink, self.alerts, feedback=self.settings.tracking_enabled
        )
        self.runner = InProcessRunner(handler, threads=self.settings.worker_threads)
        deduper = EventDeduper(self.redis, keys, self.settings.dedupe_ttl_seconds)
        self.app = build_app(client, Intake(deduper, self.runner.submit))
        self.socket = SocketModeHandler(self.app, app_token=app_token, logger=logging.getLogger("slack_sdk.socket"))
        self.socket.connect()
        log.info(
            "synapse connected",
            extra={
                "bot_user_id": self.bot_user_id,
                "team": identity.get("team_id"),
                "offline": self.settings.offline,
            },
        )
        return self

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def connected(self) -> bool:
        return bool(self.socket and self.socket.client.is_connected())

    def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Close the socket first (no new work), then finish the jobs in flight, then flush tracking."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.socket is not None:
            try:
                self.socket.close()
            except Exception:
                log.debug("socket close failed", exc_info=True)
        if self.runner is not None:
            self.runner.shutdown(wait=True)
        if self.sweeper is not None:
            self.sweeper.stop()
        self.sink.close(timeout=10.0)
        if self.redis is not None:
            self.redis.close()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
        log.info("synapse stopped")
