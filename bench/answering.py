"""Answering questions in threads: what a question costs as the thread grows, and how soon its answer shows.

1. Cost: a question asked deep in threads of 100, 1,000 and 5,000 messages (the message that answers it placed
   early in the thread). Prompt tokens of the first model call (exact o200k counts of what the model received:
   system prompt, tool schemas, the thread excerpt, the question) against the naive prompt that sends the whole
   thread with the same system prompt and tools; and whether the answering message reached the model.
   Targets (issue #14): <= 12,000 tokens and <= 1/5 of the whole-thread prompt at 1,000 messages.
2. First visible text (issue #15): a model that thinks for a second, then writes for ~4 s; the time from its first
   token to the first text in Slack (chat.startStream), streamed (the default) against SYNAPSE_STREAMING=false,
   where the person sees nothing until the whole answer is posted. Target: <= 1 s.

Runs `python -m synapse_bot run` with the README's settings (tracking on) against the stand-ins.

    python -m bench.answering [--quick] [--out bench/results/answering.json]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, deployment, percentile, write_json
from synapse_bot.llm.tokens import TokenCounter
from synapse_sandbox.openai_server import Reply

COUNTER = TokenCounter("gpt-4o-mini")
CHATTER = [
    "I reran the integration suite on staging and checkout still times out at the gateway after about thirty seconds",
    "Dashboards show p99 latency for the cart service climbing again after the last deploy went out this morning",
    "Can someone from payments confirm whether the retry budget changed in yesterday's release or the one before",
    "Rolling back the pricing feature flag did not change the error rate, so it is probably not the new engine",
    "Pairing with the SRE on call to look at load balancer health checks, node pressure and the autoscaler events",
    "Flame graphs point at JSON serialisation in the order summary endpoint, but only under production-like load",
    "The canary looked fine for ten minutes before the errors started, which suggests something time based",
    "I opened a ticket with the database vendor in case the connection storms are on their side of the network",
]
ANSWERING = "Root cause found: the connection pool was capped at 10 connections after the config migration last week"
QUESTION = "what was the root cause of the connection problems?"
LONG_ANSWER = " ".join(f"Step {i}: raise the pool cap and watch the lock timeouts." for i in range(12))


def thread_texts(size: int, rng: random.Random) -> tuple[list[str], int]:
    texts = ["Incident: checkout latency is up since 09:00, investigating"]
    texts += [f"{rng.choice(CHATTER)} (update {i})" for i in range(1, size)]
    where = max(1, size // 25)  # early in the thread: far from the latest messages
    texts[where] = ANSWERING
    return texts, where


def question_cost(deploy: Deployment, size: int) -> dict[str, Any]:
    texts, where = thread_texts(size, random.Random(size))
    thread = deploy.slack.seed_thread(deploy.channel, deploy.users[1], texts, repliers=deploy.users[1:6])
    seen = len(deploy.model.requests)
    deploy.model.script(Reply.text("The pool was capped at 10 after the config migration."))
    deploy.slack.mention(deploy.users[0], deploy.channel, QUESTION, thread_ts=thread)
    deploy.slack.wait_for_bot_message(deploy.channel, thread_ts=thread, timeout=120)
    request = deploy.model.requests[seen]
    prompt = COUNTER.count_messages(request["messages"], request.get("tools"))
    whole = COUNTER.count_messages(
        [request["messages"][0], {"role": "user", "content": "\n".join(texts) + "\n\n" + QUESTION}],
        request.get("tools"),
    )
    return {
        "messages": size,
        "prompt_tokens": prompt,
        "whole_thread_prompt_tokens": whole,
        "share_of_whole": round(prompt / whole, 3),
        "answer_in_prompt": ANSWERING in request["messages"][-1]["content"],
        "answer_at_message": where + 1,
    }


def first_text_latency(deploy: Deployment, runs: int) -> list[float]:
    """Seconds from the model's first token to the first text in Slack (stream start, else the posted answer)."""
    latencies = []
    for run in range(runs):
        deploy.model.script(Reply.delay(1.0, Reply.slowly(LONG_ANSWER, piece_delay_s=0.15)))
        tokens_before, stream_before = len(deploy.model.first_tokens), len(deploy.slack.stream_log)
        thread = deploy.slack.mention(deploy.users[run % 5], deploy.channel, f"how do we fix the pool? ({run})")
        deploy.slack.wait_for_bot_message(deploy.channel, thread_ts=thread, timeout=60)
        first_token = deploy.model.first_tokens[tokens_before]
        starts = [t for step, _, _, t in deploy.slack.stream_log[stream_before:] if step == "start"]
        if starts:
            latencies.append(starts[0] - first_token)
        else:
            latencies.append(_posted_at(deploy, thread) - first_token)
    return latencies


def _posted_at(deploy: Deployment, thread: str) -> float:
    """When the answer was posted, as the sandbox recorded the chat.postMessage call."""
    calls = [c for c in deploy.slack.calls("chat.postMessage") if c.params.get("thread_ts") == thread]
    return calls[0].at if calls else time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 messages; 5 latency runs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/answering.json"))
    args = parser.parse_args()
    sizes = (100, 1_000) if args.quick else (100, 1_000, 5_000)
    runs = 5 if args.quick else 15
    results: dict[str, Any] = {"cost": [], "first_text_s": {}}
    with deployment() as deploy:
        deploy.launch("run", SYNAPSE_REQUEST_TOKEN_BUDGET="2000000")
        for size in sizes:
            results["cost"].append(question_cost(deploy, size))
        results["first_text_s"]["streamed"] = first_text_latency(deploy, runs)
        deploy.stop_all()
        deploy.launch("run", SYNAPSE_STREAMING="false")
        results["first_text_s"]["posted_whole"] = first_text_latency(deploy, runs)
    print("a question deep in a thread: prompt tokens of the first model call (exact o200k counts)")
    print(f"{'messages':>8} {'synapse':>9} {'whole thread':>13} {'share':>7} {'answer in prompt':>17}")
    for row in results["cost"]:
        print(
            f"{row['messages']:>8} {row['prompt_tokens']:>9,} {row['whole_thread_prompt_tokens']:>13,} "
            f"{row['share_of_whole']:>7.1%} {'yes' if row['answer_in_prompt'] else 'NO':>17}"
        )
    print("\nfirst visible text after the model's first token (s)")
    for mode, values in results["first_text_s"].items():
        print(
            f"{mode:>13}: p50 {percentile(values, 50):.2f}  p95 {percentile(values, 95):.2f}  "
            f"mean {statistics.fmean(values):.2f}  (n={len(values)})"
        )
    write_json(args.out, results)


if __name__ == "__main__":
    main()
