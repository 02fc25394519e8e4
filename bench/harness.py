"""Shared pieces of the end-to-end benchmarks: a deployment of real Synapse processes against the stand-ins.

Processes run with Synapse's defaults, as the README tells people to run it: MLflow tracking on, into the default
sqlite store under the deployment's data directory. A benchmark that measures anything else says so in its output
(`tracking_label`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import BotProcess, cluster_env, free_port


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_time_seconds(pid: int) -> float:
    """The scheduler's run time of a process's live threads, to the nanosecond (/proc/PID/task/*/schedstat). Idle
    figures use this: user + system time is sampled at the clock tick (10 ms), so an idle process's wakeups of a
    fraction of a millisecond are counted as nothing or as whole ticks (the same idle `run` read 0.0 ms/s from
    /proc/PID/stat and 1.1 ms/s from schedstat over one 60 s window). Threads that ended are not in it: fine for
    a window in which nothing happens."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended while we looked
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"\nwrote {path}")


@dataclass
class Deployment:
    slack: SlackSandbox
    model: OpenAIServer
    redis: EmbeddedRedis
    workdir: Path
    env: dict[str, str]
    processes: list[BotProcess] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    channel: str = ""

    def launch(self, shape: str, **extra: str) -> BotProcess:
        process = BotProcess(shape, {**self.env, **extra}, self.workdir).start()
        self.processes.append(process)
        process.wait_healthy(timeout=90)
        return process

    def launch_many(self, shape: str, count: int, **extra: str) -> list[BotProcess]:
        """Start `count` processes at once, then wait until each is healthy (starting is the slow part)."""
        started = [BotProcess(shape, {**self.env, **extra}, self.workdir).start() for _ in range(count)]
        self.processes.extend(started)
        for process in started:
            process.wait_healthy(timeout=120)
        return started

    def mention_all(self, count: int, label: str) -> list[str]:
        users = self.users
        return [
            self.slack.mention(users[i % len(users)], self.channel, f"{label} {i}: deploy ok?") for i in range(count)
        ]

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop(timeout=120)
        self.processes.clear()

    def traces_stored(self) -> int:
        """Request traces in the deployment's default sqlite MLflow store (stop the processes first: they flush)."""
        path = self.workdir / "data" / "mlflow.db"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM trace_info").fetchone()[0])

    def answered(self, threads: list[str]) -> int:
        return sum(1 for ts in threads if self.slack.bot_messages(self.channel, thread_ts=ts))

    def wait_answered(self, threads: list[str], timeout: float) -> float:
        """Seconds until every thread has a reply (raises on timeout)."""
        started = time.monotonic()
        while self.answered(threads) < len(threads):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{self.answered(threads)}/{len(threads)} answered after {timeout}s")
            time.sleep(0.05)
        return time.monotonic() - started


def tracking_label(env: dict[str, str]) -> str:
    """How the processes of a deployment were traced, for a benchmark's printed figures."""
    if env.get("SYNAPSE_TRACKING_ENABLED", "true").lower() in ("0", "false", "no", "off"):
        return "MLflow tracking OFF (not the default)"
    return f"MLflow tracking on, {env.get('MLFLOW_TRACKING_URI') or 'default sqlite store'}"


@contextmanager
def deployment(model_delay_s: float = 0.0, ack_timeout: float = 3.0, **env: str) -> Iterator[Deployment]:
    """A Slack sandbox, a model that answers after `model_delay_s`, a TCP redis-server; processes via launch()."""
    with tempfile.TemporaryDirectory(prefix="synapse-bench-") as tmp:
        workdir = Path(tmp)
        with (
            SlackSandbox(ack_timeout=ack_timeout) as slack,
            OpenAIServer() as model,
            EmbeddedRedis(workdir / "redis", persist=False, port=free_port()) as redis_server,
        ):
            answer = Reply.text("Here is what I found: the deploy is green again.")
            model.set_responder(lambda body: Reply.delay(model_delay_s, answer) if model_delay_s else answer)
            values = {
                "OPENAI_API_KEY": model.api_key,
                "OPENAI_BASE_URL": model.base_url,
                "SYNAPSE_LOG_LEVEL": "WARNING",
                "SYNAPSE_TRACKING_ENABLED": "true",  # the default; cluster_env turns it off for tests
                **env,
            }
            deploy = Deployment(
                slack, model, redis_server, workdir, cluster_env(slack, redis_server.url, workdir / "data", **values)
            )
            print(f"[deployment: {tracking_label(values)}]", flush=True)
            deploy.users = [slack.add_user(f"user{i}", real_name=f"User {i}") for i in range(20)]
            deploy.channel = slack.add_channel("load", members=deploy.users)
            try:
                yield deploy
            finally:
                deploy.stop_all()
