"""Pure summary logic: readable transcripts, budgeted chunks, the structured model, rendering, offline digest."""

from __future__ import annotations

import json
from typing import Any

from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.render.sanitize import has_mass_mention
from synapse_bot.summaries.chunking import chunk_lines
from synapse_bot.summaries.engine import SummaryEngine
from synapse_bot.summaries.model import ThreadSummary, parse_summary, summary_response_format
from synapse_bot.summaries.offline import extractive_digest
from synapse_bot.summaries.render import Coverage, render_summary
from synapse_bot.summaries.slack_text import mentioned_users, readable
from synapse_bot.summaries.transcript import Line, build_lines

USERS = {"U1": "Alice", "U2": "Bob"}


def test_slack_markup_becomes_readable() -> None:
    text = "<@U1> see <#C9|general>, <https://ci.example/1|the build> :white_check_mark: &lt;3 <!channel>"
    out = readable(text, USERS)
    assert out == "@Alice see #general, the build (https://ci.example/1) ✅ <3 (@channel)"
    assert mentioned_users("<@U1> and <@U2|bob>") == {"U1", "U2"}


def test_noise_and_bots_are_left_out() -> None:
    messages = [
        {"ts": "1700000000.000100", "user": "U1", "text": "Deploy failed"},
        {"ts": "1700000001.000100", "user": "U2", "subtype": "channel_join", "text": "<@U2> has joined"},
        {"ts": "1700000002.000100", "user": "UBOT", "bot_id": "B1", "text": "Thread summary ..."},
        {"ts": "1700000003.000100", "user": "U2", "text": "Rolling back <@U1>"},
        {"ts": "1700000004.000100", "user": "USYN", "text": "from our own bot user"},
    ]
    lines = build_lines(messages, USERS, bot_user_id="USYN")
    assert [(ln.author, ln.text) for ln in lines] == [("Alice", "Deploy failed"), ("Bob", "Rolling back @Alice")]
    assert lines[0].render().startswith("[2023-11-14 22:13] Alice: ")


def test_chunks_respect_the_budget_and_keep_order() -> None:
    counter = TokenCounter("gpt-4")
    lines = [
        Line(ts=f"{1700000000 + i}.000000", author="Alice", text=f"message number {i} " + "blah " * (i % 40))
        for i in range(500)
    ]
    chunks = chunk_lines(lines, 800, counter.count, counter.truncate)
    assert len(chunks) > 1
    for chunk in chunks:
        assert sum(counter.count(text) + 1 for text in chunk) <= 800
    flattened = [text for chunk in chunks for text in chunk]
    assert len(flattened) == 500 and "message number 0 " in flattened[0] and "message number 499" in flattened[-1]


def test_a_transcript_shows_the_time_only_where_it_moved_on_and_each_chunk_starts_with_the_date() -> None:
    counter = TokenCounter("gpt-4o-mini")
    start = 1700000000  # 2023-11-14 22:13 UTC
    at = [start, start + 30, start + 90, start + 700, start + 760, start + 86_400]
    lines = [Line(ts=f"{t}.000000", author="Alice" if i % 2 == 0 else "Bob", text=f"m{i}") for i, t in enumerate(at)]
    [chunk] = chunk_lines(lines, 800, counter.count, counter.truncate)
    assert chunk == [
        "[2023-11-14 22:13] Alice: m0",
        "Bob: m1",
        "Alice: m2",
        "[22:25] Bob: m3",  # ten minutes after the last time shown
        "Alice: m4",
        "[2023-11-15 22:13] Bob: m5",  # another day
    ]
    small = chunk_lines(lines, 16, counter.count, counter.truncate)
    assert len(small) > 1 and all(part[0].startswith("[2023-11-1") for part in small)
    stamped = sum(counter.count(line.render()) for line in lines)
    assert sum(counter.count(text) for text in chunk) < stamped


