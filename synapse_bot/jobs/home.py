"""Publish a person's Home tab: their monitors (with Stop buttons), their recent summaries, and for admins the
deployment's figures of the last day (from the hourly aggregates in Redis, never from reading traces)."""

from __future__ import annotations

import logging

import redis
from slack_sdk import WebClient

from synapse_bot.config import Settings
from synapse_bot.integrations.slack import SlackReplier
from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.jobs.home_view import RecentSummary, build_home_view
from synapse_bot.request import SlackRequest
from synapse_bot.schedules.model import Schedule
from synapse_bot.store.activity import ActivityLog
from synapse_bot.store.keys import Keys
from synapse_bot.store.monitors import MonitorStore
from synapse_bot.store.schedules import ScheduleStore
from synapse_bot.store.summaries import SummaryCache
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tools.slack_reading import is_admin_user
from synapse_bot.tracking.trace import RequestTrace

log = logging.getLogger(__name__)

STATS_HOURS = 24


class HomePublisher:
    def __init__(
        self,
        settings: Settings,
        registry: ToolRegistry,
        replier: SlackReplier,
        client: WebClient,
        redis_client: redis.Redis,
        keys: Keys,
        *,
        monitors: MonitorStore,
        summaries: SummaryCache,
        activity: ActivityLog,
        schedules: ScheduleStore | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.replier = replier
        self.client = client
        self.redis = redis_client
        self.keys = keys
        self.monitors = monitors
        self.schedules = schedules
        self.summaries = summaries
        self.activity = activity

    def __call__(self, request: SlackRequest, trace: RequestTrace) -> None:
        monitors = []
        schedules: list[Schedule] = []
        recent: list[RecentSummary] = []
        with trace.span("home.gather"):
            try:
                monitors = [r for r in self.monitors.all_rules(request.team_id) if r.creator == request.user_id]
                if self.schedules is not None:
                    mine = self.schedules.team_schedules(request.team_id)
                    schedules = [s for s in mine if s.owner == request.user_id]
                for channel, ts in self.summaries.recent_for(request.team_id, request.user_id):
                    entry = self.summaries.get(request.team_id, channel, ts)
                    if entry is not None:
                        recent.append(RecentSummary(channel, ts, entry.summary.tldr, entry.message_count))
            except (redis.RedisError, OSError):
                log.warning("home tab without stored data: redis unavailable")
            admin_stats = self._admin_stats(request)
        with trace.span("slack.views_publish"):
            view = build_home_view(self.registry, self.settings, monitors, recent, admin_stats, schedules)
            self.replier.publish_home(request.user_id, view)

    def _admin_stats(self, request: SlackRequest) -> str | None:
        """The last day's figures for admins; None for everyone else."""
        reader = SlackReader(self.client, self.redis, self.keys, request.team_id)
        if not is_admin_user(self.settings.admin_ids, reader, request.user_id):
            return None
        try:
            return self.activity.last(STATS_HOURS).render(STATS_HOURS)
        except (redis.RedisError, OSError):
            return "Statistics are unavailable right now (Redis could not be read)."
