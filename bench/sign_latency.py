"""Time to a sign of life: from a mention to Synapse's first visible sign in its thread (a status, or 👀 where status
is refused), under a burst of mentions at 50/s while the model stand-in takes 2 s per call, with the README's
default settings (`python -m synapse_bot run`, 8 worker threads, tracking on).

The naive way — the sign set by the worker when it starts the job, as before — is measured in the same run: it is
when the model stand-in receives the job's first call (the job's first act after setting that sign). Every Web API
call takes `--slack-latency-ms` (default 150, a real network's round trip) in the Slack stand-in.

    python -m bench.sign_latency [--quick] [--slack-latency-ms 150] [--out bench/results/sign_latency.json]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, deployment, percentile, write_json
from synapse_sandbox.openai_server import Reply

MODEL_DELAY_S = 2.0
PER_SECOND = 50.0
SIGN_METHODS = ("assistant.threads.setStatus", "reactions.add")


def burst(deploy: Deployment, count: int) -> dict[str, float]:
    """Mention at PER_SECOND; the wall-clock time each mention (by its ts) was sent."""
    sent: dict[str, float] = {}
    started = time.monotonic()
    for i in range(count):
        pause = started + i / PER_SECOND - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        at = time.time()
        ts = deploy.slack.mention(deploy.users[i % len(deploy.users)], deploy.channel, f"q{i}: deploy ok?")
        sent[ts] = at
    return sent


def first_signs(deploy: Deployment, threads: set[str]) -> dict[str, float]:
    signs: dict[str, float] = {}
    for call in list(deploy.slack.api_calls):
        if call.method not in SIGN_METHODS or call.status != "ok":
            continue
        ts = str(call.params.get("thread_ts") or call.params.get("timestamp") or "")
        if ts in threads and ts not in signs and (call.params.get("status") != "" or call.method != SIGN_METHODS[0]):
            signs[ts] = call.at
    return signs


def figures(delays: list[float]) -> dict[str, float]:
    return {
        "n": len(delays),
        "p50_s": round(percentile(delays, 50), 3),
        "p95_s": round(percentile(delays, 95), 3),
        "max_s": round(max(delays), 3) if delays else float("nan"),
    }


def run(count: int, latency_ms: float) -> dict[str, Any]:
    with deployment(model_delay_s=MODEL_DELAY_S, SYNAPSE_TRACKING_ENABLED="true") as deploy:
        deploy.slack.api_latency_s = latency_ms / 1000
        job_started: dict[str, float] = {}
        lock = threading.Lock()
        answer = Reply.text("Here is what I found: the deploy is green again.")

        def respond(body: dict[str, Any]) -> Reply:
            question = str(body["messages"][-1].get("content", "")).rsplit("\n\n", 1)[-1]
            with lock:
                job_started.setdefault(question, time.time())
            return Reply.delay(MODEL_DELAY_S, answer)

        deploy.launch("run")
        deploy.wait_answered(deploy.mention_all(3, "warm-up"), timeout=60)
        deploy.model.set_responder(respond)
        sent = burst(deploy, count)
        texts = {ts: f"q{i}: deploy ok?" for i, ts in enumerate(sent)}
        deploy.wait_answered(list(sent), timeout=count * MODEL_DELAY_S + 120)
        signs = first_signs(deploy, set(sent))
        sign_delays = [signs[ts] - at for ts, at in sent.items() if ts in signs]
        job_delays = [job_started[texts[ts]] - at for ts, at in sent.items() if texts[ts] in job_started]
        statuses = sum(1 for c in deploy.slack.api_calls if c.method == SIGN_METHODS[0])
        return {
            "mentions": count,
            "slack_latency_ms": latency_ms,
            "sign": figures(sign_delays),
            "without_sign": count - len(sign_delays),
            "naive_worker_sign": figures(job_delays),
            "rate_limited_calls": sum(1 for c in deploy.slack.api_calls if c.status == "ratelimited"),
            "status_calls": statuses,
            "reactions": sum(1 for c in deploy.slack.api_calls if c.method == "reactions.add"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 mentions instead of 100")
    parser.add_argument("--slack-latency-ms", type=float, default=150.0, help="each Web API call's round trip")
    parser.add_argument("--out", type=Path, default=Path("bench/results/sign_latency.json"))
    args = parser.parse_args()
    count = 50 if args.quick else 100
    result = run(count, args.slack_latency_ms)
    sign, naive = result["sign"], result["naive_worker_sign"]
    print(
        f"time to a sign of life, {count} mentions at {PER_SECOND:.0f}/s, model {MODEL_DELAY_S:.0f} s per call, "
        f"Slack Web API {args.slack_latency_ms:.0f} ms per call"
    )
    print(f"{'':34} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for name, row in (("synapse: gateway sets the sign", sign), ("naive: worker sets it at job start", naive)):
        print(f"{name:34} {row['p50_s']:>8.3f} {row['p95_s']:>8.3f} {row['max_s']:>8.3f}")
    ok = sign["p50_s"] <= 1.0 and sign["p95_s"] <= 2.0 and result["without_sign"] == 0
    print(
        f"mentions without a sign: {result['without_sign']}; 429s: {result['rate_limited_calls']}; "
        f"target p50 ≤ 1 s, p95 ≤ 2 s: {'met' if ok else 'MISSED'}"
    )
    write_json(args.out, result)


if __name__ == "__main__":
    main()
