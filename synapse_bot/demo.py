"""`synapse-bot demo`: the real bot, on embedded defaults, talking to a local Slack sandbox.

Starts the sandbox workspace, an embedded redis-server and a local MLflow store under `.synapse/demo`, connects
the real bot over Socket Mode, plays a short conversation, prints it as a person would see it, and exits 0.
Every run starts clean: the previous run's Redis data and MLflow store are removed first (not at the end, so the
latest run's traces stay there to browse).
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from synapse_bot.config import Settings
from synapse_bot.logs import configure_logging
from synapse_bot.runtime import Runtime
from synapse_sandbox.github_server import FileChange, GitHubServer
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.printer import WorkspacePrinter, terminal_console
from synapse_sandbox.workspace import SlackSandbox

DEMO_DIR = Path(".synapse") / "demo"
WAIT_S = 20.0
# What a demo run leaves in its data dir: the embedded Redis's files, the MLflow store and the traces' artifacts.
DEMO_STATE = ("redis", "mlflow.db", "mlartifacts")


def reset_demo_state(data_dir: Path) -> list[str]:
    """Remove the previous run's state (monitors, caches, memory, traces); only the names the demo writes."""
    removed = []
    for name in DEMO_STATE:
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


def prepare_tracking_store(settings: Settings, data_dir: Path) -> None:
    """Create the demo's MLflow experiment with its artifacts under the data dir, not in `./mlruns` of the cwd.

    MLflow keeps some trace data as artifacts; with a sqlite store their default home is `./mlruns` wherever the
    process runs, which would leave demo traces outside `.synapse/demo` (and outside the reset above).
    """
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its "Creating initial MLflow database tables"

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    if client.get_experiment_by_name(settings.mlflow_experiment_name) is None:
        artifacts = (data_dir / "mlartifacts").resolve()
        client.create_experiment(settings.mlflow_experiment_name, artifact_location=artifacts.as_uri())


def _mlflow_version() -> str:
    """The installed MLflow client's version (read from the package metadata: importing MLflow is slow)."""
    try:
        return version("mlflow-skinny")
    except PackageNotFoundError:
        return version("mlflow")


def mlflow_commands(tracking_uri: str) -> list[tuple[str, str]]:
    """How to look at the store the demo wrote: (what, exact command), with this installation's executables."""
    bin_dir = Path(sys.executable).parent
    try:
        shown = bin_dir.relative_to(Path.cwd())
        prefix = f"{shown}/"
    except ValueError:
        prefix = f"{bin_dir}/" if (bin_dir / "synapse-bot").exists() else ""
    return [
        ("a summary in the terminal", f"{prefix}synapse-bot stats --store {tracking_uri}"),
        (
            "full MLflow for the UI, once, in its own environment (it brings pandas and pyarrow; the bot needs "
            "only mlflow-skinny), at the bot's version (a newer one would refuse this store until migrated)",
            f"python3 -m venv .venv-mlflow && .venv-mlflow/bin/pip install 'mlflow=={_mlflow_version()}'",
        ),
        (
            "the MLflow UI (then open http://127.0.0.1:5000)",
            f".venv-mlflow/bin/mlflow ui --backend-store-uri {tracking_uri}",
        ),
    ]


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


WEBHOOK_SECRET = "synapse-demo-webhook-secret"  # the sandbox's GitHub signs its webhooks with it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_settings(
    sandbox: SlackSandbox,
    data_dir: Path,
    github: GitHubServer | None = None,
    writers: str = "",
    webhook_port: int | None = None,
) -> Settings:
    """The sandbox's Slack and GitHub, embedded Redis and MLflow; with `webhook_port`, GitHub's events arrive as
    signed webhooks there (and are polled too, every SYNAPSE_GITHUB_POLL_SECONDS, for anything they miss)."""
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
        SYNAPSE_GITHUB_WEBHOOK_PORT=webhook_port,
        SYNAPSE_GITHUB_WEBHOOK_HOST="127.0.0.1",
        SYNAPSE_GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET if webhook_port else None,
    )


