"""`synapse-bot shell`: a local Slack workspace in the terminal, with the real bot in it. No Slack app needed.

The same sandbox workspace, GitHub stand-in and embedded Redis as `demo` (both start clean each time), with whatever
model the environment configures (OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL; none = offline). Lines are typed
as in Slack: `@synapse …` mentions the bot, anything else is a plain message (which monitors see and summaries
read). Shell commands choose who speaks and where — `/as bob`, `/in #alerts`, `/thread` — `/synapse …` is the
slash command, and `/click …` presses a button under an answer (alice may confirm GitHub writes, bob may not).
Everything the bot posts anywhere (thread replies, DM alerts, private replies) is printed, labelled with where it
happened, with the buttons under a message as `[Label]`.

Parsing a line and turning typed text into Slack markup are pure functions; `Shell` does the I/O.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from synapse_bot.config import Settings, load_settings
from synapse_bot.demo import (
    connect_webhooks,
    demo_github,
    demo_settings,
    free_port,
    prepare_tracking_store,
    reset_demo_state,
)
from synapse_bot.logs import configure_logging
from synapse_bot.runtime import Runtime
from synapse_bot.summaries.slack_text import readable
from synapse_sandbox.github_server import FileChange, GitHubServer
from synapse_sandbox.printer import WorkspacePrinter, message_buttons, terminal_console
from synapse_sandbox.workspace import SlackSandbox

SHELL_DIR = Path(".synapse") / "shell"
PEOPLE = ("alice", "bob")
CHANNELS = ("general", "alerts")
BOT_NAME = "synapse"
ANSWER_WAIT_S = 60.0  # a mention or slash command: wait this long for the bot's first word (a model may be slow)
PLAIN_WAIT_S = 2.0  # a plain message: wait this long for a monitor alert before taking the next line
GITHUB_WAIT_S = 10.0  # something done on GitHub: its webhook reaches the bot at once; a triage or review may follow
QUIET_S = 0.5  # the bot has finished when it posted nothing new for this long
ARRIVALS_EVERY_S = 0.5  # while the shell waits for a line, what the bot posts is printed this often

HELP = """\
Type as in Slack: mention the bot with @synapse (e.g. `@synapse help`); a line without a mention is a plain
message, which the bot does not answer but monitors watch and summaries read.
  /as <person>       speak as someone else: alice or bob
  /in #<channel>     go to a channel: #general or #alerts (leaves any thread)
  /thread            open the thread of the latest message here (your next lines are replies); again to leave it
  /synapse <text>    the slash command, e.g. /synapse list monitors
  /click <button>    press a button under an answer here, by the start of its label, e.g. /click apply
                     (alice may confirm GitHub writes; bob may not)
  /github <what>     make something happen on the GitHub stand-in's acme/widgets, as you (its webhooks reach
                     the bot at once): issue <title> · pr <title> · draft <title> · comment #N <text> ·
                     approve #N [text] · changes #N <text> · close #N · reopen #N · merge #N · ready #N ·
                     label #N <a,b> · fail #N <check name> · release <tag>
                     (subscribe first: @synapse subscribe to acme/widgets issues pulls reviews comments)
  /help              this list
  /quit              leave (or `exit`, or end of input)
What the bot posts elsewhere (DM alerts, other channels, replies only you see) is labelled, e.g. [DM @alice]."""


# Commands: what a typed line means -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class SpeakAs:
    person: str


@dataclass(frozen=True)
class GoTo:
    channel: str


@dataclass(frozen=True)
class ToggleThread:
    pass


@dataclass(frozen=True)
class Slash:
    text: str


@dataclass(frozen=True)
class Click:
    label: str  # the start of a button's label; empty: the newest button


@dataclass(frozen=True)
class OnGitHub:
    """Something a person does on GitHub: `verb` (issue, pr, comment, …), the item's number, and the rest."""

    verb: str
    number: int | None
    text: str


