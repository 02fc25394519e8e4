"""Summary cost: model calls, prompt tokens and Slack API calls for threads of 100, 200, 1,000 and 5,000 messages — the
first summary, an unchanged re-summary (target: zero model calls) and a re-summary after 10 new replies (target:
close to the tokens of the new messages plus the previous summary) — against the naive way, re-summarising the
whole thread every time (the same bot asked to `refresh`). Runs `python -m synapse_bot` against the stand-ins.

The first summary is also put against the whole thread sent in one prompt (issue #26, item 4), two ways:
- as the anchor sends it (seratch/ChatGPT-in-Slack, `app/openai_ops.py` `generate_slack_thread_summary` and
  `app/slack_ops.py`): a system instruction of about 70 tokens, then one user message with the request and every
  reply as `<@USER_ID>: text` — the issue's "1.10× sending the whole thread as the anchor does";
- plainer still: one user message, "Summarize this Slack thread:" and every message as `name: text`.
Synapse's figure counts the instructions and the structured-output schema (`response_format`) of every call.

    python -m bench.summary_cost [--quick] [--out bench/results/summary_cost.json]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from bench.harness import Deployment, deployment, write_json
from synapse_bot.llm.tokens import TokenCounter
from synapse_sandbox.openai_server import Reply

COUNTER = TokenCounter("gpt-4o-mini")
TOPICS = ["the deploy", "the flaky test", "the cache", "the on-call rota", "the database migration", "latency"]


def summarizer(body: dict[str, Any]) -> Reply:
    """A structured summary of modest, realistic size for any summary call (chunk, merge or update)."""
    name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    if name != "thread_summary":
        return Reply.text("ok")
    return Reply.json_content(
        {
            "tldr": "The team found the cause of the failing deploy (a stale cache key) and agreed to roll forward.",
            "key_points": [f"Point {i}: discussion of {t}" for i, t in enumerate(TOPICS)],
            "decisions": ["Roll forward with the cache fix", "Add an alert on cache misses"],
            "action_items": [],
            "open_questions": ["Do we need a load test before Friday?"],
        }
    )


def message(rng: random.Random, i: int) -> str:
    topic = rng.choice(TOPICS)
    return f"Message {i}: I looked at {topic} again; " + " ".join(rng.choice(TOPICS).split()[-1] for _ in range(12))


class Meter:
    """Model calls and prompt tokens (counted with tiktoken from the requests the model received), Slack calls."""

    def __init__(self, deploy: Deployment) -> None:
        self.deploy = deploy
        self.model_seen = len(deploy.model.requests)
        self.slack_seen = len(deploy.slack.api_calls)

    def read(self) -> dict[str, int]:
        requests = [r for r in self.deploy.model.requests[self.model_seen :] if r.get("response_format")]
        calls = self.deploy.slack.api_calls[self.slack_seen :]
        return {
            "model_calls": len(requests),
            "prompt_tokens": sum(COUNTER.count_messages(r["messages"]) for r in requests),
            "schema_tokens": sum(COUNTER.count(json.dumps(r["response_format"])) for r in requests),
            "slack_calls": len(calls),
            "slack_reads": sum(1 for c in calls if c.method in ("conversations.replies", "conversations.history")),
        }


def ask(deploy: Deployment, thread: str, text: str) -> dict[str, int]:
    meter = Meter(deploy)
    before = len(deploy.slack.bot_messages(deploy.channel, thread_ts=thread))
    deploy.slack.mention(deploy.users[0], deploy.channel, text, thread_ts=thread)
    deploy.slack.wait_for_bot_message(deploy.channel, thread_ts=thread, timeout=300, count=before + 1)
    return meter.read()


# The anchor's summary instruction in our words, of the same length and content (its text is not ours to copy).
ANCHOR_INSTRUCTIONS = (
    "You are an assistant that helps Slack users by summarizing threads. You will be given the replies of a thread "
    "in this format: <@user_id>: reply text\nGive a concise summary that brings out the key facts and the decisions. "
    "When the first line of the request is not in English, write the summary in that language. "
    "Finally, favour speed of generation over perfection."
)
ANCHOR_REQUEST = "Summarize this thread."


def thread_messages(deploy: Deployment, thread: str) -> list[dict[str, Any]]:
    return [m for m in deploy.slack.all_messages() if m.get("thread_ts", m["ts"]) == thread]


def plain_whole_thread_tokens(deploy: Deployment, thread: str) -> int:
    """The whole thread in one plain prompt: one user message, every message as `name: text`."""
    names = {u["id"]: u["name"] for u in deploy.slack.users()}
    lines = "\n".join(
        f"{names.get(str(m.get('user')), 'someone')}: {m.get('text', '')}" for m in thread_messages(deploy, thread)
    )
    return COUNTER.count_messages([{"role": "user", "content": "Summarize this Slack thread:\n" + lines}])


def anchor_whole_thread_tokens(deploy: Deployment, thread: str) -> int:
    """The whole thread as the anchor sends it: its instruction, then the request and `<@USER_ID>: text` lines."""
    lines = "".join(f"<@{m.get('user')}>: {m.get('text', '')}\n" for m in thread_messages(deploy, thread))
    return COUNTER.count_messages(
        [
            {"role": "system", "content": ANCHOR_INSTRUCTIONS},
            {"role": "user", "content": f"{ANCHOR_REQUEST}\n\n{lines}"},
        ]
    )


def scenario(deploy: Deployment, size: int, rng: random.Random, naive: bool) -> dict[str, Any]:
    texts = [message(rng, i) for i in range(size)]
    thread = deploy.slack.seed_thread(deploy.channel, deploy.users[1], texts, repliers=deploy.users[1:6])
    plain = plain_whole_thread_tokens(deploy, thread)
    anchor = anchor_whole_thread_tokens(deploy, thread)
    command = "summarize this thread" + (" refresh" if naive else "")
    first = ask(deploy, thread, command)
    unchanged = ask(deploy, thread, command)
    new = [message(rng, size + i) for i in range(10)]
    for text in new:
        deploy.slack.post_message(deploy.users[2], deploy.channel, text, thread_ts=thread)
    grown = ask(deploy, thread, command)
    previous_summary = summarizer({"response_format": {"json_schema": {"name": "thread_summary"}}}).content or ""
    reference = sum(COUNTER.count(t) for t in new) + COUNTER.count(previous_summary)
    return {
        "first": first,
        "unchanged": unchanged,
        "after_10_replies": grown,
        "new_plus_previous_tokens": reference,
        "plain_whole_thread_tokens": plain,
        "anchor_whole_thread_tokens": anchor,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 messages only")
    parser.add_argument("--out", type=Path, default=Path("bench/results/summary_cost.json"))
    args = parser.parse_args()
    sizes = (100, 200, 1_000) if args.quick else (100, 200, 1_000, 5_000)
    results: dict[str, Any] = {}
    with deployment() as deploy:
        deploy.model.set_responder(summarizer)
        deploy.launch("run", SYNAPSE_REQUEST_TOKEN_BUDGET="2000000")
        for size in sizes:
            results[str(size)] = {
                "synapse": scenario(deploy, size, random.Random(size), naive=False),
                "naive": scenario(deploy, size, random.Random(size), naive=True),
            }
    print("summary cost per request (model calls / prompt tokens / Slack API calls); naive = re-summarise everything")
    print(f"{'messages':>8} {'request':>18} {'synapse':>24} {'naive':>24}")
    for size, r in results.items():
        for step in ("first", "unchanged", "after_10_replies"):
            s, n = r["synapse"][step], r["naive"][step]
            print(
                f"{size:>8} {step:>18} {s['model_calls']:>5} {s['prompt_tokens']:>9,} {s['slack_calls']:>8} "
                f"{n['model_calls']:>5} {n['prompt_tokens']:>9,} {n['slack_calls']:>8}"
            )
        print(f"{'':>8} {'new + previous':>18} {r['synapse']['new_plus_previous_tokens']:>15,} tokens")
        first, plain = r["synapse"]["first"], r["synapse"]["plain_whole_thread_tokens"]
        anchor = r["synapse"]["anchor_whole_thread_tokens"]
        ours = first["prompt_tokens"] + first["schema_tokens"]
        print(
            f"{'':>8} {'vs whole thread':>18} {ours:>9,} tokens (schema {first['schema_tokens']:,} included) against "
            f"{anchor:,} as the anchor sends it: {ours / anchor:.2f}x; {plain:,} as plain `name: text`: "
            f"{ours / plain:.2f}x"
        )
    zero = all(r["synapse"]["unchanged"]["model_calls"] == 0 for r in results.values())
    print(f"unchanged re-summary with zero model calls: {'met' if zero else 'MISSED'}")
    write_json(args.out, {"results": results})


if __name__ == "__main__":
    main()