def connect_webhooks(github: GitHubServer, settings: Settings) -> None:
    """Point the sandbox GitHub's webhook at the running bot, as a repository admin would on GitHub."""
    if settings.github_webhook_port:
        github.add_hook(f"http://127.0.0.1:{settings.github_webhook_port}/github/webhook", WEBHOOK_SECRET)


def run_demo(verbose: bool = False, data_dir: Path = DEMO_DIR, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    console = terminal_console(out)
    configure_logging("INFO" if verbose else "WARNING", "text")
    logging.getLogger("synapse_bot").setLevel(logging.INFO if verbose else logging.WARNING)
    removed = reset_demo_state(data_dir)
    with SlackSandbox() as sandbox:
        alice = sandbox.add_user("alice", real_name="Alice Liddell")
        bob = sandbox.add_user("bob", real_name="Bob Builder")
        general = sandbox.add_channel("general", members=[alice, bob])
        alerts = sandbox.add_channel("alerts", members=[alice, bob])
        github = demo_github()
        settings = demo_settings(sandbox, data_dir, github, writers=alice, webhook_port=free_port())
        prepare_tracking_store(settings, data_dir)
        console.print(
            "Synapse demo — a local Slack workspace (#general and #alerts: alice, bob) and the real bot over Socket "
            "Mode.",
            style="bold",
        )
        cleared = f" (cleared the last run's {', '.join(removed)})" if removed else ""
        console.print(f"Embedded Redis and MLflow store under {data_dir}/{cleared}\n")
        runtime = Runtime(settings).start()
        try:
            if not runtime.wait_connected(10):
                console.print("The bot did not connect to the sandbox's Socket Mode endpoint.")
                return 1
            connect_webhooks(github, settings)
            printer = WorkspacePrinter(sandbox, console)
            ok = _play(sandbox, printer, alice, bob, general, alerts, console.print)
            ok &= _github_events(sandbox, printer, github, alice, general, console.print)
            ok &= _review_reminder(sandbox, printer, alice, general, console.print)
        finally:
            runtime.stop()
        try:
            ok &= _with_a_model(sandbox, printer, settings, alice, bob, general, console.print)
        finally:
            github.stop()
    console.print(f"\nEvery request above is an MLflow trace in {settings.tracking_uri}", style="bold")
    for what, command in mlflow_commands(settings.tracking_uri):
        console.print(f"  {what}:")
        console.print(f"    {command}", soft_wrap=True)
    return 0 if ok else 1


STREAMED_ANSWER = (
    "You agreed to disable the cache warmup for now [m3], since the token refresh race is the likely cause of the "
    "flaky auth test [m2]. Alice opens the PR by Friday [m4]; whether it needs a changelog entry is still open."
)


def _with_a_model(
    sandbox: SlackSandbox,
    printer: WorkspacePrinter,
    settings: Settings,
    alice: str,
    bob: str,
    general: str,
    say: Callable[..., None],
) -> bool:
    """The same workspace with a model. The model is the scripted OpenAI-compatible stand-in the tests use (so no
    key is needed, and it says so): the real bot reads the thread, sends it with the question, and streams the
    answer it gets back, citations turned into links."""
    say("\n── 12. with a model: a question inside a thread, answered as it is written", style="bold cyan")
    say(
        "  (the model is a scripted stand-in, so the demo needs no key; for a real one set OPENAI_API_KEY and use "
        "`synapse-bot shell`)",
        style="dim",
    )
    with OpenAIServer() as model:
        model.set_responder(lambda body: Reply.slowly(STREAMED_ANSWER, piece_delay_s=0.04))
        with_model = settings.model_copy(
            update={"openai_api_key": SecretStr(model.api_key), "openai_base_url": model.base_url}
        )
        runtime = Runtime(with_model).start()
        try:
            if not runtime.wait_connected(10):
                say("The bot did not connect to the sandbox's Socket Mode endpoint.")
                return False
            root = sandbox.post_message(bob, general, "Release 2.4: the auth test is flaky again. What now?")
            sandbox.post_message(alice, general, "Probably the token refresh race, like last time.", thread_ts=root)
            sandbox.post_message(bob, general, "Then we disable the cache warmup for now.", thread_ts=root)
            sandbox.post_message(alice, general, "Agreed. I'll open the PR by Friday.", thread_ts=root)
            sandbox.mention(alice, general, "what did we decide, and who does what?", thread_ts=root)
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and not sandbox.bot_messages(general, thread_ts=root):
                time.sleep(0.05)
            answer = sandbox.bot_messages(general, thread_ts=root)
            printer.print_new(focus=general)
            if not answer:
                return False
            pieces = [step for step, ts, _, _ in sandbox.stream_log if ts == answer[-1]["ts"]]
            say(
                f"  (streamed into the thread: chat.startStream, {pieces.count('append')} appends, chat.stopStream)",
                style="dim",
            )
            return True
        finally:
            runtime.stop()


def _github_events(
    sandbox: SlackSandbox,
    printer: WorkspacePrinter,
    github: GitHubServer,
    alice: str,
    general: str,
    say: Callable[..., None],
) -> bool:
    """A subscription: GitHub's events in #general, unasked — a new issue triaged, a PR reviewed, a review threaded."""
    say("\n── 10. alice subscribes #general to acme/widgets; then things happen on GitHub", style="bold cyan")
    ts = sandbox.mention(alice, general, "subscribe to acme/widgets issues pulls reviews triage review")
    ok = _wait(lambda: bool(sandbox.bot_messages(general, thread_ts=ts)))
    printer.print_new(focus=general)
    say(
        "  (carol files an issue and dave opens a PR on GitHub: its signed webhooks reach /github/webhook)", style="dim"
    )
    issue = github.open_issue("acme/widgets", "Login page crashes on Safari", "Blank page after SSO.", user="carol")
    pull = github.open_pull(
        "acme/widgets",
        "Handle expired SSO tokens",
        "Refresh before use.",
        user="dave",
        requested_reviewers=["erin"],
        files=[FileChange("app/login.py", "@@ -1,2 +1,3 @@\n def login(user):\n+    refresh(user)\n", additions=1)],
    )

    def threads_filled() -> bool:
        found = 0
        for message in sandbox.bot_messages(general):
            text = str(message.get("text", ""))
            if (f"#{issue} " in text or f"#{pull} " in text) and sandbox.bot_messages(general, thread_ts=message["ts"]):
                found += 1
        return found >= 2

    ok &= _wait(threads_filled)
    printer.print_new(focus=general)
    say("  (erin approves the PR on GitHub)", style="dim")
    github.submit_review("acme/widgets", pull, "erin", "APPROVED", "Looks good, thanks!")
    before = len(sandbox.all_bot_messages())
    ok &= _wait(lambda: len(sandbox.all_bot_messages()) > before)
    printer.print_new(focus=general)
    return ok


def _review_reminder(
    sandbox: SlackSandbox, printer: WorkspacePrinter, alice: str, general: str, say: Callable[..., None]
) -> bool:
    """A schedule: the PRs waiting for review, every weekday at 09:00 in alice's time zone; tried out now."""
    say("\n── 11. alice schedules a review reminder for #general, and tries it out", style="bold cyan")
    ts = sandbox.mention(
        alice, general, f"remind <#{general}|general> about reviews in acme/widgets every weekday at 09:00"
    )
    ok = _wait(lambda: bool(sandbox.bot_messages(general, thread_ts=ts)))
    printer.print_new(focus=general)
    made = sandbox.bot_messages(general, thread_ts=ts)
    schedule_id = str(made[0]["text"]).split("`")[1] if made and "`" in str(made[0]["text"]) else ""
    say(
        "  (at 09:00 the scheduler posts it in #general, once however many workers run; `run schedule` shows it now)",
        style="dim",
    )
    ts = sandbox.mention(alice, general, f"run schedule {schedule_id}")
    ok &= _wait(lambda: bool(sandbox.bot_messages(general, thread_ts=ts)))
    printer.print_new(focus=general)
    return ok and bool(schedule_id)


def _wait(done: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if done():
            time.sleep(0.3)  # let what follows (a split answer, the next line) arrive too
            return True
        time.sleep(0.05)
    return False


def _play(
    sandbox: SlackSandbox,
    printer: WorkspacePrinter,
    alice: str,
    bob: str,
    general: str,
    alerts: str,
    say: Callable[..., None],
) -> bool:
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

    def step(caption: str) -> None:
        say(f"\n── {caption}", style="bold cyan")

    step("1. alice asks the bot for help in #general")
    before = count(general, None)
    ts = sandbox.mention(alice, general, "help")
    ok &= wait_reply(general, ts, before)
    printer.print_new(focus=general)

    step("2. alice sets up a keyword monitor on #alerts")
    ts = sandbox.mention(alice, general, "monitor slack channel #alerts for keywords: error, down")
    ok &= wait_reply(general, ts, 0)
    printer.print_new(focus=general)

    step("3. bob posts in #alerts; alice gets a DM")
    dm = sandbox.im_channel(alice).id
    sandbox.post_message(bob, alerts, "checkout-api is DOWN after the 14:02 deploy")
    ok &= wait_reply(dm, None, 0)
    printer.print_new(focus=general)

    step("4. a discussion in #general, summarized with the Summarize thread shortcut")
    root = sandbox.post_message(bob, general, "Release 2.3 is blocked on the flaky auth test. Ideas?")
    sandbox.post_message(alice, general, "I think it's the token refresh race again.", thread_ts=root)
    sandbox.post_message(bob, general, "Agreed, we'll go with disabling the cache warmup for now.", thread_ts=root)
    sandbox.post_message(alice, general, "I'll open a PR by Friday. Do we need a changelog entry?", thread_ts=root)
    printer.print_new(focus=general)
    before = count(general, root)
    envelope = sandbox.message_shortcut(bob, general, root)
    ack = sandbox.wait_for_ack(envelope, timeout=5)
    say(f"  (shortcut acknowledged in {ack.latency_s * 1000:.0f} ms)", style="dim")
    ok &= wait_reply(general, root, before)
    printer.print_new(focus=general)

    step("5. the same thread again: answered from the cache")
    before = count(general, root)
    sandbox.mention(alice, general, "summarize this thread", thread_ts=root)
    ok &= wait_reply(general, root, before)
    printer.print_new(focus=general)

    step("6. bob asks for a triage of acme/widgets (GitHub is a local stand-in)")
    ts = sandbox.mention(bob, general, "triage github issues in acme/widgets")
    ok &= wait_reply(general, ts, 0)
    printer.print_new(focus=general)
    answer = sandbox.bot_messages(general, thread_ts=ts)[-1]
    say("  (alice, who may write to GitHub, clicks “Apply suggested labels”)", style="dim")
    before = count(general, ts)
    sandbox.click_button(alice, general, str(answer["ts"]), "synapse_apply_labels")
    ok &= wait_reply(general, ts, before)
    printer.print_new(focus=general)

    step("7. bob asks for a review of pull request #5")
    ts = sandbox.mention(bob, general, "review pr #5 in acme/widgets")
    ok &= wait_reply(general, ts, 0)
    printer.print_new(focus=general)

    step("8. alice runs /synapse list monitors")
    before = count(general, None)
    envelope = sandbox.slash_command(alice, general, "list monitors")
    ack = sandbox.wait_for_ack(envelope, timeout=5)
    say(f"  (command acknowledged in {ack.latency_s * 1000:.0f} ms)", style="dim")
    ok &= wait_reply(general, None, before)
    printer.print_new(focus=general)

    step("9. alice writes to Synapse directly (a DM), and follows up in its thread")
    ts = sandbox.direct_message(alice, "list monitors")
    ok &= wait_reply(dm, ts, count(dm, ts))
    before = count(dm, ts)
    sandbox.direct_message(alice, "stop monitoring #alerts", thread_ts=ts)
    ok &= wait_reply(dm, ts, before)
    printer.print_new(focus=dm)
    if not ok:
        say("\nSome answers did not arrive in time: run `synapse-bot demo --verbose` to see the bot's logs.")
    return ok
