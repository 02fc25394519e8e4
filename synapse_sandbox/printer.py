"""What happens in the sandbox workspace, printed as a person in Slack would see it (for `demo` and `shell`).

Every message not printed yet — in any channel, thread or DM, plus replies only one person can see — is printed
once, oldest first: who wrote it, where (when it is not the conversation being watched), and its text rendered by
`render.terminal` (names for ids, styled Markdown, link labels, short URLs), and the buttons under it as
`[Label]` (the shell's `/click` presses them).
"""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.style import Style
from rich.text import Text

from synapse_bot.render.terminal import slack_text
from synapse_bot.summaries.slack_text import readable
from synapse_sandbox.workspace import SlackSandbox

BOT = Style(bold=True, color="magenta")
PERSON = Style(bold=True)
PLACE = Style(color="bright_black")
BUTTON = Style(bold=True, color="cyan")


def terminal_console(out: TextIO) -> Console:
    """A console on `out`: colours and hyperlinks on a terminal, plain unwrapped text (no escapes) in a file or pipe."""
    console = Console(file=out, highlight=False, emoji=False)
    console.soft_wrap = not console.is_terminal
    return console


def message_buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """The buttons under a message, as (label, action_id), in the order Slack shows them (👍/👎 feedback aside)."""
    found = []
    for block in message.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if isinstance(element, dict) and element.get("type") == "button" and element.get("action_id"):
                found.append((str((element.get("text") or {}).get("text", "")), str(element["action_id"])))
    return found


class WorkspacePrinter:
    def __init__(self, sandbox: SlackSandbox, console: Console) -> None:
        self._sandbox = sandbox
        self._console = console
        self._seen: dict[tuple[str, str], str] = {}  # each message printed, with the text it had then
        self._ephemerals_seen = 0
        self._response_posts_seen = 0

    def print_new(self, focus: str | None = None) -> int:
        """Print what is new since the last call; `focus` is the channel the reader is in (others are labelled).

        A message still being streamed waits until it is finished; one edited since it was printed (a GitHub card
        whose issue changed) is printed again, marked as edited."""
        names = {u["id"]: u["name"] for u in self._sandbox.users()}
        places = self._places(names)
        printed = 0
        for message in self._sandbox.all_messages():
            key = (str(message["channel"]), str(message["ts"]))
            text = str(message.get("text") or "")
            if self._seen.get(key) == text or message.get("subtype") == "channel_join" or message.get("streaming"):
                continue
            edited = key in self._seen
            self._seen[key] = text
            where = "" if message["channel"] == focus else places.get(str(message["channel"]), "?")
            if edited:
                where = f"{where}, edited" if where else "edited"
            self._print(message, where, names, places)
            printed += 1
        ephemerals = self._sandbox.ephemerals[self._ephemerals_seen :]
        self._ephemerals_seen += len(ephemerals)
        for message in ephemerals:
            where = f"only @{names.get(str(message.get('user')), '?')} sees"
            self._print({**message, "bot_id": "B"}, where, names, places)
        posts = self._sandbox.response_url_posts[self._response_posts_seen :]
        self._response_posts_seen += len(posts)
        for post in posts:
            body = post.get("body") or {}
            visible = "only the requester sees" if body.get("response_type") != "in_channel" else ""
            self._print({"text": body.get("text", ""), "bot_id": "B"}, visible, names, places)
        return len(ephemerals) + len(posts) + printed

    def _places(self, names: dict[str, str]) -> dict[str, str]:
        with self._sandbox.workspace.lock:
            channels = list(self._sandbox.workspace.channels.values())
        bot = self._sandbox.bot_user_id
        return {
            c.id: f"DM @{'/@'.join(names.get(m, m) for m in sorted(c.members) if m != bot)}"
            if c.is_im
            else f"#{c.name}"
            for c in channels
        }

    def _print(self, message: dict[str, Any], where: str, names: dict[str, str], places: dict[str, str]) -> None:
        channel_names = {cid: place.removeprefix("#") for cid, place in places.items()}
        is_reply = bool(message.get("thread_ts")) and message.get("thread_ts") != message.get("ts")
        who = "synapse" if message.get("bot_id") else names.get(str(message.get("user")), "someone")
        prefix = Text("    ↳ " if is_reply else "  ")
        if where:
            prefix.append(f"[{where}] ", style=PLACE)
        prefix.append(f"{who}:", style=BOT if who == "synapse" else PERSON)
        prefix.append(" ")
        body = slack_text(readable(str(message.get("text") or ""), names, channel_names))
        indent = 4 + (len("    ↳ ") if is_reply else 2)
        width = max(20, self._console.width - indent)
        lines = body.wrap(self._console, width) if self._console.is_terminal else body.split("\n")
        for number, line in enumerate(lines):
            line.rstrip()
            if number == 0:
                self._console.print(Text.assemble(prefix, line), soft_wrap=True)
            else:
                self._console.print(Text.assemble(" " * indent, line) if line.plain else "", soft_wrap=True)
        if buttons := message_buttons(message):
            labels = Text(" " * indent)
            labels.append("  ".join(f"[{label}]" for label, _ in buttons), style=BUTTON)
            self._console.print(labels, soft_wrap=True)
