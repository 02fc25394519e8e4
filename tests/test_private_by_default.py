"""Private by default across conversations (#16.3), end to end: the real bot, the sandbox Slack, Redis.

Content quoted from one conversation is posted in another only when everyone who reads the destination can read
the source; otherwise only the requester sees it (ephemeral in the thread, or a DM), with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.waits import settled

pytestmark = pytest.mark.e2e


def link(channel: str, ts: str) -> str:
    return f"<https://sandbox.slack.com/archives/{channel}/p{ts.replace('.', '')}>"


def secret_thread(slack: SlackSandbox, workspace: dict[str, str]) -> tuple[str, str]:
    secret = slack.add_channel("secret", members=[workspace["alice"], workspace["bob"]], is_private=True)
    root = slack.post_message(workspace["bob"], secret, "the acquisition of Initech closes on Friday")
    slack.post_message(workspace["alice"], secret, "keep the price of 40M quiet until then", thread_ts=root)
    return secret, root


def test_a_private_thread_summarised_in_a_public_channel_reaches_only_the_requester_with_the_reason(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    asked = slack.mention(workspace["alice"], workspace["general"], f"summarize {link(secret, root)}")
    private = slack.wait_for_ephemeral(workspace["alice"])
    assert private["channel"] == workspace["general"] and private["thread_ts"] == asked
    assert "Initech" in private["text"]
    assert "This quotes #secret, which not everyone here can read, so only you see it." in private["text"]
    assert slack.bot_messages(workspace["general"], thread_ts=asked) == []
    public_text = " ".join(m.get("text", "") for m in slack.bot_messages(workspace["general"]))
    assert "Initech" not in public_text


def test_the_same_summary_asked_inside_the_private_channel_is_posted_there(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    slack.mention(workspace["alice"], secret, "summarize this thread", thread_ts=root)
    reply = slack.wait_for_bot_message(secret, thread_ts=root)
    assert "Initech" in reply["text"] and "only you see it" not in reply["text"]
    assert slack.ephemerals == []


def test_a_public_channels_summary_asked_in_another_public_channel_is_posted_normally(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    incidents = slack.add_channel("incidents", members=[workspace["alice"], workspace["bob"]])
    root = slack.post_message(workspace["bob"], incidents, "db failover at 02:00")
    slack.post_message(workspace["bob"], incidents, "failover done, replica promoted", thread_ts=root)
    asked = slack.mention(workspace["alice"], workspace["general"], f"summarize {link(incidents, root)}")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)
    assert "db failover" in reply["text"] and slack.ephemerals == []


def test_a_private_thread_goes_to_a_private_channel_whose_members_all_read_it(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    pair = slack.add_channel("alice-bob", members=[workspace["alice"], workspace["bob"]], is_private=True)
    carol = slack.add_user("carol")
    trio = slack.add_channel("trio", members=[workspace["alice"], workspace["bob"], carol], is_private=True)
    in_pair = slack.mention(workspace["alice"], pair, f"summarize {link(secret, root)}")
    assert "Initech" in slack.wait_for_bot_message(pair, thread_ts=in_pair)["text"]
    in_trio = slack.mention(workspace["alice"], trio, f"summarize {link(secret, root)}")
    private = slack.wait_for_ephemeral(workspace["alice"], predicate=lambda e: e["channel"] == trio)
    assert "Initech" in private["text"] and slack.bot_messages(trio, thread_ts=in_trio) == []


def test_when_slack_refuses_the_ephemeral_the_requester_gets_a_dm_saying_where_they_asked(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    slack.fail("chat.postEphemeral", "internal_error", times=5)
    asked = slack.mention(workspace["alice"], workspace["general"], f"summarize {link(secret, root)}")
    dm = slack.im_channel(workspace["alice"]).id
    reply = slack.wait_for_bot_message(dm)
    assert "Initech" in reply["text"] and f"You asked in <#{workspace['general']}>" in reply["text"]
    assert "not everyone there can read" in reply["text"]
    assert slack.bot_messages(workspace["general"], thread_ts=asked) == []


def test_who_reads_a_conversation_is_asked_once_for_repeated_answers_within_a_minute(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    for n in range(1, 3):
        slack.mention(workspace["alice"], workspace["general"], f"summarize {link(secret, root)}")
        slack.wait_for_ephemeral(workspace["alice"], predicate=lambda e, n=n: len(slack.ephemerals) >= n)
    described = [c.params.get("channel") for c in slack.calls("conversations.info")]
    assert described.count(secret) == 1 and described.count(workspace["general"]) == 1


def test_an_alert_from_a_private_channel_meant_for_a_public_one_goes_to_its_creator_with_the_reason(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("secret", members=[workspace["alice"], workspace["bob"]], is_private=True)
    asked = slack.mention(
        workspace["alice"],
        workspace["general"],
        f"monitor <#{secret}|secret> for keywords: outage, alert in <#{workspace['general']}|general>",
    )
    slack.wait_for_bot_message(workspace["general"], thread_ts=asked)
    slack.post_message(workspace["bob"], secret, "outage in the Initech vault")
    dm = slack.wait_for_bot_message(slack.im_channel(workspace["alice"]).id)
    assert "Initech" in dm["text"]
    assert f"This alert quotes #secret, which not everyone in <#{workspace['general']}> can read" in dm["text"]
    assert not [m for m in slack.bot_messages(workspace["general"]) if "Initech" in m.get("text", "")]


def test_an_alert_from_a_public_channel_is_posted_in_the_public_alert_channel(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ops = slack.add_channel("ops", members=[workspace["alice"], workspace["bob"]])
    asked = slack.mention(
        workspace["alice"],
        workspace["general"],
        f"monitor <#{ops}|ops> for keywords: outage, alert in <#{workspace['general']}|general>",
    )
    slack.wait_for_bot_message(workspace["general"], thread_ts=asked)
    slack.post_message(workspace["bob"], ops, "outage on the mail relay")
    alert = slack.wait_for_bot_message(workspace["general"], predicate=lambda m: "mail relay" in m.get("text", ""))
    assert "This alert quotes" not in alert["text"]


def _repeats_everything_it_was_told(body: dict[str, Any]) -> Reply:
    """A model that summarises by quoting the transcript, and otherwise repeats its conversation so far."""
    if body.get("response_format"):
        transcript = body["messages"][-1]["content"]
        return Reply.json_content({"tldr": transcript[-300:], "key_points": [], "decisions": [], "action_items": []})
    said = [str(m.get("content") or "") for m in body["messages"] if m.get("role") in ("assistant", "tool")]
    return Reply.text("As I said: " + " ".join(said)[-1500:])


def test_a_follow_up_in_the_destination_thread_does_not_repeat_a_private_answer_publicly(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(_repeats_everything_it_was_told)
    secret, root = secret_thread(slack, workspace)
    asked = slack.mention(workspace["alice"], workspace["general"], f"summarize {link(secret, root)}")
    assert "Initech" in slack.wait_for_ephemeral(workspace["alice"])["text"]
    slack.mention(workspace["bob"], workspace["general"], "what was that about?", thread_ts=asked)
    # The thread's memory quoted #secret, so the model's answer (which repeats it) goes to bob alone — he is in
    # #secret, so he may read it there — and never into #general.
    told_bob = slack.wait_for_ephemeral(workspace["bob"])
    assert "Initech" in told_bob["text"] and "not everyone here can read" in told_bob["text"]
    settled(slack, model_bot)
    assert not any("Initech" in m["text"] for m in slack.bot_messages(workspace["general"], thread_ts=asked))


def test_a_public_channels_summary_is_kept_from_a_guest_who_is_not_in_that_channel(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    gus = slack.add_user("gus", is_guest=True)
    support = slack.add_channel("support", members=[workspace["alice"], gus])
    incidents = slack.add_channel("incidents", members=[workspace["alice"], workspace["bob"]])
    root = slack.post_message(workspace["bob"], incidents, "db failover at 02:00")
    slack.post_message(workspace["bob"], incidents, "failover done, replica promoted", thread_ts=root)
    asked = slack.mention(workspace["alice"], support, f"summarize {link(incidents, root)}")
    private = slack.wait_for_ephemeral(workspace["alice"])
    assert "db failover" in private["text"] and "This quotes #incidents" in private["text"]
    assert slack.bot_messages(support, thread_ts=asked) == []


def test_asked_in_ones_own_dm_with_synapse_a_private_thread_is_answered_there_even_if_slack_wont_describe_the_dm(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    dm = slack.im_channel(workspace["alice"]).id
    slack.fail("conversations.info", "missing_scope", times=3, after=1)  # the source is described, the DM not
    slack.slash_command(workspace["alice"], dm, f"summarize {link(secret, root)}")
    reply = slack.wait_for_bot_message(dm)
    assert "Initech" in reply["text"] and slack.ephemerals == []


def _answers_from_its_tools(body: dict[str, Any]) -> Reply:
    """Summaries quote the transcript; answers repeat the last tool result, slowly (so they stream)."""
    if body.get("response_format"):
        transcript = body["messages"][-1]["content"]
        return Reply.json_content({"tldr": transcript[-300:], "key_points": [], "decisions": [], "action_items": []})
    results = [str(m.get("content") or "") for m in body["messages"] if m.get("role") == "tool"]
    return Reply.slowly("From what I read: " + (results[-1][:600] if results else "nothing"), piece_delay_s=0.01)


def test_a_model_answer_quoting_a_private_channel_is_never_streamed_in_public(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    model.script(Reply.calls(("summarize_thread", {"channel": secret, "thread_ts": root})))
    model.set_responder(_answers_from_its_tools)
    asked = slack.mention(workspace["alice"], workspace["general"], "what is going on in our secret thread?")
    private = slack.wait_for_ephemeral(workspace["alice"], timeout=20)
    assert "Initech" in private["text"] and "This quotes #secret" in private["text"]
    assert slack.stream_log == []  # nothing was streamed: the model wrote only after reading #secret
    assert slack.bot_messages(workspace["general"], thread_ts=asked) == []


def test_text_streamed_before_a_tool_quoted_a_private_channel_becomes_a_note_and_the_answer_goes_privately(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    secret, root = secret_thread(slack, workspace)
    call = json.dumps({"name": "summarize_thread", "arguments": {"channel": secret, "thread_ts": root}})
    model.script(Reply.slowly(f"Let me read that thread first.\n<tool_call>{call}</tool_call>", piece_delay_s=0.01))
    model.set_responder(_answers_from_its_tools)
    asked = slack.mention(workspace["alice"], workspace["general"], "what is going on in our secret thread?")
    private = slack.wait_for_ephemeral(workspace["alice"], timeout=20)
    assert "Initech" in private["text"]
    [public] = slack.bot_messages(workspace["general"], thread_ts=asked)
    assert "answered" in public["text"] and "privately" in public["text"] and "Initech" not in public["text"]
    assert "Initech" not in "".join(text for _, _, text, _ in slack.stream_log)  # nothing of it was ever streamed
