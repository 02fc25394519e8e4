"""Start-up failures and outages speak plainly: one line naming the part, the cause and the fix; a non-zero exit;
no traceback; nothing we started left running. Checked as separate `python -m synapse_bot` processes and, where
the object matters (the embedded redis-server), in-process through the sandbox."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from synapse_bot.config import Settings
from synapse_bot.health import query
from synapse_bot.runtime import Runtime
from synapse_bot.startup import QueueOutageLines, StartupError, network_cause
from synapse_bot.store.connection import OutageReport, wait_for_redis
from synapse_bot.store.embedded import EmbeddedRedis, redis_server_binary
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import free_port
from tests.support.settings import subprocess_env
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e

WELL_FORMED_BOT_TOKEN = "xoxb-1111-2222-" + "a" * 24
WELL_FORMED_APP_TOKEN = "xapp-1-A0SYNAPSE-3333-" + "b" * 32


def start_bot(env: dict[str, str], workdir: Path, log_path: Path) -> subprocess.Popen[str]:
    """`python -m synapse_bot` in `workdir`, configured by `env`, its output (both streams) in `log_path`."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "synapse_bot"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )


def bot_env(slack: SlackSandbox, **extra: str) -> dict[str, str]:
    """The environment of a bot process against the Slack stand-in, logging plain text; `extra` on top."""
    return subprocess_env(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.api_url,
        SYNAPSE_LOG_FORMAT="text",
        **extra,
    )


def closed_url(path: str = "") -> str:
    return f"http://127.0.0.1:{free_port()}{path}"