def test_a_single_giant_message_is_cut_to_fit() -> None:
    counter = TokenCounter("gpt-4")
    chunks = chunk_lines(
        [Line(ts="1700000000.0", author="A", text="word " * 20_000)], 500, counter.count, counter.truncate
    )
    assert len(chunks) == 1 and counter.count(chunks[0][0]) + 1 <= 500


def test_structured_reply_parses_and_prose_falls_back() -> None:
    data = {
        "tldr": "Rollback done",
        "key_points": ["CI red"],
        "decisions": [],
        "action_items": [{"task": "Fix the test", "owner": "Bob", "due": None}],
        "open_questions": None,
    }
    summary = parse_summary(json.dumps(data))
    assert summary.action_items[0].owner == "Bob" and summary.open_questions == []
    assert parse_summary("Just some prose").tldr == "Just some prose"
    schema = summary_response_format()["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])


def test_rendered_summary_has_sections_footer_and_no_pings() -> None:
    summary = ThreadSummary(
        tldr="All good <!here>",
        key_points=["a"],
        decisions=["ship"],
        open_questions=["when?"],
        action_items=[{"task": "write docs", "owner": "Alice", "due": "Friday"}],
    )  # type: ignore[list-item]
    text = render_summary(summary, Coverage(12, "1700000000.000100", "https://x.slack.com/archives/C1/p1", "cached"))
    for part in (
        "**TL;DR**",
        "**Decisions**",
        "**Action items**",
        "write docs — Alice (due Friday)",
        "**Open questions**",
        "Covers 12 messages",
        "[view thread](https://x.slack.com/archives/C1/p1)",
        "from cache",
    ):
        assert part in text
    assert not has_mass_mention(text)


def test_offline_digest_is_extractive_and_labelled() -> None:
    lines = [
        Line("1700000000.0", "Alice", "The release is blocked by the flaky auth test"),
        Line("1700000001.0", "Bob", "I think the token refresh races with the cache warmup on startup"),
        Line("1700000002.0", "Alice", "Agreed, we'll go with disabling the warmup for now"),
        Line("1700000003.0", "Bob", "I'll open a PR by Friday"),
        Line("1700000004.0", "Carol", "Do we need a changelog entry?"),
    ]
    digest = extractive_digest(lines)
    assert "Alice started" in digest.tldr and "4 replies" in digest.tldr
    assert any("disabling the warmup" in d for d in digest.decisions)
    assert digest.action_items[0].owner == "Bob" and digest.action_items[0].due == "Friday"
    assert digest.open_questions == ["Do we need a changelog entry? (Carol)"]
    text = render_summary(digest, Coverage(5, "1700000004.0", None, "offline"))
    assert "offline digest" in text


def test_summary_calls_are_sized_to_the_model() -> None:
    from synapse_bot.config import Settings

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.summary_call_budget(128_000) == 32_000  # long prompts lose their middle: parts past 32k
    assert defaults.summary_call_budget(8_192) == 8_192  # a small local model's whole window
    chosen = Settings(_env_file=None, SYNAPSE_SUMMARY_CALL_TOKENS=6_000)  # type: ignore[call-arg]
    assert chosen.summary_call_budget(128_000) == 6_000 and chosen.summary_call_budget(4_096) == 4_096


def test_the_map_step_hands_every_chunk_to_map_calls() -> None:
    handed: list[list[int]] = []

    def map_calls(work: Any, items: Any) -> list[Any]:
        handed.append(list(items))
        return [work(i) for i in reversed(list(items))][::-1]  # any order of running; results in order

    counter = TokenCounter("gpt-4o-mini")
    engine = SummaryEngine(lambda msgs, purpose: '{"tldr": "t"}', counter, 2_000, 200, map_calls=map_calls)
    lines = [Line(f"{1700000000 + i}.000100", "bob", "word " * 60) for i in range(60)]
    engine.summarise(lines)
    assert len(handed) == 1 and handed[0] == list(range(len(handed[0]))) and len(handed[0]) > 2
