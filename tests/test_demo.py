"""`synapse-bot demo` runs the real bot against the sandbox on embedded defaults and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_conversation_and_exits_zero(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_", "GITHUB_", "REDIS_", "MLFLOW_"))
    }
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
    assert (tmp_path / ".synapse" / "demo" / "mlflow.db").exists()
    assert (tmp_path / ".synapse" / "demo" / "redis" / "appendonlydir").exists() or any(
        (tmp_path / ".synapse" / "demo" / "redis").iterdir()
    )
    assert "Traceback" not in result.stderr