GITHUB_VERBS = {
    "issue": False,
    "pr": False,
    "draft": False,
    "release": False,
    "comment": True,
    "approve": True,
    "changes": True,
    "close": True,
    "reopen": True,
    "merge": True,
    "ready": True,
    "label": True,
    "fail": True,
}  # verb → whether it takes a #number


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Unknown:
    command: str


Command = Say | SpeakAs | GoTo | ToggleThread | Slash | Click | OnGitHub | Help | Quit | Unknown


def parse_github(rest: str) -> OnGitHub | Unknown:
    """`/github <verb> [#N] [text]`; Unknown (with the usage) when the verb or the number is missing."""
    verb, _, tail = rest.strip().partition(" ")
    verb = verb.lower()
    if verb not in GITHUB_VERBS:
        return Unknown(f"/github {rest}".strip())
    number = None
    if GITHUB_VERBS[verb]:
        match = re.match(r"#?(\d+)\s*(.*)$", tail.strip(), re.S)
        if match is None:
            return Unknown(f"/github {rest}".strip())
        number, tail = int(match.group(1)), match.group(2)
    return OnGitHub(verb, number, tail.strip())


def parse_line(line: str) -> Command | None:
    """What a typed line asks for; None for a blank line."""
    line = line.strip()
    if not line:
        return None
    if line in ("exit", "quit"):
        return Quit()
    if not line.startswith("/"):
        return Say(line)
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    match name.lower():
        case "/as" if rest:
            return SpeakAs(rest.removeprefix("@").lower())
        case "/in" if rest:
            return GoTo(rest.removeprefix("#").lower())
        case "/thread" if not rest:
            return ToggleThread()
        case "/synapse":
            return Slash(rest)
        case "/click":
            return Click(rest.strip("[]“”\"'"))
        case "/github" | "/gh":
            return parse_github(rest)
        case "/help" | "/?":
            return Help()
        case "/quit" | "/exit":
            return Quit()
    return Unknown(line)


_PERSON = re.compile(r"(?<![\w@])@([\w-]+(?:\.[\w-]+)*)")
_CHANNEL = re.compile(r"(?<![\w/&])#([a-z0-9][\w-]*(?:\.[\w-]+)*)", re.IGNORECASE)


