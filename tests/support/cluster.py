"""Real Synapse processes for fault tests and benchmarks: `python -m synapse_bot <shape>`, configured only by
environment names, with their logs in files and their health endpoints on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from synapse_bot.health import query
from synapse_sandbox.workspace import SlackSandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Slack/model/GitHub/Redis/MLflow setting, plus `extra`."""
    prefixes = ("SLACK_", "OPENAI_", "GITHUB_", "REDIS_", "MLFLOW_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def cluster_env(slack: SlackSandbox, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """What every process of one deployment shares: Slack, Redis, a key prefix; tracking off unless asked."""
    values = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "REDIS_URL": redis_url,
        "SYNAPSE_DATA_DIR": str(data_dir),
        "SYNAPSE_KEY_PREFIX": f"cluster-{uuid.uuid4().hex[:8]}",
        "SYNAPSE_TRACKING_ENABLED": "false",
        "SYNAPSE_LOG_FORMAT": "json",
        "GITHUB_API_URL": "http://127.0.0.1:9",
    }
    values.update(extra)
    return clean_env(**values)


class BotProcess:
    def __init__(self, shape: str, env: dict[str, str], workdir: Path, name: str | None = None) -> None:
        self.pid = 0
        self.shape = shape
        self.name = name or f"{shape}-{uuid.uuid4().hex[:4]}"
        self.health_port = free_port()
        self.env = {**env, "SYNAPSE_HEALTH_PORT": str(self.health_port), "SYNAPSE_HEALTH_HOST": "127.0.0.1"}
        self.workdir = workdir
        self.log_path = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse_bot", self.shape],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid
        return self

    def health(self) -> tuple[int, dict[str, Any]]:
        return query(f"http://127.0.0.1:{self.health_port}/health", timeout_s=2.0)

    def wait_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()[-3000:]}")
            code, body = self.health()
            if code == 200 and body.get("status") == "ok":
                return body
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy within {timeout}s:\n{self.logs()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye — the fault a crash or an OOM kill causes."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
