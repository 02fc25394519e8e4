"""Scale-out: requests per second with 1, 2 and 4 worker processes (one gateway, one shared Redis) while the model
stand-in takes 200 ms per call. One worker process is the baseline. Measured twice: with one job thread per worker
(isolates process scaling) and with the default eight (what a deployment runs; on a small machine the CPU, not the
model, becomes the limit).

    python -m bench.scale_out [--quick] [--out bench/results/scale_out.json]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from bench.harness import deployment, write_json

MODEL_DELAY_S = 0.2


def throughput(workers: int, threads: int, requests: int) -> dict[str, Any]:
    with deployment(model_delay_s=MODEL_DELAY_S, SYNAPSE_WORKER_THREADS=str(threads)) as deploy:
        deploy.launch("gateway")
        deploy.launch_many("worker", workers)
        deploy.wait_answered(deploy.mention_all(workers * threads, "warm-up"), timeout=60)
        started = time.monotonic()
        threads_ts = deploy.mention_all(requests, "load")
        deploy.wait_answered(threads_ts, timeout=600)
        elapsed = time.monotonic() - started
        return {
            "workers": workers,
            "threads_per_worker": threads,
            "requests": requests,
            "seconds": round(elapsed, 2),
            "requests_per_s": round(requests / elapsed, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, one-thread workers only")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale_out.json"))
    args = parser.parse_args()
    plans = [(1, 40 if args.quick else 100)] if args.quick else [(1, 100), (8, 400)]
    results: list[dict[str, Any]] = []
    print(f"scale-out: one gateway, N workers, model {MODEL_DELAY_S * 1000:.0f} ms per call, {os.cpu_count()} CPUs")
    print(f"{'threads/worker':>15} {'workers':>8} {'requests':>9} {'seconds':>8} {'req/s':>8} {'× 1 worker':>11}")
    for threads, requests in plans:
        base = None
        for workers in (1, 2, 4):
            r = throughput(workers, threads, requests)
            base = base or r["requests_per_s"]
            r["speedup"] = round(r["requests_per_s"] / base, 2)
            results.append(r)
            print(
                f"{threads:>15} {workers:>8} {requests:>9} {r['seconds']:>8} {r['requests_per_s']:>8} "
                f"{r['speedup']:>11}"
            )
    for threads, _ in plans:
        four = next(r for r in results if r["threads_per_worker"] == threads and r["workers"] == 4)
        verdict = "met" if four["speedup"] >= 3.5 else "MISSED"
        print(f"{threads} thread(s)/worker: 4 workers = {four['speedup']}× one worker (target ≥ 3.5×): {verdict}")
    write_json(args.out, {"model_delay_s": MODEL_DELAY_S, "cpus": os.cpu_count(), "results": results})


if __name__ == "__main__":
    main()
