"""`synapse-bot demo`: the real bot, on embedded defaults, talking to a local Slack sandbox.

Starts the sandbox workspace, an embedded redis-server and a local MLflow store under `.synapse/demo`, connects
the real bot over Socket Mode, plays a short conversation, prints it as a person would see it, and exits 0.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synapse_bot.config import Settings
from synapse_bot.logs import configure_logging
from synapse_bot.runtime import Runtime
from synapse_bot.sandbox.github_server import FileChange, GitHubServer
from synapse_bot.sandbox.workspace import SlackSandbox
from synapse_bot.summaries.slack_text import readable

DEMO_DIR = Path(".synapse") / "demo"
WAIT_S = 20.0


@dataclass
class Step:
    caption: str
    act: Callable[[SlackSandbox], tuple[str, str | None]]  # returns (channel, thread_ts) to read the answer from


def _names(sandbox: SlackSandbox) -> dict[str, str]:
    return {u["id"]: u["name"] for u in sandbox.users()}


def print_thread(sandbox: SlackSandbox, channel: str, thread_ts: str | None, seen: set[str], out: Any) -> None:
    names = _names(sandbox)
    channels = {c: sandbox.workspace.channels[c].name for c in list(sandbox.workspace.channels)}
    messages = sandbox.messages(channel, thread_ts=thread_ts) if thread_ts else sandbox.messages(channel)
    for message in messages:
        if message["ts"] in seen:
            continue
        seen.add(message["ts"])
        who = "synapse" if message.get("bot_id") else names.get(str(message.get("user")), "someone")
        indent = "    ↳ " if message.get("thread_ts") and message.get("thread_ts") != message["ts"] else "  "
        text = readable(str(message.get("text", "")), names, channels)  # as Slack would display it
        text = text.replace("\n", "\n" + " " * len(indent) + "  ")
        out.write(f"{indent}{who}: {text}\n")


def demo_github() -> GitHubServer:
    """A local GitHub with one repository, a few issues and a pull request."""
    github = GitHubServer().start()
    github.add_repo("acme/widgets", labels=["bug", "enhancement", "documentation", "question"])
    github.add_issue("acme/widgets", "App crashes on login with SSO", "Since v2.3 the app crashes right after login.")
    github.add_issue("acme/widgets", "Crash when logging in via SSO", "login with sso crashes the app")
    github.add_issue("acme/widgets", "Add a dark mode", "Would be nice to support a dark theme.")
    github.add_issue("acme/widgets", "Typo in the README install section", "The docs say pip instal.")
    patch = (
        "@@ -10,3 +10,6 @@ def login(user):\n     session = open_session(user)\n+    print(session.token)\n"
        "+    # TODO: handle expired tokens\n+    return session\n"
    )
    github.add_pull(
        "acme/widgets",
        "Fix SSO login crash",
        "Refresh the token before use.",
        files=[
            FileChange("app/login.py", patch, additions=3),
            FileChange("package-lock.json", "@@ -1 +1 @@\n-a\n+b", additions=1, deletions=1),
        ],
    )
    return github


def demo_settings(
    sandbox: SlackSandbox, data_dir: Path, github: GitHubServer | None = None, writers: str = ""
) -> Settings:
    return Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=sandbox.bot_token,
        SLACK_APP_TOKEN=sandbox.app_token,
        SLACK_API_URL=sandbox.api_url,
        OPENAI_API_KEY=None,
        GITHUB_TOKEN=github.token if github else None,
        GITHUB_API_URL=github.base_url if github else "http://127.0.0.1:9",
        SYNAPSE_GITHUB_WRITERS=writers,
        REDIS_URL=None,
        MLFLOW_TRACKING_URI=None,
        SYNAPSE_DATA_DIR=data_dir,
        SYNAPSE_LOG_FORMAT="text",
    )


def run_demo(verbose: bool = False, data_dir: Path = DEMO_DIR, out: Any = None) -> int:
    out = out or sys.stdout
    configure_logging("INFO" if verbose else "WARNING", "text")
    logging.getLogger("synapse_bot").setLevel(logging.INFO if verbose else logging.WARNING)
    with SlackSandbox() as sandbox:
        alice = sandbox.add_user("alice", real_name="Alice Liddell")
        bob = sandbox.add_user("bob", real_name="Bob Builder")
        general = sandbox.add_channel("general", members=[alice, bob])
        github = demo_github()
        settings = demo_settings(sandbox, data_dir, github, writers=alice)
        out.write("Synapse demo — a local Slack workspace (#general: alice, bob) and the real bot over Socket Mode.\n")
        out.write(f"Embedded Redis and MLflow store under {data_dir}/\n\n")
        runtime = Runtime(settings).start()
        try:
            if not runtime.wait_connected(10):
                out.write("The bot did not connect to the sandbox's Socket Mode endpoint.\n")
                return 1
            ok = _play(sandbox, runtime, alice, bob, general, out)
        finally:
            runtime.stop()
            github.stop()
    out.write("\nTraces of every request are in MLflow: " + settings.tracking_uri + "\n")
    out.write(f"Open them with:  pip install 'mlflow>=3.1' && mlflow ui --backend-store-uri {settings.tracking_uri}\n")
    return 0 if ok else 1


def _play(sandbox: SlackSandbox, runtime: Runtime, alice: str, bob: str, general: str, out: Any) -> bool:
    seen: set[str] = set()
    alerts = sandbox.add_channel("alerts", members=[alice, bob])
    ok = True

    def count(channel: str, thread_ts: str | None) -> int:
        return len(sandbox.bot_messages(channel)) + (len(sandbox.bot_messages(channel, thread_ts)) if thread_ts else 0)

    def wait_reply(channel: str, thread_ts: str | None, before: int) -> bool:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if count(channel, thread_ts) > before:
                time.sleep(0.2)  # let a split answer finish posting
                return True
            time.sleep(0.05)
        return False

    out.write("── 1. alice asks the bot for help in #general\n")
    before = count(general, None)
    ts = sandbox.mention(alice, general, "help")
    ok &= wait_reply(general, ts, before)
    print_thread(sandbox, general, ts, seen, out)

    out.write("\n── 2. alice sets up a keyword monitor on #alerts\n")
    ts = sandbox.mention(alice, general, "monitor slack channel #alerts for keywords: error, down")
    ok &= wait_reply(general, ts, 0)
    print_thread(sandbox, general, ts, seen, out)

    out.write("\n── 3. bob posts in #alerts; alice gets a DM\n")
    dm = sandbox.im_channel(alice).id
    sandbox.post_message(bob, alerts, "checkout-api is DOWN after the 14:02 deploy")
    ok &= wait_reply(dm, None, 0)
    out.write("  bob in #alerts: checkout-api is DOWN after the 14:02 deploy\n")
    print_thread(sandbox, dm, None, seen, out)

    out.write("\n── 4. a discussion in #general, summarized with the Summarize thread shortcut\n")
    root = sandbox.post_message(bob, general, "Release 2.3 is blocked on the flaky auth test. Ideas?")
    sandbox.post_message(alice, general, "I think it's the token refresh race again.", thread_ts=root)
    sandbox.post_message(bob, general, "Agreed, we'll go with disabling the cache warmup for now.", thread_ts=root)
    sandbox.post_message(alice, general, "I'll open a PR by Friday. Do we need a changelog entry?", thread_ts=root)
    print_thread(sandbox, general, root, seen, out)
    before = count(general, root)
    envelope = sandbox.message_shortcut(bob, general, root)
    ack = sandbox.wait_for_ack(envelope, timeout=5)
    out.write(f"  (shortcut acknowledged in {ack.latency_s * 1000:.0f} ms)\n")
    ok &= wait_reply(general, root, before)
    print_thread(sandbox, general, root, seen, out)

    out.write("\n── 5. the same thread again: answered from the cache\n")
    before = count(general, root)
    sandbox.mention(alice, general, "summarize this thread", thread_ts=root)
    ok &= wait_reply(general, root, before)
    print_thread(sandbox, general, root, seen, out)

    out.write("\n── 6. bob asks for a triage of acme/widgets (GitHub is a local stand-in)\n")
    ts = sandbox.mention(bob, general, "triage github issues in acme/widgets")
    ok &= wait_reply(general, ts, 0)
    print_thread(sandbox, general, ts, seen, out)
    answer = sandbox.bot_messages(general, thread_ts=ts)[-1]
    out.write("  (alice, who may write to GitHub, clicks “Apply suggested labels”)\n")
    before = count(general, ts)
    sandbox.click_button(alice, general, str(answer["ts"]), "synapse_apply_labels")
    ok &= wait_reply(general, ts, before)
    print_thread(sandbox, general, ts, seen, out)

    out.write("\n── 7. bob asks for a review of pull request #5\n")
    ts = sandbox.mention(bob, general, "review pr #5 in acme/widgets")
    ok &= wait_reply(general, ts, 0)
    print_thread(sandbox, general, ts, seen, out)

    out.write("\n── 8. alice runs /synapse list monitors\n")
    before = count(general, None)
    envelope = sandbox.slash_command(alice, general, "list monitors")
    ack = sandbox.wait_for_ack(envelope, timeout=5)
    out.write(f"  (command acknowledged in {ack.latency_s * 1000:.0f} ms)\n")
    ok &= wait_reply(general, None, before)
    print_thread(sandbox, general, None, seen, out)

    out.write("\n── 9. alice writes to Synapse directly (a DM), and follows up in its thread\n")
    ts = sandbox.direct_message(alice, "list monitors")
    ok &= wait_reply(dm, ts, count(dm, ts))
    before = count(dm, ts)
    sandbox.direct_message(alice, "stop monitoring #alerts", thread_ts=ts)
    ok &= wait_reply(dm, ts, before)
    print_thread(sandbox, dm, ts, seen, out)
    if not ok:
        out.write("\nSome answers did not arrive in time: run `synapse-bot demo --verbose` to see the bot's logs.\n")
    return ok
