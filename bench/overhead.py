"""Overhead: CPU milliseconds per handled mention end to end with instant stand-ins (the model answers at once), and
the resident memory of each process — a gateway and a worker, and the all-in-one `run` process. Idle CPU (queue
polling, heartbeats) is measured separately and subtracted. The baseline is the same process doing nothing.

    python -m bench.overhead [--quick] [--out bench/results/overhead.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, cpu_seconds, deployment, rss_mb, write_json
from tests.support.cluster import BotProcess


def measure(deploy: Deployment, processes: dict[str, BotProcess], mentions: int, idle_s: float) -> dict[str, Any]:
    deploy.wait_answered(deploy.mention_all(20, "warm-up"), timeout=60)
    time.sleep(1.0)
    before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
    time.sleep(idle_s)
    idle = {name: (cpu_seconds(p.pid) - before[name]) / idle_s for name, p in processes.items()}
    before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
    started = time.monotonic()
    threads: list[str] = []
    for i in range(mentions):  # paced at 20/s: a steady load, not a backlog
        pause = started + i / 20 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        threads.append(deploy.slack.mention(deploy.users[i % 20], deploy.channel, f"m{i}: deploy ok?"))
    deploy.wait_answered(threads, timeout=300)
    elapsed = time.monotonic() - started
    figures: dict[str, Any] = {}
    for name, process in processes.items():
        used = cpu_seconds(process.pid) - before[name] - idle[name] * elapsed
        figures[name] = {
            "cpu_ms_per_mention": round(used * 1000 / mentions, 2),
            "idle_cpu_percent": round(idle[name] * 100, 2),
            "rss_mb": round(rss_mb(process.pid), 1),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 mentions instead of 400")
    parser.add_argument("--out", type=Path, default=Path("bench/results/overhead.json"))
    args = parser.parse_args()
    mentions, idle_s = (100, 3.0) if args.quick else (400, 10.0)
    with deployment() as deploy:
        split = measure(
            deploy, {"gateway": deploy.launch("gateway"), "worker": deploy.launch("worker")}, mentions, idle_s
        )
    with deployment() as deploy:
        single = measure(deploy, {"run": deploy.launch("run")}, mentions, idle_s)
    results = {**split, **single}
    print(f"overhead per handled mention ({mentions} mentions at 20/s, model and Slack answer instantly)")
    print(f"{'process':>10} {'CPU ms/mention':>15} {'idle CPU %':>11} {'RSS MB':>8}")
    for name, r in results.items():
        print(f"{name:>10} {r['cpu_ms_per_mention']:>15} {r['idle_cpu_percent']:>11} {r['rss_mb']:>8}")
    total = split["gateway"]["cpu_ms_per_mention"] + split["worker"]["cpu_ms_per_mention"]
    print(f"gateway + worker: {total:.1f} CPU ms per mention")
    write_json(args.out, {"mentions": mentions, "results": results})


if __name__ == "__main__":
    main()
