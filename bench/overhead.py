"""Overhead: CPU milliseconds per handled mention end to end with instant stand-ins (the model answers at once), and
the resident memory of each process — a gateway and a worker, and the all-in-one `run` process. Idle CPU (queue
polling, heartbeats) is measured separately and subtracted. The baseline is the same process doing nothing.

Processes run with the defaults (MLflow tracking on, the default sqlite store). The CPU window runs until every
mention is answered and then until the trace of the last one is written (the recorder writes in batches about a
second apart), so tracing is inside the figure; at the end the store is checked to hold one trace per request.

    python -m bench.overhead [--quick] [--out bench/results/overhead.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, cpu_seconds, deployment, rss_mb, write_json
from tests.support.cluster import BotProcess

TRACE_SETTLE_S = 2.0
WARM_UP = 20


def settle(pid: int, quiet_percent: float = 5.0, quiet_s: float = 2.5, timeout_s: float = 60.0) -> None:
    """Wait until the process has used under `quiet_percent` of a core for `quiet_s` (longer than the recorder's
    batch window, so a batch still gathering is not mistaken for quiet)."""
    deadline, quiet_since = time.monotonic() + timeout_s, time.monotonic()
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if (cpu_seconds(pid) - before) / 0.5 * 100 >= quiet_percent:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return


def measure(deploy: Deployment, processes: dict[str, BotProcess], mentions: int, idle_s: float) -> dict[str, Any]:
    deploy.wait_answered(deploy.mention_all(WARM_UP, "warm-up"), timeout=60)
    for process in processes.values():  # the warm-up's traces (and MLflow's first import) are not idle time
        settle(process.pid)
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
    time.sleep(TRACE_SETTLE_S)  # the recorder's last batch: part of the cost of these mentions
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
    parser.add_argument(
        "--tracking-off", action="store_true", help="MLflow tracking off (not the default; for comparison only)"
    )
    args = parser.parse_args()
    env = {"SYNAPSE_TRACKING_ENABLED": "false"} if args.tracking_off else {}
    mentions, idle_s = (100, 3.0) if args.quick else (400, 30.0)
    stored: dict[str, int] = {}
    with deployment(**env) as deploy:
        split = measure(
            deploy, {"gateway": deploy.launch("gateway"), "worker": deploy.launch("worker")}, mentions, idle_s
        )
        deploy.stop_all()
        stored["gateway + worker"] = deploy.traces_stored()
    with deployment(**env) as deploy:
        single = measure(deploy, {"run": deploy.launch("run")}, mentions, idle_s)
        deploy.stop_all()
        stored["run"] = deploy.traces_stored()
    results = {**split, **single}
    traced = "MLflow tracking OFF (not the default)" if args.tracking_off else "MLflow tracking on (the default)"
    print(f"overhead per handled mention ({mentions} mentions at 20/s, model and Slack answer instantly; {traced})")
    print(f"{'process':>10} {'CPU ms/mention':>15} {'idle CPU %':>11} {'RSS MB':>8}")
    for name, r in results.items():
        print(f"{name:>10} {r['cpu_ms_per_mention']:>15} {r['idle_cpu_percent']:>11} {r['rss_mb']:>8}")
    total = split["gateway"]["cpu_ms_per_mention"] + split["worker"]["cpu_ms_per_mention"]
    print(f"gateway + worker: {total:.1f} CPU ms per mention")
    for shape, count in stored.items():
        print(f"traces in the MLflow store, {shape}: {count} of {WARM_UP + mentions} requests")
    write_json(
        args.out,
        {"mentions": mentions, "tracking": not args.tracking_off, "results": results, "traces_stored": stored},
    )


if __name__ == "__main__":
    main()