def slack_markup(text: str, people: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Typed text as Slack's composer sends it: & < > escaped, known @names and #channels as `<@U…>` / `<#C…|name>`.

    `people` and `channels` map names to ids (the bot is one of the people); unknown names stay plain text.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def person(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        return f"<@{people[name]}>" if name in people else match.group(0)

    text = _PERSON.sub(person, text)

    def channel(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        return f"<#{channels[name]}|{name}>" if name in channels else match.group(0)

    return _CHANNEL.sub(channel, text)


def mentions_bot(markup: str, bot_user_id: str) -> bool:
    return f"<@{bot_user_id}>" in markup


# The shell: a workspace, a speaker, a place ---------------------------------------------------------------------


def shell_settings(sandbox: SlackSandbox, data_dir: Path, github: GitHubServer, writers: str = "") -> Settings:
    """The demo's settings (sandbox Slack and GitHub, embedded Redis) plus the model the environment configures;
    `writers` may confirm GitHub writes."""
    # Only the model comes from the environment: Slack, GitHub and Redis are the sandbox's, so a malformed
    # SLACK_APP_TOKEN (or any other setting the shell does not use) must not stop it.
    env = load_settings(SLACK_BOT_TOKEN=None, SLACK_APP_TOKEN=None, GITHUB_TOKEN=None, REDIS_URL=None)
    return demo_settings(sandbox, data_dir, github, writers=writers, webhook_port=free_port()).model_copy(
        update={
            "openai_api_key": env.openai_api_key,
            "openai_base_url": env.openai_base_url,
            "openai_model": env.openai_model,
        }
    )


def _ids(sandbox: SlackSandbox) -> dict[str, str]:
    return {u["name"]: u["id"] for u in sandbox.users() if not u.get("is_bot")}


class Shell:
    def __init__(
        self,
        sandbox: SlackSandbox,
        printer: WorkspacePrinter,
        channels: dict[str, str],
        out: TextIO,
        github: GitHubServer | None = None,
    ):
        self._sandbox = sandbox
        self._github = github
        self._printer = printer
        self._channels = channels  # name → id
        self._people = {name: uid for name, uid in _ids(sandbox).items() if name in PEOPLE}
        self._out = out
        self.person = PEOPLE[0]
        self.channel = CHANNELS[0]
        self.thread: str | None = None
        self._busy = threading.Lock()  # a command in hand prints its own results; arrivals wait

    def prompt(self) -> str:
        where = f"#{self.channel}" + (" › thread" if self.thread else "")
        return f"{self.person} in {where} › "

    def handle(self, command: Command) -> bool:
        """Carry out one command; False when the shell should end."""
        with self._busy:
            return self._handle(command)

    def print_arrivals(self) -> int:
        """Print what the bot posted while the shell was waiting for a line (an answer that took longer than the
        wait after the line that asked, a GitHub card's triage); how many messages. Nothing while a command is in
        hand: it prints its own."""
        if not self._busy.acquire(blocking=False):
            return 0
        try:
            printed = self._printer.print_new(focus=self._channel_id)
            self._out.flush()
            return printed
        finally:
            self._busy.release()

    def _handle(self, command: Command) -> bool:
        match command:
            case Quit():
                return False
            case Help():
                self._note(HELP)
            case SpeakAs(person):
                self._speak_as(person)
            case GoTo(channel):
                self._go_to(channel)
            case ToggleThread():
                self._toggle_thread()
            case Slash(text):
                self._wait_after(lambda: self._sandbox.slash_command(self._me, self._channel_id, text), ANSWER_WAIT_S)
            case Say(text):
                self._say(text)
            case Click(label):
                self._click(label)
            case OnGitHub():
                self._on_github(command)
            case Unknown(line):
                self._note(f"Unknown shell command: {line!r}. /help lists them; /synapse … is the slash command.")
        return True

    def finish(self) -> None:
        """Print what the bot is still posting (an alert, the end of a long answer) before the shell ends."""
        self._settle(deadline=time.monotonic() + PLAIN_WAIT_S, before=self._bot_activity())

    @property
    def _me(self) -> str:
        return self._people[self.person]

    @property
    def _channel_id(self) -> str:
        return self._channels[self.channel]

    def _say(self, text: str) -> None:
        everyone = {**self._people, BOT_NAME: self._sandbox.bot_user_id}
        markup = slack_markup(text, everyone, self._channels)
        wait = ANSWER_WAIT_S if mentions_bot(markup, self._sandbox.bot_user_id) else PLAIN_WAIT_S
        self._wait_after(lambda: self._sandbox.post_message(self._me, self._channel_id, markup, self.thread), wait)

    def _click(self, label: str) -> None:
        """Press the newest button in this channel (threads included) whose label starts with `label`."""
        wanted = label.casefold()
        found = next(
            (
                (str(message["ts"]), text, action_id)
                for message in reversed(self._sandbox.all_bot_messages())
                if message["channel"] == self._channel_id
                for text, action_id in message_buttons(message)
                if text.casefold().startswith(wanted)
            ),
            None,
        )
        if found is None:
            what = f"starting with {label!r} " if label else ""
            self._note(f"No button {what}in #{self.channel}: buttons show under answers as [Label].")
            return
        ts, text, action_id = found
        self._note(f"({self.person} clicks [{text}])")
        self._wait_after(lambda: self._sandbox.click_button(self._me, self._channel_id, ts, action_id), ANSWER_WAIT_S)

    def _on_github(self, action: OnGitHub) -> None:
        """Do it on the GitHub stand-in as the current person; what the bot posts about it is printed."""
        github = self._github
        if github is None:
            self._note("There is no GitHub stand-in in this shell.")
            return
        repo, user, n, text = "acme/widgets", self.person, action.number, action.text
        default = {"issue": "A new issue", "pr": "A new pull request", "draft": "A draft", "release": "v1.0.0"}
        title = text or default.get(action.verb, "")
        done: Callable[[], object]
        match action.verb:
            case "issue":
                done = lambda: github.open_issue(repo, title, user=user)  # noqa: E731
            case "pr" | "draft":
                change = FileChange("app/feature.py", "@@ -1 +1,2 @@\n x\n+y", additions=1)
                done = lambda: github.open_pull(repo, title, user=user, draft=action.verb == "draft", files=[change])  # noqa: E731
            case "release":
                done = lambda: github.publish_release(repo, title, user=user)  # noqa: E731
            case _:
                if n is None or n not in github.repos[repo].issues:
                    self._note(f"acme/widgets has no #{n}; /github issue <title> files one.")
                    return
                done = self._github_change(github, repo, n, action.verb, text, user)
        self._note(f"({user} on GitHub: {action.verb}{f' #{n}' if n else ''})")
        self._wait_after(done, GITHUB_WAIT_S)

    @staticmethod
    def _github_change(
        github: GitHubServer, repo: str, n: int, verb: str, text: str, user: str
    ) -> Callable[[], object]:
        changes: dict[str, Callable[[], object]] = {
            "comment": lambda: github.comment(repo, n, text or "+1", user=user),
            "approve": lambda: github.submit_review(repo, n, user, "APPROVED", text),
            "changes": lambda: github.submit_review(repo, n, user, "CHANGES_REQUESTED", text or "Please change this."),
            "close": lambda: github.close(repo, n, user=user),
            "reopen": lambda: github.reopen(repo, n, user=user),
            "merge": lambda: github.merge(repo, n, user=user),
            "ready": lambda: github.mark_ready(repo, n, user=user),
            "label": lambda: github.set_labels(repo, n, [x.strip() for x in text.split(",") if x.strip()], user=user),
            "fail": lambda: github.finish_check(repo, n, text or "tests", "failure", summary="1 test failed"),
        }
        return changes[verb]

    def _speak_as(self, person: str) -> None:
        if person not in self._people:
            self._note(f"No one called {person!r} here; people: {', '.join(self._people)}.")
            return
        self.person = person
        self._note(f"(you are now {person})")

    def _go_to(self, channel: str) -> None:
        if channel not in self._channels:
            self._note(f"No channel #{channel}; channels: {', '.join('#' + c for c in self._channels)}.")
            return
        self.channel, self.thread = channel, None
        self._note(f"(in #{channel})")

    def _toggle_thread(self) -> None:
        if self.thread:
            self.thread = None
            self._note(f"(left the thread; back in #{self.channel})")
            return
        latest = self._sandbox.messages(self._channel_id)
        if not latest:
            self._note(f"#{self.channel} has no message yet: post one, then /thread opens its thread.")
            return
        root = latest[-1]
        self.thread = str(root["ts"])
        names = {uid: name for name, uid in {**self._people, BOT_NAME: self._sandbox.bot_user_id}.items()}
        text = readable(str(root.get("text", "")), names, {cid: name for name, cid in self._channels.items()})
        self._note(f"(in the thread of: {text[:60]!r})")

    def _note(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _bot_activity(self) -> tuple[int, int, int, int]:
        """Changes when the bot posts or edits anything (an edited GitHub card, a stream's next piece)."""
        messages = self._sandbox.all_bot_messages()
        edits = hash(tuple(str(m.get("text", "")) for m in messages))
        return len(messages), edits, len(self._sandbox.ephemerals), len(self._sandbox.response_url_posts)

    def _wait_after(self, act: Callable[[], object], first_word_s: float) -> None:
        before = self._bot_activity()
        act()
        self._settle(deadline=time.monotonic() + first_word_s, before=before)

    def _settle(self, deadline: float, before: tuple[int, int, int, int]) -> None:
        """Wait for the bot's first new post or edit (until `deadline`), then until it is quiet; print what is new."""
        while time.monotonic() < deadline and self._bot_activity() == before:
            time.sleep(0.05)
        seen = self._bot_activity()
        quiet_since = time.monotonic()
        while seen != before and time.monotonic() - quiet_since < QUIET_S:
            time.sleep(0.05)
            now = self._bot_activity()
            if now != seen:
                seen, quiet_since = now, time.monotonic()
        self._printer.print_new(focus=self._channel_id)
        self._out.flush()


class ArrivalPrinter:
    """A thread printing what arrives between typed lines (`Shell.print_arrivals`); on a terminal it shows the prompt
    again after them."""

    def __init__(self, shell: Shell, out: TextIO, *, interactive: bool, every_s: float = ARRIVALS_EVERY_S) -> None:
        self._shell = shell
        self._out = out
        self._interactive = interactive
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shell-arrivals", daemon=True)

    def start(self) -> ArrivalPrinter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            if self._shell.print_arrivals() and self._interactive:
                self._out.write(self._shell.prompt())
                self._out.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _lines(stdin: TextIO, out: TextIO, shell: Shell) -> Iterator[str]:
    """Typed lines: with a prompt (and line editing) on a terminal; read as they come from a pipe or file."""
    interactive = stdin is sys.stdin and stdin.isatty()
    while True:
        if interactive:
            try:
                yield input(shell.prompt())
            except EOFError:
                out.write("\n")
                return
        else:
            line = stdin.readline()
            if not line:
                return
            yield line


def run_shell(stdin: TextIO | None = None, out: TextIO | None = None, data_dir: Path = SHELL_DIR) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    configure_logging("WARNING", "text")
    reset_demo_state(data_dir)  # a fresh workspace: no monitors or cached summaries from the last session
    with SlackSandbox() as sandbox:
        for name in PEOPLE:
            sandbox.add_user(name, real_name=name.title())
        members = list(_ids(sandbox).values())
        channels = {name: sandbox.add_channel(name, members=members) for name in CHANNELS}
        github = demo_github()
        settings = shell_settings(sandbox, data_dir, github, writers=_ids(sandbox)[PEOPLE[0]])
        prepare_tracking_store(settings, data_dir)
        runtime = Runtime(settings).start()
        try:
            if not runtime.wait_connected(10):
                out.write("The bot did not connect to the sandbox.\n")
                return 1
            connect_webhooks(github, settings)
            shell = Shell(sandbox, WorkspacePrinter(sandbox, terminal_console(out)), channels, out, github)
            model = "offline (no OPENAI_API_KEY)" if settings.offline else settings.openai_model
            out.write(
                f"Synapse shell — a local Slack workspace: {', '.join('#' + c for c in CHANNELS)} with "
                f"{' and '.join(PEOPLE)}; model: {model}; GitHub stand-in with acme/widgets ({PEOPLE[0]} may confirm "
                "writes to it).\n"
                f"You are {shell.person} in #{shell.channel}. Try `@synapse help`; /help lists the shell's commands.\n"
            )
            out.flush()
            arrivals = ArrivalPrinter(shell, out, interactive=stdin is sys.stdin and stdin.isatty()).start()
            try:
                for line in _lines(stdin, out, shell):
                    command = parse_line(line)
                    if command is not None and not shell.handle(command):
                        break
            finally:
                arrivals.stop()
            shell.finish()
        finally:
            runtime.stop()
            github.stop()
    out.write(f"MLflow traces of this session: {settings.tracking_uri}\n")
    return 0