def redis_servers_under(directory: Path) -> list[int]:
    """Pids of redis-server processes whose command line names `directory` (the embedded one lives there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if "redis-server" in cmdline and str(directory) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def run_bot(env: dict[str, str], cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synapse_bot", *args],
        cwd=cwd,
        env=subprocess_env(**{"SYNAPSE_LOG_FORMAT": "text", "SYNAPSE_DATA_DIR": str(cwd / "data"), **env}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_plain_failure(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Synapse cannot start")]
    for phrase in phrases:
        assert phrase in line, line


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never answers: a server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield int(listener.getsockname()[1])
    listener.close()


# Slack -------------------------------------------------------------------------------------------------------


def test_slack_unreachable_at_start_is_one_line_naming_slack_api_url_and_exit_1(tmp_path: Path) -> None:
    result = run_bot(
        {
            "SLACK_BOT_TOKEN": WELL_FORMED_BOT_TOKEN,
            "SLACK_APP_TOKEN": WELL_FORMED_APP_TOKEN,
            "SLACK_API_URL": closed_url("/api/"),
        },
        tmp_path,
    )
    assert_plain_failure(result, "Slack", "connection refused", "SLACK_API_URL")
    assert result.returncode == 1
    assert "ERROR" not in result.stderr  # the SDK's own error lines (with tracebacks) only at DEBUG
    assert redis_servers_under(tmp_path) == []


def test_a_rejected_app_token_is_one_line_and_leaves_no_redis_server_running(
    slack: SlackSandbox, tmp_path: Path
) -> None:
    result = run_bot(
        {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": WELL_FORMED_APP_TOKEN, "SLACK_API_URL": slack.api_url},
        tmp_path,
    )
    assert_plain_failure(result, "SLACK_APP_TOKEN", "invalid_auth", "connections:write")
    assert "embedded redis started" in result.stderr  # it did start one …
    assert redis_servers_under(tmp_path) == []  # … and stopped it


def test_a_failed_start_in_process_raises_a_startup_error_and_stops_the_embedded_redis(
    slack: SlackSandbox, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=WELL_FORMED_APP_TOKEN,
        SLACK_API_URL=slack.api_url,
        SYNAPSE_DATA_DIR=tmp_path / "data",
        SYNAPSE_TRACKING_ENABLED=False,
    )
    runtime = Runtime(settings)
    with pytest.raises(StartupError) as failure:
        runtime.start()
    assert failure.value.part == "Slack Socket Mode" and "invalid_auth" in failure.value.cause
    assert runtime.embedded_redis is not None and runtime.embedded_redis.pid is None  # stopped
    assert redis_servers_under(tmp_path) == []


def test_debug_logging_still_shows_the_traceback_of_a_failed_start(tmp_path: Path) -> None:
    result = run_bot(
        {
            "SLACK_BOT_TOKEN": WELL_FORMED_BOT_TOKEN,
            "SLACK_APP_TOKEN": WELL_FORMED_APP_TOKEN,
            "SLACK_API_URL": closed_url("/api/"),
            "SYNAPSE_LOG_LEVEL": "DEBUG",
        },
        tmp_path,
    )
    assert result.returncode == 1 and "Traceback" in result.stderr


# Redis -------------------------------------------------------------------------------------------------------


def _wait_for_text(path: Path, text: str, process: subprocess.Popen[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = path.read_text(errors="replace") if path.exists() else ""
        if text in logs:
            return logs
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before saying {text!r}:\n{logs}")
        time.sleep(0.1)
    raise AssertionError(f"never said {text!r}:\n{path.read_text(errors='replace')}")


def test_redis_unreachable_at_start_is_said_once_then_the_bot_connects_when_it_comes_up(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "bot.log"
    env = bot_env(
        slack,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        SYNAPSE_DATA_DIR=str(tmp_path / "data"),
        SYNAPSE_TRACKING_ENABLED="false",
    )
    process = start_bot(env, tmp_path, log_path)
    server = EmbeddedRedis(tmp_path / "redis", persist=False, port=port)
    try:
        _wait_for_text(log_path, "Redis is unreachable", process)
        server.start()
        _wait_for_text(log_path, "Redis reachable", process)
        assert slack.wait_connected(1, timeout=30)
        ts = slack.mention(workspace["alice"], workspace["general"], "help")
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
        # Up to here: slack_sdk's Socket Mode client can log a traceback of its own while closing (a send racing
        # the close), which is not what this test is about.
        logs = log_path.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        server.stop()
    assert process.returncode == 0
    [unreachable] = [line for line in logs.splitlines() if "Redis is unreachable" in line]
    assert f"127.0.0.1:{port}" in unreachable and "connection refused" in unreachable and "REDIS_URL" in unreachable
    assert "Traceback" not in logs and "CRITICAL" not in logs


def test_sigterm_while_waiting_for_redis_exits_0_at_once(slack: SlackSandbox, tmp_path: Path) -> None:
    log_path = tmp_path / "bot.log"
    env = bot_env(
        slack,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        SYNAPSE_TRACKING_ENABLED="false",
    )
    process = start_bot(env, tmp_path, log_path)
    _wait_for_text(log_path, "Redis is unreachable", process)
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - stopped_at < 10
    assert "Traceback" not in log_path.read_text()


def port_outside_the_ephemeral_range() -> int:
    """A free port below Linux's ephemeral range (32768+), where servers bound to port 0 never land."""
    for port in random.sample(range(20_000, 30_000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 30000")


def test_waiting_for_redis_says_still_unreachable_once_a_minute_and_once_when_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A clock moved by hand: 5 minutes of outage, retried every 10 s, then a real redis-server comes up."""
    now = [0.0]
    port = port_outside_the_ephemeral_range()  # no other test's server can be given it meanwhile
    server = EmbeddedRedis(tmp_path / "redis", persist=False, port=port)

    def delays() -> Iterator[float]:
        while True:
            now[0] += 10
            if now[0] == 300:
                server.start()
            yield 0.0

    # No client-side retries (redis-py backs off up to seconds per ping): the test's clock is the one that moves.
    client = redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    url = f"redis://user:secret@127.0.0.1:{port}/0"
    try:
        with caplog.at_level(logging.INFO, logger="synapse_bot.store.connection"):
            assert wait_for_redis(client, url, threading.Event(), clock=lambda: now[0], delays=delays())
    finally:
        client.close()
        server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "synapse_bot.store.connection"]
    shown = f"redis://127.0.0.1:{port}/0"
    assert len([line for line in lines if "Redis is unreachable" in line]) == 1
    assert [line for line in lines if "still unreachable" in line] == [
        f"Redis still unreachable for {n} s at {shown} (connection refused)." for n in (60, 120, 180, 240)
    ]
    assert lines[-1].startswith(f"Redis reachable at {shown} after 300 s")
    assert "secret" not in " ".join(lines)


def test_an_outage_report_speaks_first_then_once_a_minute() -> None:
    report = OutageReport(every_s=60)
    spoken = [t for t in range(0, 200, 5) if report.failed(float(t))]
    assert spoken == [0, 60, 120, 180]


def test_a_redis_that_refuses_the_password_is_one_line_and_exit_1(slack: SlackSandbox, tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            "right-password",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port, password="right-password")
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        probe.close()
        result = run_bot(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_URL": slack.api_url,
                "REDIS_URL": f"redis://:wrong-password@127.0.0.1:{port}/0",
            },
            tmp_path,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert_plain_failure(result, "Redis", "refused the credentials", "REDIS_URL")
    assert "wrong-password" not in result.stderr


def test_a_malformed_redis_url_and_an_unusable_data_dir_are_one_line_each(slack: SlackSandbox, tmp_path: Path) -> None:
    slack_env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url}
    malformed = run_bot({**slack_env, "REDIS_URL": "localhost:6379"}, tmp_path)
    assert_plain_failure(malformed, "REDIS_URL is not a Redis URL", "redis://")
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    unusable = run_bot({**slack_env, "SYNAPSE_DATA_DIR": str(not_a_dir)}, tmp_path)
    assert_plain_failure(unusable, "Embedded Redis", "SYNAPSE_DATA_DIR")


def test_redis_lost_while_running_is_a_plain_line_a_minute_not_critical_lines_and_tracebacks(
    slack: SlackSandbox, tmp_path: Path
) -> None:
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", persist=False, port=port).start()
    log_path = tmp_path / "bot.log"
    health_port = free_port()
    env = bot_env(
        slack,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        SYNAPSE_TRACKING_ENABLED="false",
        SYNAPSE_HEALTH_PORT=str(health_port),
        SYNAPSE_HEALTH_HOST="127.0.0.1",
    )
    process = start_bot(env, tmp_path, log_path)
    try:
        assert slack.wait_connected(1, timeout=60)
        server.kill()
        _wait_for_text(log_path, "job queue: Redis unreachable", process)
        _wait_for_text(log_path, "digests not sent", process)

        def outage() -> dict[str, int]:
            return dict(query(f"http://127.0.0.1:{health_port}/health", timeout_s=2.0)[1].get("outage") or {})

        # Two more rounds of both after their first lines: the four consumers' errors (requests, github and their
        # delay queues, every 3 s) held back, and digest sweeps (every 5 s) failed.
        wait_until(
            lambda: outage().get("queue_lines_held", 0) >= 8 and outage().get("digest_sweeps_failed", 0) >= 3,
            30,
            "two more rounds of the outage",
        )
        logs = log_path.read_text()  # before shutdown: see the Redis-at-start test
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "Traceback" not in logs and "CRITICAL" not in logs and "Restarting consumer" not in logs
    assert len([line for line in logs.splitlines() if "job queue: Redis unreachable" in line]) == 1
    assert len([line for line in logs.splitlines() if "digests not sent" in line]) == 1


def test_queue_outage_lines_keep_one_plain_warning_a_minute() -> None:
    now = [0.0]
    quiet = QueueOutageLines(every_s=60, clock=lambda: now[0])

    def record(message: str, level: int = logging.CRITICAL) -> logging.LogRecord:
        return logging.LogRecord("dramatiq.worker.ConsumerThread(requests)", level, __file__, 1, message, None, None)

    kept = []
    for second in range(0, 150, 3):
        now[0] = float(second)
        error = record("Consumer encountered a connection error: Error 111 connecting. Connection refused.")
        if quiet.filter(error):
            kept.append((second, error.levelname, error.getMessage()))
        assert not quiet.filter(record("Restarting consumer in 3.00 seconds.", logging.INFO))
    assert [k[0] for k in kept] == [0, 60, 120]
    assert kept[0][1] == "WARNING" and "Redis unreachable (connection refused)" in kept[0][2]
    other = logging.LogRecord("synapse_bot.runtime", logging.INFO, __file__, 1, "synapse started", None, None)
    assert quiet.filter(other)


# MLflow ------------------------------------------------------------------------------------------------------


def test_mlflow_unreachable_is_one_warning_and_replies_are_unaffected(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "bot.log"
    tracking = closed_url()
    env = bot_env(
        slack,
        MLFLOW_TRACKING_URI=tracking,
    )
    process = start_bot(env, tmp_path, log_path)
    try:
        assert slack.wait_connected(1, timeout=60)
        ts = slack.mention(workspace["alice"], workspace["general"], "help")
        reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
        assert "summarize_thread" in reply["text"]
        _wait_for_text(log_path, "MLflow is unreachable", process)
        logs = log_path.read_text()  # before shutdown: see the Redis-at-start test
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    [warning] = [line for line in logs.splitlines() if "MLflow is unreachable" in line]
    assert "MLFLOW_TRACKING_URI" in warning and "replies are unaffected" in warning
    # The recorder's own line waits its minute: the unreachable store is said once, not twice.
    assert [line for line in logs.splitlines() if "WARNING" in line and "mlflow" in line.lower()] == [warning]
    assert "Traceback" not in logs
    assert redis_servers_under(tmp_path) == []


# check -------------------------------------------------------------------------------------------------------


def test_check_gives_each_part_at_most_ten_seconds_and_one_line_when_everything_hangs(
    tmp_path: Path, blackhole: int
) -> None:
    hung = f"http://127.0.0.1:{blackhole}"
    started = time.monotonic()
    result = run_bot(
        {
            "SLACK_BOT_TOKEN": WELL_FORMED_BOT_TOKEN,
            "SLACK_APP_TOKEN": WELL_FORMED_APP_TOKEN,
            "SLACK_API_URL": hung + "/api/",
            "REDIS_URL": f"redis://127.0.0.1:{blackhole}/0",
            "MLFLOW_TRACKING_URI": hung,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": hung + "/v1",
            "GITHUB_API_URL": hung,
        },
        tmp_path,
        "check",
    )
    elapsed = time.monotonic() - started
    assert elapsed < 25, elapsed  # parts run side by side, each ≤ 10 s, plus the interpreter's start
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 6, result.stdout
    for line in lines:
        assert line.startswith(("FAIL", "warn")) and ("timed out" in line or "no answer" in line), line
    assert "Traceback" not in result.stdout + result.stderr and result.stderr.strip() == ""


def test_check_names_the_setting_and_the_cause_when_ports_are_closed(tmp_path: Path) -> None:
    result = run_bot(
        {
            "SLACK_BOT_TOKEN": WELL_FORMED_BOT_TOKEN,
            "SLACK_APP_TOKEN": WELL_FORMED_APP_TOKEN,
            "SLACK_API_URL": closed_url("/api/"),
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "MLFLOW_TRACKING_URI": closed_url(),
        },
        tmp_path,
        "check",
    )
    out = result.stdout
    assert result.returncode == 1
    assert "FAIL  slack bot token  cannot reach SLACK_API_URL" in out and "connection refused" in out
    assert "cannot reach REDIS_URL redis://127.0.0.1:" in out
    assert "warn  mlflow" in out and "cannot reach MLFLOW_TRACKING_URI" in out
    assert all(len(line) < 200 for line in out.splitlines()) and "Retry(" not in out + result.stderr


# shell and demo ----------------------------------------------------------------------------------------------


def test_shell_ignores_a_malformed_slack_app_token_it_does_not_use(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "synapse_bot", "shell"],
        cwd=tmp_path,
        env=subprocess_env(SLACK_APP_TOKEN="not-a-token", SLACK_BOT_TOKEN="nope", REDIS_URL="redis://127.0.0.1:1"),
        input="@synapse help\n/quit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "summarize_thread" in result.stdout
    assert redis_servers_under(tmp_path) == []


def test_demo_ignores_a_malformed_slack_app_token_it_does_not_use(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "synapse_bot", "demo"],
        cwd=tmp_path,
        env=subprocess_env(SLACK_APP_TOKEN="not-a-token", SLACK_BOT_TOKEN="nope"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert redis_servers_under(tmp_path) == []


# the cause, in a few words -----------------------------------------------------------------------------------


def test_network_causes_are_named_in_a_few_words(blackhole: int) -> None:
    refused = redis.Redis(port=free_port(), socket_connect_timeout=1)
    hung = redis.Redis(port=blackhole, socket_connect_timeout=0.5, socket_timeout=0.5)
    for client, cause in ((refused, "connection refused"), (hung, "no answer (timed out)")):
        with pytest.raises(redis.RedisError) as failure:
            client.ping()
        assert network_cause(failure.value) == cause
        client.close()
    assert os.environ.get("SLACK_APP_TOKEN") is None  # the tests above never leak settings into this process


def test_the_openai_sdk_is_not_imported_before_connecting() -> None:
    """Its 0.4 s of imports would delay the Socket Mode connection: the runtime and the CLI load without it, and a
    model client is built without it too (the SDK loads on the first call, or on the warm-up after connecting)."""
    probe = (
        "import sys\n"
        "import synapse_bot.cli, synapse_bot.runtime\n"
        "from synapse_bot.llm.client import LlmClient\n"
        "client = LlmClient(api_key='k', base_url='http://127.0.0.1:9/v1', model='gpt-4o-mini')\n"
        "print('openai' in sys.modules)\n"
        "client.warm_up()\n"
        "print('openai' in sys.modules)\n"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.split() == ["False", "True"]
