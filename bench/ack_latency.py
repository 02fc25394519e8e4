"""Acknowledgement latency: p50/p99 from envelope sent to ack received, for a burst of mentions at 100/s while the
model stand-in takes 2 s per call — Synapse (`python -m synapse_bot`) against the naive way (a Bolt app that calls
the model before it acknowledges). Slack redelivers anything not acknowledged within 3 s.

    python -m bench.ack_latency [--quick] [--out bench/results/ack_latency.json]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import openai
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bench.harness import Deployment, deployment, summary_ms, write_json

MODEL_DELAY_S = 2.0


def burst(deploy: Deployment, count: int, per_second: float) -> list[str]:
    threads, started = [], time.monotonic()
    for i in range(count):
        pause = started + i / per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        threads.append(deploy.slack.mention(deploy.users[i % len(deploy.users)], deploy.channel, f"q{i}: deploy ok?"))
    return threads


def warm_up(deploy: Deployment) -> set[str]:
    """A few requests first, as a running bot has seen (imports, connections); their envelopes are not counted."""
    deploy.wait_answered(deploy.mention_all(3, "warm-up"), timeout=60)
    return set(deploy.slack.hub.envelopes)


def ack_figures(deploy: Deployment, settle_s: float, skip: set[str] | None = None) -> dict[str, Any]:
    hub = deploy.slack.hub
    envelopes = [e for e in list(hub.envelopes.values()) if e.envelope_id not in (skip or set())]
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and any(e.envelope_id not in hub.acks for e in envelopes):
        time.sleep(0.1)
    acked = [e for e in envelopes if e.envelope_id in hub.acks]
    mentions = [e for e in acked if e.payload.get("event", {}).get("type") == "app_mention"]
    return {
        "mentions": summary_ms([hub.acks[e.envelope_id].latency_s for e in mentions]),
        "all_envelopes": summary_ms([hub.acks[e.envelope_id].latency_s for e in acked]),
        "envelopes": len(envelopes),
        "unacknowledged": len(envelopes) - len(acked),
        "redelivered": sum(1 for e in envelopes if e.deliveries > 1),
    }


def run_synapse(count: int, shapes: tuple[str, ...]) -> dict[str, Any]:
    with deployment(model_delay_s=MODEL_DELAY_S) as deploy:
        for shape in shapes:
            deploy.launch(shape)
        skip = warm_up(deploy)
        started = time.monotonic()
        threads = burst(deploy, count, 100.0)
        sent_s = time.monotonic() - started
        figures = ack_figures(deploy, settle_s=10, skip=skip)
        figures["burst_seconds"] = round(sent_s, 2)
        figures["answered_at_end"] = deploy.answered(threads)
        return figures


def run_naive(count: int) -> dict[str, Any]:
    with deployment(model_delay_s=MODEL_DELAY_S) as deploy:
        slack, model = deploy.slack, deploy.model
        app = App(client=WebClient(token=slack.bot_token, base_url=slack.api_url), process_before_response=True)
        llm = openai.OpenAI(api_key=model.api_key, base_url=model.base_url, max_retries=0)

        @app.event("app_mention")
        def answer(event: dict[str, Any], say: Any) -> None:
            reply = llm.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": str(event.get("text"))}]
            )
            say(text=reply.choices[0].message.content or "", thread_ts=event["ts"])

        @app.event("message")
        def ignore() -> None:
            return None

        # When the run ends, listeners still waiting on the model find the socket closed and slack-sdk logs a
        # traceback for each: expected for this baseline, and not worth thousands of lines of output.
        quiet = logging.getLogger("bench.naive.socket_mode")
        quiet.setLevel(logging.CRITICAL)
        handler = SocketModeHandler(app, app_token=slack.app_token, logger=quiet)
        handler.connect()
        try:
            started = time.monotonic()
            burst(deploy, count, 100.0)
            sent_s = time.monotonic() - started
            figures = ack_figures(deploy, settle_s=30)
            figures["burst_seconds"] = round(sent_s, 2)
            return figures
        finally:
            handler.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 mentions instead of 500")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ack_latency.json"))
    args = parser.parse_args()
    count = 100 if args.quick else 500
    naive_count = 100
    split = run_synapse(count, ("gateway", "worker"))
    single = run_synapse(count, ("run",))
    naive = run_naive(naive_count)
    rows = (
        ("synapse gateway + worker", count, split),
        ("synapse run (all-in-one)", count, single),
        ("naive (model before ack)", naive_count, naive),
    )
    print(f"ack latency, mentions at 100/s, model {MODEL_DELAY_S:.0f} s per call (Slack redelivers after 3 s)")
    print(f"{'':26} {'mentions':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'redelivered':>12} {'unacked':>8}")
    for name, n, r in rows:
        m = r["mentions"]
        print(
            f"{name:26} {n:>9} {m['p50_ms']:>9.1f} {m['p99_ms']:>9.1f} {m['max_ms']:>9.1f} "
            f"{r['redelivered']:>12} {r['unacknowledged']:>8}"
        )
    for name, _, r in rows[:2]:
        a = r["all_envelopes"]
        ok = r["mentions"]["p99_ms"] <= 50 and r["redelivered"] == 0
        print(
            f"{name}: every envelope (mentions + channel messages) p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms; "
            f"target p99 ≤ 50 ms and no redelivery: {'met' if ok else 'MISSED'}"
        )
    write_json(
        args.out,
        {"mentions": count, "model_delay_s": MODEL_DELAY_S, "gateway_worker": split, "run": single, "naive": naive},
    )


if __name__ == "__main__":
    main()
