"""Quiet threads: what Synapse answers when people talk among themselves in a thread where it answered once.

Two conversations, each played twice (Synapse asked in the thread's root, and in its first reply), into real
`python -m synapse_bot` processes (gateway + worker, tracing on) with the model stand-in:

- the team's own discussion: 20 replies, 2 a second, no mention, nobody asking Synapse anything (issue #26 measured
  17 and 16 answers to it under the old rule: answer whatever does not open with someone else's mention);
- the same discussion with three real follow-ups from the person who asked, and a "thanks".

For each: answers posted, model calls (answers and the small checks of questions that could be for anyone), the
prompt tokens they cost, and what the old rule would have answered. The stand-in says "yes" to a check only for the
real follow-ups (what a good model does; a small model's accuracy is measured by the evaluation sets, not here).

    python -m bench.follow_ups [--out bench/results/follow_ups.json]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from bench.harness import Deployment, deployment, write_json
from synapse_sandbox.openai_server import Reply, prompt_tokens

DISCUSSION = [
    ("bob", "I think it's the token refresh race again."),
    ("carol", "Could be. The graphs show latency from 09:02."),
    ("alice", "That matches the deploy time."),
    ("bob", "Did anyone roll back the config change?"),
    ("carol", "Not yet, I can do it after lunch."),
    ("alice", "thanks carol"),
    ("bob", "is the cache warmup still disabled?"),
    ("carol", "yes since Monday"),
    ("alice", "ok"),
    ("bob", "Does anyone know who owns the billing service?"),
    ("carol", "I think Dana's team"),
    ("alice", "I'll ping them."),
    ("bob", "+1"),
    ("carol", "Should we open an incident?"),
    ("alice", "Let's wait for the rollback first."),
    ("bob", "agreed"),
    ("carol", "I'll write the timeline."),
    ("alice", "is it the retry storm again?"),
    ("bob", "probably, same shape as last week"),
    ("carol", "👍"),
]
FOLLOW_UPS = [
    (7, ("alice", "can you also check the staging logs for the same errors?")),
    (13, ("alice", "what did we decide last week about the retry limits?")),
    (18, ("alice", "and what about the EU region?")),
    (19, ("alice", "thanks!")),
]
REAL = {text for _, (_, text) in FOLLOW_UPS if not text.startswith("thanks")}


def old_rule_answers(messages: list[tuple[str, str]]) -> int:
    """What the rule before issue #26 answered: every message not opening with someone else's mention."""
    return sum(1 for _, text in messages if not re.match(r"^\s*<[@!]", text))


def play(deploy: Deployment, people: dict[str, str], messages: list[tuple[str, str]], in_reply: bool) -> dict[str, Any]:
    slack, channel = deploy.slack, deploy.channel
    before_requests = len(deploy.model.requests)
    if in_reply:
        root = slack.post_message(people["alice"], channel, "Checkout is slow since 09:00, any ideas?")
        slack.mention(people["alice"], channel, "why is checkout slow since 09:00?", thread_ts=root)
    else:
        root = slack.mention(people["alice"], channel, "why is checkout slow since 09:00?")
    slack.wait_for_bot_message(channel, thread_ts=root, timeout=30)
    for who, text in messages:
        slack.post_message(people[who], channel, text, thread_ts=root)
        time.sleep(0.5)  # the conversation's pace: two messages a second
    expected = 1 + sum(1 for _, text in messages if text in REAL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(slack.bot_messages(channel, thread_ts=root)) < expected:
        time.sleep(0.1)
    time.sleep(3)  # what a late answer would need to arrive (a benchmark may wait; it reports what it saw)
    requests = deploy.model.requests[before_requests:]
    checks = [r for r in requests if "yes or no" in str(r["messages"][0]["content"])]
    answered = len(slack.bot_messages(channel, thread_ts=root)) - 1
    return {
        "mention": "in the first reply" if in_reply else "in the root",
        "replies": len(messages),
        "answers": answered,
        "real_follow_ups": expected - 1,
        "old_rule_answers": old_rule_answers(messages),
        "model_calls": len(requests) - 1,  # beyond the first answer
        "checks": len(checks),
        "prompt_tokens": sum(prompt_tokens(r) for r in requests[1:]),  # the stand-in's estimate (4 chars a token)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same (it is already short)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/follow_ups.json"))
    args = parser.parse_args()
    mixed = list(DISCUSSION)
    for index, message in reversed(FOLLOW_UPS):
        mixed.insert(index, message)
    results = []
    with deployment() as deploy:

        def respond(body: dict[str, Any]) -> Reply:
            if "yes or no" in str(body["messages"][0]["content"]):
                newest = str(body["messages"][-1]["content"])
                return Reply.text("yes" if any(text in newest for text in REAL) else "no")
            return Reply.text("The latency started with the 09:02 deploy; rolling back the config should fix it.")

        deploy.model.set_responder(respond)
        people = {name: deploy.slack.add_user(name, real_name=name.title()) for name in ("alice", "bob", "carol")}
        for member in people.values():
            deploy.slack.join(member, deploy.channel)
        deploy.launch("gateway")
        deploy.launch("worker")
        print(
            "conversation          mention          replies answers real follow-ups old rule model calls checks"
            " prompt tokens"
        )
        for label, messages in (("team discussion", DISCUSSION), ("with follow-ups", mixed)):
            for in_reply in (False, True):
                row = play(deploy, people, messages, in_reply)
                row["conversation"] = label
                results.append(row)
                print(
                    f"{label:<21} {row['mention']:<17}{row['replies']:>7} {row['answers']:>7} "
                    f"{row['real_follow_ups']:>14} {row['old_rule_answers']:>8} {row['model_calls']:>11} "
                    f"{row['checks']:>6} {row['prompt_tokens']:>13}",
                    flush=True,
                )
    write_json(args.out, {"results": results})


if __name__ == "__main__":
    main()
