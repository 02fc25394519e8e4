"""`synapse-bot shell`: talk to the real bot from a terminal, no Slack app needed.

A text backend for development: the same local Slack workspace, GitHub stand-in and embedded Redis as `demo`, with
whatever model the environment configures (OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL; none = offline). Each
line you type is a mention by alice in one #general thread (so follow-ups have memory); a line starting with `/` is a
`/synapse` slash command. The bot's answers are printed as Slack would show them. `exit` or end of input quits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO

from synapse_bot.config import Settings, load_settings
from synapse_bot.demo import demo_github, demo_settings, print_thread
from synapse_bot.logs import configure_logging
from synapse_bot.runtime import Runtime
from synapse_bot.sandbox.github_server import GitHubServer
from synapse_bot.sandbox.workspace import SlackSandbox

SHELL_DIR = Path(".synapse") / "shell"
WAIT_S = 60.0


def shell_settings(sandbox: SlackSandbox, data_dir: Path, github: GitHubServer) -> Settings:
    """The demo's settings (sandbox Slack and GitHub, embedded Redis) plus the model the environment configures."""
    # Only the model comes from the environment: Slack, GitHub and Redis are the sandbox's, so a malformed
    # SLACK_APP_TOKEN (or any other setting the shell does not use) must not stop it.
    env = load_settings(SLACK_BOT_TOKEN=None, SLACK_APP_TOKEN=None, GITHUB_TOKEN=None, REDIS_URL=None)
    return demo_settings(sandbox, data_dir, github).model_copy(
        update={
            "openai_api_key": env.openai_api_key,
            "openai_base_url": env.openai_base_url,
            "openai_model": env.openai_model,
        }
    )


def run_shell(stdin: IO[str] | None = None, out: IO[str] | None = None, data_dir: Path = SHELL_DIR) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    configure_logging("WARNING", "text")
    with SlackSandbox() as sandbox:
        alice = sandbox.add_user("alice", real_name="Alice Liddell")
        bob = sandbox.add_user("bob", real_name="Bob Builder")
        general = sandbox.add_channel("general", members=[alice, bob])
        github = demo_github()
        settings = shell_settings(sandbox, data_dir, github)
        runtime = Runtime(settings).start()
        seen: set[str] = set()
        thread: str | None = None
        try:
            if not runtime.wait_connected(10):
                out.write("The bot did not connect to the sandbox.\n")
                return 1
            model = "offline (no OPENAI_API_KEY)" if settings.offline else settings.openai_model
            out.write(f"Synapse shell — you are alice in #general; model: {model}. GitHub has acme/widgets.\n")
            out.write("Type a message (or /synapse command text after '/'); 'exit' quits.\n")
            for raw in stdin:
                line = raw.strip()
                if line in ("exit", "quit"):
                    break
                if not line:
                    continue
                if line.startswith("/"):
                    before = len(sandbox.bot_messages(general))
                    sandbox.slash_command(alice, general, line.lstrip("/").removeprefix("synapse").strip())
                    _wait_for_more(sandbox, general, None, before)
                    print_thread(sandbox, general, None, seen, out)
                    continue
                before = len(sandbox.bot_messages(general, thread)) if thread else 0
                ts = sandbox.mention(alice, general, line, thread_ts=thread)
                thread = thread or ts
                _wait_for_more(sandbox, general, thread, before)
                print_thread(sandbox, general, thread, seen, out)
                out.flush()
        finally:
            runtime.stop()
            github.stop()
    return 0


def _wait_for_more(sandbox: SlackSandbox, channel: str, thread: str | None, before: int) -> None:
    """Until the bot has posted more than `before` messages there (or WAIT_S passes)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and len(sandbox.bot_messages(channel, thread)) <= before:
        time.sleep(0.05)
    time.sleep(0.2)  # let a split answer finish posting
