"""`synapse-bot demo` runs the real bot against the sandbox on embedded defaults and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import subprocess_env


def test_demo_runs_the_conversation_and_exits_zero(tmp_path: Path) -> None:
    env = subprocess_env()
    result = subprocess.run(
        [sys.executable, "-m", "synapse_bot", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "synapse: **Synapse**" in out  # help answered in the mention thread
    assert "🔔 **down** in #alerts" in out and "from cache" in out
    assert "Labels applied in acme/widgets" in out and "Review of [acme/widgets#5]" in out
    assert "Thread summary" in out  # the shortcut's summary
    assert "acknowledged in" in out
    assert "alice: stop monitoring #alerts" in out and "Stopped" in out  # the DM conversation
    assert (tmp_path / ".synapse" / "demo" / "mlflow.db").exists()
    assert (tmp_path / ".synapse" / "demo" / "redis" / "appendonlydir").exists() or any(
        (tmp_path / ".synapse" / "demo" / "redis").iterdir()
    )
    assert "Traceback" not in result.stderr


def test_shell_talks_to_the_real_bot_from_stdin(tmp_path: Path) -> None:
    lines = "help\ntriage acme/widgets\nand only the bugs?\n/synapse list monitors\nexit\n"
    done = subprocess.run(
        [sys.executable, "-m", "synapse_bot", "shell"],
        input=lines,
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "model: offline" in out
    assert "summarize_thread" in out  # help
    assert "Triage of acme/widgets" in out and "App crashes on login with SSO" in out
    assert out.count("synapse:") >= 4  # every line got an answer
    assert (tmp_path / ".synapse" / "shell" / "redis").is_dir()
