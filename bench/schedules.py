"""Schedules at scale: 10,000 schedules in Redis — the memory they take, the CPU an idle `run` spends per hour with
them on its due index, and how late the posts are (p95, target ≤ 2 s) when a batch falls due in the same minutes.

Against the naive way: a scheduler that wakes every second and reads every schedule to find the due ones (its cost
is measured here as one such scan, times 3,600 an hour). Runs `python -m synapse_bot run` (tracing on) against the
Slack and GitHub stand-ins; the schedules are written with the bot's own store, as `remind … every … at …` would.

    python -m bench.schedules [--quick] [--schedules 10000] [--due 60] [--out bench/results/schedules.json]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bench.harness import deployment, percentile, run_time_seconds, write_json
from synapse_bot.schedules.model import Schedule, ScheduleKind
from synapse_bot.store.keys import Keys
from synapse_bot.store.schedules import ScheduleStore
from synapse_sandbox.github_server import GitHubServer

REPOS = ("acme/widgets", "acme/api", "acme/web")


def github() -> GitHubServer:
    """Three repositories with five pull requests waiting each (a reminder reads 17 times per repository)."""
    server = GitHubServer().start()
    for repo in REPOS:
        server.add_repo(repo)
        for n in range(5):
            server.add_pull(repo, f"Change {n} waiting for review", user="carol", requested_reviewers=["bob"])
    return server


def schedule(team: str, owner: str, channel: str, days: list[int], at: str, repo: str = REPOS[0]) -> Schedule:
    return Schedule(
        team_id=team,
        kind=ScheduleKind.REVIEWS,
        owner=owner,
        channel_id=channel,
        repos=[repo],
        days=days,
        at=at,
        tz="UTC",
        created_at=time.time(),
    )


def naive_scan_s(store: ScheduleStore, team: str) -> float:
    """One look of the naive way: every schedule read and its next due time computed."""
    started = time.perf_counter()
    now = time.time()
    for item in store.team_schedules(team):
        item.due_after(now - 1)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 schedules, 20 due, a 20 s idle window")
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=60, help="how many fall due in the next few minutes")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/schedules.json"))
    args = parser.parse_args()
    total, due_count, idle_s = (1_000, 20, 20.0) if args.quick else (args.schedules, args.due, args.idle_seconds)
    rng = random.Random(27)
    server = github()
    try:
        with deployment(GITHUB_TOKEN=server.token, GITHUB_API_URL=server.base_url) as deploy:
            bot = deploy.launch("run")
            client = redis.Redis.from_url(deploy.redis.url)
            store = ScheduleStore(client, Keys(deploy.env["SYNAPSE_KEY_PREFIX"]))
            team, channel = deploy.slack.team_id, deploy.channel
            # Far off: on the weekday three days from now, so none falls due while this runs.
            far_day = (datetime.now(UTC) + timedelta(days=3)).weekday()
            before = int(client.info("memory")["used_memory"])
            for _ in range(total - due_count):
                far = schedule(
                    team,
                    rng.choice(deploy.users),
                    channel,
                    [far_day],
                    f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                )
                store.save(far, far.due_after(time.time()))
            memory = int(client.info("memory")["used_memory"]) - before
            # The batch: due at the next three whole minutes (at least 30 s from now), a third each.
            start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
            if (start - datetime.now(UTC)).total_seconds() < 30:
                start += timedelta(minutes=1)
            due_at: dict[str, float] = {}
            for i in range(due_count):
                moment = start + timedelta(minutes=i % 3)
                soon = schedule(
                    team, rng.choice(deploy.users), channel, list(range(7)), f"{moment:%H:%M}", rng.choice(REPOS)
                )
                due_at[soon.id] = moment.timestamp()
                store.save(soon, moment.timestamp())
            deadline = start.timestamp() + 3 * 60 + 60
            posted: dict[str, float] = {}
            while len(posted) < due_count and time.time() < deadline:
                for message in deploy.slack.bot_messages(channel):
                    key = str(((message.get("metadata") or {}).get("event_payload") or {}).get("request", ""))
                    parts = key.split(":")
                    if len(parts) == 3 and parts[0] == "schedule" and parts[1] in due_at:
                        posted.setdefault(parts[1], float(message["ts"]) - due_at[parts[1]])
                time.sleep(0.2)
            lateness = list(posted.values())
            # Idle, with every schedule on the index (the next due days away).
            time.sleep(5)
            cpu_before, wall_before = run_time_seconds(bot.pid), time.monotonic()
            time.sleep(idle_s)
            idle_ms_per_s = (run_time_seconds(bot.pid) - cpu_before) * 1000 / (time.monotonic() - wall_before)
            scan = naive_scan_s(store, team)
            health = bot.health()[1]
    finally:
        server.stop()
    results: dict[str, Any] = {
        "schedules": total,
        "redis_bytes_per_schedule": round(memory / max(1, total - due_count)),
        "redis_mb": round(memory / 1e6, 1),
        "due": due_count,
        "posted": len(posted),
        "lateness_p50_s": round(percentile(lateness, 50), 2),
        "lateness_p95_s": round(percentile(lateness, 95), 2),
        "lateness_max_s": round(max(lateness), 2) if lateness else None,
        "idle_run_ms_per_s": round(idle_ms_per_s, 2),
        "idle_cpu_s_per_hour": round(idle_ms_per_s * 3.6, 2),
        "naive_scan_ms": round(scan * 1000, 1),
        "naive_cpu_s_per_hour": round(scan * 3600, 1),
        "scheduler": health.get("schedules"),
    }
    print(f"{total:,} schedules: {results['redis_mb']} MB in Redis ({results['redis_bytes_per_schedule']} bytes each)")
    print(
        f"{len(posted)}/{due_count} due in the same three minutes posted; lateness p50 {results['lateness_p50_s']} s, "
        f"p95 {results['lateness_p95_s']} s (target ≤ 2 s), max {results['lateness_max_s']} s"
    )
    print(
        f"idle `run` with them on its index: {results['idle_run_ms_per_s']} ms/s = {results['idle_cpu_s_per_hour']} "
        f"CPU s/hour; the naive way (read every schedule every second): {results['naive_scan_ms']} ms a look = "
        f"{results['naive_cpu_s_per_hour']} CPU s/hour"
    )
    write_json(args.out, results)


if __name__ == "__main__":
    main()
