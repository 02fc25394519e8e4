"""Overhead: CPU milliseconds per handled mention end to end with instant stand-ins (the model answers at once), and
the resident memory of each process — a gateway and a worker, and the all-in-one `run` process. Idle CPU (queue
polling, heartbeats) is measured separately and subtracted. The baseline is the same process doing nothing.

Processes run with the defaults (MLflow tracking on, the default sqlite store). The CPU window runs until every
mention is answered and then until the trace of the last one is written (the recorder writes in batches about a
second apart), so tracing is inside the figure; at the end the store is checked to hold one trace per request.

Idle CPU is the scheduler's run time (exact: `harness.run_time_seconds`) over a 60 s window after the warm-up
has settled (its traces and its metrics step written), both with an external redis-server (`REDIS_URL` set: how
deployments beyond a laptop run) and with the embedded one (`REDIS_URL` unset: the bot starts its own
redis-server, whose idle CPU is printed on its own line, since it is another process).

    python -m bench.overhead [--quick] [--redis both|external|embedded] [--idle-seconds 60]
                             [--out bench/results/overhead.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, cpu_seconds, deployment, rss_mb, run_time_seconds, write_json
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


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (the embedded redis-server is one), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def embedded_redis_pid(processes: dict[str, BotProcess]) -> int | None:
    for process in processes.values():
        for child in child_pids(process.pid):
            if "redis-server" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return child
    return None


def metrics_step_written(process: BotProcess, timeout_s: float = 120.0) -> None:
    """Wait for the recorder's first metrics step (a minute after start, for the requests before it): it is the
    warm-up's cost, not idle time. A process that tracks nothing (tracking off, a gateway) has none to wait for."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, body = process.health()
        tracking = body.get("tracking") or {}
        if not tracking.get("recorded") or tracking.get("metrics_steps", 0) >= 1:
            return
        time.sleep(1.0)
    raise AssertionError(f"{process.name}: no metrics step within {timeout_s:.0f} s")


def measure(deploy: Deployment, processes: dict[str, BotProcess], mentions: int, idle_s: float) -> dict[str, Any]:
    deploy.wait_answered(deploy.mention_all(WARM_UP, "warm-up"), timeout=60)
    for process in processes.values():  # the warm-up's traces, metrics and MLflow's first import are not idle time
        metrics_step_written(process)
        settle(process.pid)
    watched = {name: p.pid for name, p in processes.items()}
    redis_pid = embedded_redis_pid(processes)
    if redis_pid is not None:
        watched["redis-server"] = redis_pid
    before = {name: run_time_seconds(pid) for name, pid in watched.items()}
    time.sleep(idle_s)
    idle = {name: (run_time_seconds(pid) - before[name]) / idle_s for name, pid in watched.items()}
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
    if redis_pid is not None:
        figures["redis-server"] = {"idle_cpu_ms_per_s": round(idle["redis-server"] * 1000, 2)}
    for name, process in processes.items():
        used = cpu_seconds(process.pid) - before[name] - idle[name] * elapsed
        figures[name] = {
            "cpu_ms_per_mention": round(used * 1000 / mentions, 2),
            "idle_cpu_ms_per_s": round(idle[name] * 1000, 2),
            "rss_mb": round(rss_mb(process.pid), 1),
        }
    return figures


def measure_both_shapes(env: dict[str, str], mentions: int, idle_s: float) -> tuple[dict[str, Any], dict[str, int]]:
    """A gateway and a worker, then the all-in-one `run`, each in a deployment of its own."""
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
    split_redis = split.pop("redis-server", None)
    results = {**split, **single}
    if split_redis is not None:
        results["redis-server (gateway's)"] = split_redis
        results["redis-server (run's)"] = results.pop("redis-server")
    return results, stored


def print_figures(label: str, mentions: int, results: dict[str, Any], stored: dict[str, int]) -> None:
    print(f"\n{label}")
    print(f"{'process':>26} {'CPU ms/mention':>15} {'idle CPU ms/s':>14} {'RSS MB':>8}")
    for name, r in results.items():
        per_mention, rss = r.get("cpu_ms_per_mention", "-"), r.get("rss_mb", "-")
        print(f"{name:>26} {per_mention:>15} {r['idle_cpu_ms_per_s']:>14} {rss:>8}")
    total = results["gateway"]["cpu_ms_per_mention"] + results["worker"]["cpu_ms_per_mention"]
    print(f"gateway + worker: {total:.1f} CPU ms per mention")
    for shape, count in stored.items():
        print(f"traces in the MLflow store, {shape}: {count} of {WARM_UP + mentions} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 mentions and a 10 s idle window")
    parser.add_argument("--out", type=Path, default=Path("bench/results/overhead.json"))
    parser.add_argument(
        "--redis", choices=("both", "external", "embedded"), default="both", help="which Redis the processes use"
    )
    parser.add_argument("--idle-seconds", type=float, default=None, help="the idle window (default 60, quick 10)")
    parser.add_argument(
        "--tracking-off", action="store_true", help="MLflow tracking off (not the default; for comparison only)"
    )
    args = parser.parse_args()
    env = {"SYNAPSE_TRACKING_ENABLED": "false"} if args.tracking_off else {}
    mentions, idle_s = (100, 10.0) if args.quick else (400, 60.0)
    idle_s = args.idle_seconds or idle_s
    modes = ("external", "embedded") if args.redis == "both" else (args.redis,)
    traced = "MLflow tracking OFF (not the default)" if args.tracking_off else "MLflow tracking on (the default)"
    report: dict[str, Any] = {"mentions": mentions, "idle_seconds": idle_s, "tracking": not args.tracking_off}
    for mode in modes:
        # REDIS_URL empty is unset: each process finds (or starts) the redis-server under the shared data dir
        mode_env = {**env, "REDIS_URL": ""} if mode == "embedded" else env
        results, stored = measure_both_shapes(mode_env, mentions, idle_s)
        report[mode] = {"results": results, "traces_stored": stored}
        print_figures(
            f"{mode} Redis — overhead per handled mention ({mentions} mentions at 20/s, model and Slack answer "
            f"instantly; {traced}); idle over {idle_s:.0f} s",
            mentions,
            results,
            stored,
        )
    write_json(args.out, report)


if __name__ == "__main__":
    main()
