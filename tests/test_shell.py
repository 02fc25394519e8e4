"""`synapse-bot shell`: people, channels, threads and plain messages in a local workspace with the real bot, so a
monitor fires on someone else's plain message and a thread of plain messages can be summarized."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from synapse_bot.shell import (
    CHANNELS,
    PEOPLE,
    ArrivalPrinter,
    Click,
    GoTo,
    Help,
    Quit,
    Say,
    Shell,
    Slash,
    SpeakAs,
    ToggleThread,
    Unknown,
    parse_line,
    run_shell,
    slack_markup,
)
from synapse_sandbox.printer import WorkspacePrinter, terminal_console
from synapse_sandbox.workspace import SlackSandbox
from tests.support.waits import wait_until


def test_parse_line() -> None:
    assert parse_line("  ") is None
    assert parse_line("@synapse help") == Say("@synapse help")
    assert parse_line("/as @Bob") == SpeakAs("bob")
    assert parse_line("/in #alerts") == GoTo("alerts")
    assert parse_line("/thread") == ToggleThread()
    assert parse_line("/synapse list monitors") == Slash("list monitors")
    assert parse_line("/help") == Help()
    assert parse_line("/click [Apply suggested]") == Click("Apply suggested") and parse_line("/click") == Click("")
    assert parse_line("exit") == Quit() and parse_line("/quit") == Quit()
    assert parse_line("/as") == Unknown("/as") and parse_line("/frobnicate x") == Unknown("/frobnicate x")


def test_slack_markup_is_what_slacks_composer_sends() -> None:
    people = {"synapse": "UBOT", "bob": "U2"}
    channels = {"alerts": "C9"}
    assert slack_markup("@synapse watch #alerts for <b> & @bob, not #5 or @carol", people, channels) == (
        "<@UBOT> watch <#C9|alerts> for &lt;b&gt; &amp; <@U2>, not #5 or @carol"
    )
    assert slack_markup("review acme/widgets#5 mail a@b.c", people, channels) == "review acme/widgets#5 mail a@b.c"
    assert slack_markup("@Synapse in #Alerts", people, channels) == "<@UBOT> in <#C9|alerts>"


def _typed_into_the_shell(lines: list[str], tmp_path: Path) -> str:
    """What the shell prints for these typed lines (a fresh workspace under tmp_path)."""
    out = io.StringIO()
    assert run_shell(stdin=io.StringIO("\n".join(lines) + "\n"), out=out, data_dir=tmp_path / "shell") == 0
    return out.getvalue()


@pytest.mark.e2e  # the whole bot, in process, against the sandbox (14 s)
def test_a_monitor_fires_on_bobs_plain_message_and_a_thread_of_plain_messages_is_summarized(tmp_path: Path) -> None:
    lines = [
        '@synapse monitor slack channel #alerts for keywords: error, critical, "disk full"',
        "/as bob",
        "/in #alerts",
        "the disk full alarm fired on db-2",
        "/in #general",
        "Release 2.3 is blocked on the flaky auth test. Ideas?",
        "/thread",
        "I think it's the token refresh race again.",
        "/as alice",
        "Agreed, we'll go with disabling the cache warmup for now.",
        "@synapse summarize this thread",
        "/thread",
        "/synapse list monitors",
        "/help",
        "/quit",
        "@synapse this line comes after /quit and is never sent",
    ]
    printed = _typed_into_the_shell(lines, tmp_path)

    assert "Watching #alerts for disk full, error, critical" in printed
    # bob's plain message in #alerts, and the alert in alice's DM
    assert "  bob: the disk full alarm fired on db-2" in printed
    assert "[DM @alice] synapse: 🔔 disk full in #alerts from @bob:" in printed
    # the plain messages went into one thread, and the summary covers them
    assert "(in the thread of: 'Release 2.3 is blocked on the flaky auth test. Ideas?')" in printed
    assert "    ↳ bob: I think it's the token refresh race again." in printed
    summary = printed[printed.index("↳ synapse: Thread summary") :]
    assert "token refresh race" in summary and "disabling the cache warmup" in summary
    assert "Covers 3 messages" in summary
    # the slash command still works, outside the thread
    assert "synapse: @alice asked /synapse list monitors" in printed and "1 active monitor" in printed
    # /help lists the shell's commands; nothing after /quit was sent
    for command in ("/as <person>", "/in #<channel>", "/thread", "/synapse <text>", "/help", "/quit"):
        assert command in printed
    assert "never sent" not in printed
    assert "**" not in printed and "](" not in printed


@pytest.mark.e2e  # the whole bot, in process, against the sandbox
def test_buttons_show_under_answers_and_click_confirms_a_github_write_only_for_alice(tmp_path: Path) -> None:
    lines = [
        "@synapse triage acme/widgets",
        "/as bob",
        "/click apply",
        "/as alice",
        "/click Apply suggested labels",
        "/click apply",
        "/click no-such-button",
    ]
    printed = _typed_into_the_shell(lines, tmp_path)
    assert "alice may confirm writes" in printed
    assert "          [Apply suggested labels]" in printed  # under the triage answer
    refused = printed.index("(bob clicks [Apply suggested labels])")
    applied = printed.index("(alice clicks [Apply suggested labels])")
    assert "@bob, I can't apply labels for you." in printed[refused:applied]
    assert "Labels applied in acme/widgets by @alice:" in printed[applied:] and "#1: added bug" in printed[applied:]
    assert "Nothing changed: these labels were already applied." in printed[applied:]
    assert "No button starting with 'no-such-button' in #general" in printed


def test_what_arrives_while_the_shell_waits_for_a_line_is_printed_without_one() -> None:
    """A slow model's answer or a GitHub card's triage comes after the wait that follows the line that caused it:
    it is printed as it arrives, not when the next line is typed."""
    out = io.StringIO()
    with SlackSandbox() as sandbox:
        people = {name: sandbox.add_user(name, real_name=name.title()) for name in PEOPLE}
        channels = {name: sandbox.add_channel(name, members=list(people.values())) for name in CHANNELS}
        shell = Shell(sandbox, WorkspacePrinter(sandbox, terminal_console(out)), channels, out)
        arrivals = ArrivalPrinter(shell, out, interactive=False, every_s=0.05).start()
        try:
            sandbox.post_message(people["bob"], channels["alerts"], "the deploy finished")
            wait_until(lambda: "[#alerts] bob: the deploy finished" in out.getvalue(), 10, "the arrival printed")
        finally:
            arrivals.stop()
    assert out.getvalue().count("the deploy finished") == 1  # printed once, not on every look
