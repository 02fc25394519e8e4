"""GitHub events at scale: 10, 100 and 1,000 subscribed repositories polled by 1, 2 and 4 worker processes against
the sandbox's GitHub (real PyGithub requests, ETags and 304s), one shared Redis, MLflow tracking on.

For each deployment, over whole poll cycles while nothing changes: GitHub requests a minute, how many were
conditional, rate limit spent (target 0), the most requests in flight at once and in any one second (no bursts;
GitHub's secondary limit is about 900 points a minute), the workers' CPU per cycle. Then issues opened at random
times in random repositories: event-to-card latency (target: interval + 2 s at p95) and CPU per event. Last, the
same with webhooks (target ≤ 2 s). The naive way to compare with: polling every repository's issues unconditionally,
which spends one rate-limit point per repository per interval (shown as "naive points/min").

    python -m bench.github_polling [--quick] [--out bench/results/github_polling.json]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from bench.harness import Deployment, cpu_seconds, deployment, percentile, write_json
from synapse_bot.feed.subscription import Subscription
from synapse_bot.store.keys import Keys
from synapse_bot.store.subscriptions import SubscriptionStore
from synapse_sandbox.github_server import GitHubServer
from tests.support.cluster import free_port

WEBHOOK_SECRET = "bench-webhook-secret"


def repo_names(count: int) -> list[str]:
    return [f"org{n // 100}/repo{n}" for n in range(count)]


def subscribe_all(deploy: Deployment, repos: list[str]) -> None:
    """The subscriptions, written as `subscribe` writes them (one channel, every repository)."""
    client = redis.Redis.from_url(deploy.redis.url, decode_responses=True)
    store = SubscriptionStore(client, Keys(deploy.env["SYNAPSE_KEY_PREFIX"]))
    for repo in repos:
        store.save(Subscription(team_id=deploy.slack.team_id, channel_id=deploy.channel, repo=repo, creator="U1"))
    client.close()


def issue_reads(github: GitHubServer, since: float = 0.0) -> list[dict[str, Any]]:
    return [r for r in list(github.requests) if r["path"].endswith("/issues") and r["at"] >= since]


def wait_all_polled(github: GitHubServer, repos: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    wanted = {f"/repos/{r}/issues" for r in repos}
    while time.monotonic() < deadline:
        seen = {r["path"] for r in issue_reads(github)}
        if wanted <= seen:
            return
        time.sleep(0.2)
    raise TimeoutError(f"only {len(wanted & seen)}/{len(wanted)} repositories polled within {timeout:.0f}s")


def workers_cpu(deploy: Deployment) -> float:
    return sum(cpu_seconds(p.pid) for p in deploy.processes)


def card_latencies(
    deploy: Deployment, github: GitHubServer, repos: list[str], events: int, spread_s: float
) -> list[float]:
    """Open `events` issues at random moments over `spread_s`, each in a random repository; seconds to each card,
    seen by a watcher that looks at the channel every 20 ms from the first issue on."""
    rng = random.Random(7)
    plan = sorted((rng.uniform(0, spread_s), rng.choice(repos)) for _ in range(events))
    opened: dict[str, float] = {}
    latencies: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            texts = [str(m.get("text", "")) for m in deploy.slack.bot_messages(deploy.channel)]
            now = time.monotonic()
            with lock:
                for ref, at in opened.items():
                    if ref not in latencies and any(ref in text for text in texts):
                        latencies[ref] = now - at
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    for at, repo in plan:
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        with lock:
            number = github.open_issue(repo, f"Bench issue in {repo}", user="bench")
            opened[f"{repo}#{number} "] = time.monotonic()
    deadline = time.monotonic() + spread_s * 3 + 60
    while time.monotonic() < deadline:
        with lock:
            if len(latencies) == len(opened):
                break
        time.sleep(0.05)
    done.set()
    watcher.join()
    if len(latencies) < len(opened):
        raise TimeoutError(f"{len(latencies)}/{len(opened)} cards posted")
    return list(latencies.values())


def poll_figures(count: int, workers: int, interval_s: int, events: int) -> dict[str, Any]:
    repos = repo_names(count)
    with GitHubServer() as github:
        for repo in repos:
            github.add_repo(repo, labels=["bug"])
        env = {
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.base_url,
            "SYNAPSE_GITHUB_POLL_SECONDS": str(interval_s),
            "SYNAPSE_GITHUB_BURST_POSTS": "1000",  # every card posted: latency is what is measured
        }
        with deployment(**env) as deploy:
            deploy.launch_many("worker", workers)
            subscribe_all(deploy, repos)
            wait_all_polled(github, repos, timeout=max(120.0, count * 0.5))
            effective = max(interval_s, count * 1.2 * 60 / 600)
            time.sleep(effective)  # a cycle of settling: every repository's ETag is known
            # Idle: whole cycles with nothing changing.
            cycles = 2 if count <= 100 else 1
            used, cpu, since = github.rate_used, workers_cpu(deploy), time.time()
            github.max_in_flight = 0
            time.sleep(effective * cycles)
            window = time.time() - since
            idle_cpu = workers_cpu(deploy) - cpu
            reads = [r for r in list(github.requests) if r["at"] >= since]
            per_second = Counter(int(r["at"]) for r in reads)
            idle = {
                "requests_per_min": round(len(reads) / window * 60, 1),
                "conditional_share": round(sum(r["conditional"] for r in reads) / max(1, len(reads)), 3),
                "rate_limit_spent": github.rate_used - used,
                "naive_points_per_min": round(count / interval_s * 60, 1),
                "max_in_flight": github.max_in_flight,
                "max_requests_in_one_second": max(per_second.values(), default=0),
                "cpu_ms_per_cycle": round(idle_cpu / (window / effective) * 1000, 1),
                "cpu_ms_per_s": round(idle_cpu / window * 1000, 2),
                "effective_interval_s": round(effective, 1),
            }
            cpu = workers_cpu(deploy)
            started = time.monotonic()
            latencies = card_latencies(deploy, github, repos, events, spread_s=effective)
            busy_cpu = workers_cpu(deploy) - cpu - idle_cpu / window * (time.monotonic() - started)
            stretched = sum("instead of every" in p.logs() for p in deploy.processes)
        return {
            "repositories": count,
            "workers": workers,
            "interval_s": interval_s,
            "idle": idle,
            "events": events,
            "latency_p50_s": round(percentile(latencies, 50), 2),
            "latency_p95_s": round(percentile(latencies, 95), 2),
            "latency_max_s": round(max(latencies), 2),
            "latency_target_s": round(effective + 2, 1),
            "cpu_ms_per_event": round(max(0.0, busy_cpu) / events * 1000, 1),
            "stretch_logged_by": stretched,
        }


def webhook_figures(count: int, events: int) -> dict[str, Any]:
    repos = repo_names(count)
    port = free_port()
    with GitHubServer() as github:
        for repo in repos:
            github.add_repo(repo, labels=["bug"])
        env = {
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.base_url,
            "SYNAPSE_GITHUB_WEBHOOK_PORT": str(port),
            "SYNAPSE_GITHUB_WEBHOOK_HOST": "127.0.0.1",
            "SYNAPSE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SYNAPSE_GITHUB_BURST_POSTS": "1000",
        }
        with deployment(**env) as deploy:
            deploy.launch("worker")
            subscribe_all(deploy, repos)
            wait_all_polled(github, repos, timeout=60 + count * 0.3)
            github.add_hook(f"http://127.0.0.1:{port}/github/webhook", WEBHOOK_SECRET)
            latencies = card_latencies(deploy, github, repos, events, spread_s=10)
            answered = [d.seconds for d in github.deliveries if d.event == "issues"]
        return {
            "repositories": count,
            "events": events,
            "latency_p50_s": round(percentile(latencies, 50), 2),
            "latency_p95_s": round(percentile(latencies, 95), 2),
            "webhook_answer_p95_ms": round(percentile(answered, 95) * 1000, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 10 s interval, fewer configurations and events")
    parser.add_argument("--out", type=Path, default=Path("bench/results/github_polling.json"))
    parser.add_argument("--webhooks-only", action="store_true", help="only the webhook figures")
    parser.add_argument("--plan", default="", help="repositories x workers to run, e.g. 1000x1,1000x4")
    args = parser.parse_args()
    interval = 10 if args.quick else 60
    plans = [(10, 1), (100, 1)] if args.quick else [(10, 2), (100, 2), (1000, 1), (1000, 2), (1000, 4)]
    if args.plan:
        plans = [(int(r), int(w)) for r, w in (item.split("x") for item in args.plan.split(","))]
    events = 10 if args.quick else 30
    print(f"GitHub polling: SYNAPSE_GITHUB_POLL_SECONDS={interval}, sandbox GitHub, real worker processes")
    header = (
        f"{'repos':>6} {'workers':>7} {'interval':>8} {'req/min':>8} {'cond.':>6} {'spent':>6} {'naive/min':>9} "
        f"{'in flight':>9} {'max/s':>6} {'CPU/cycle':>10} {'p50':>6} {'p95':>6} {'target':>7} {'CPU/event':>9}"
    )
    print(header)
    results: list[dict[str, Any]] = []
    for count, workers in [] if args.webhooks_only else plans:
        row = poll_figures(count, workers, interval, events)
        results.append(row)
        write_json(args.out, {"interval_s": interval, "polling": results})  # kept as it goes: a run is long
        idle = row["idle"]
        print(
            f"{count:>6} {workers:>7} {idle['effective_interval_s']:>7.0f}s {idle['requests_per_min']:>8} "
            f"{idle['conditional_share']:>6.0%} {idle['rate_limit_spent']:>6} {idle['naive_points_per_min']:>9} "
            f"{idle['max_in_flight']:>9} {idle['max_requests_in_one_second']:>6} "
            f"{idle['cpu_ms_per_cycle']:>8.0f}ms {row['latency_p50_s']:>5}s {row['latency_p95_s']:>5}s "
            f"{row['latency_target_s']:>6}s {row['cpu_ms_per_event']:>7}ms",
            flush=True,
        )
    if args.plan:
        write_json(args.out, {"interval_s": interval, "polling": results})
        return
    hook = webhook_figures(100 if args.quick else 1000, events)
    print(
        f"webhooks, {hook['repositories']} repositories: card latency p50 {hook['latency_p50_s']} s, p95 "
        f"{hook['latency_p95_s']} s (target ≤ 2 s); the receiver answered GitHub in {hook['webhook_answer_p95_ms']} ms "
        "(p95)"
    )
    write_json(args.out, {"interval_s": interval, "polling": results, "webhooks": hook})


if __name__ == "__main__":
    main()
