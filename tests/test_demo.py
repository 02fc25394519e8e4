"""`synapse-bot demo` runs the real bot against the sandbox on embedded defaults, starts clean every time, prints
readable text, and leaves an MLflow store that `synapse-bot stats --store` reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.settings import subprocess_env

pytestmark = pytest.mark.e2e


def _synapse(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synapse_bot", *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_runs_twice_from_clean_state_prints_readable_text_and_leaves_stats(tmp_path: Path) -> None:
    first = _synapse(["demo"], tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    second = _synapse(["demo"], tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout

    # every step answered, as a person would read it
    assert "synapse: Synapse — your engineering assistant" in out  # help, in the mention's thread
    assert "[#alerts] bob: checkout-api is DOWN" in out
    assert "[DM @alice] synapse: 🔔 down in #alerts from @bob:" in out
    assert "Thread summary" in out and "from cache" in out
    assert "Labels applied in acme/widgets" in out and "Review of acme/widgets#5" in out
    # a subscription: the new issue and PR as cards, triaged and reviewed in their threads, the approval threaded
    assert "Subscribed #general to acme/widgets" in out
    assert "synapse: 🟢 acme/widgets#6 Login page crashes on Safari" in out
    assert "Triage of acme/widgets#6" in out and "Review of acme/widgets#7" in out
    assert "↳ synapse: ✅ erin approved" in out
    assert "acknowledged in" in out
    assert "alice: stop monitoring #alerts" in out and "Stopped 1 monitor" in out  # the DM and its follow-up
    assert "You agreed to disable the cache warmup for now (msg 3)" in out  # a model's answer, cited
    assert "streamed into the thread: chat.startStream" in out

    # the second run starts from clean state: one monitor, not the first run's plus its own
    assert "1 active monitor" in out and "2 active monitors" not in out
    assert "cleared the last run's" in out and "cleared" not in first.stdout

    # rendered, not raw Markdown or long links; dates are today's, not yesterday's
    for raw in ("**", "](", "https://sandbox.slack.com/archives/"):
        assert raw not in out, raw
    assert "View message" in out and "view thread" in out  # link labels
    covered = re.search(r"up to (\d{4}-\d{2}-\d{2}) ", out)
    today = subprocess.run(["date", "-u", "+%Y-%m-%d"], capture_output=True, text=True).stdout.strip()
    assert covered and covered.group(1) == today

    # the closing hint names the store it wrote, and stats reads exactly that store
    store = tmp_path / ".synapse" / "demo" / "mlflow.db"
    uri = f"sqlite:///{store}"
    assert f"mlflow ui --backend-store-uri {uri}" in out
    assert f"synapse-bot stats --store {uri}" in out
    from importlib.metadata import version  # the UI's MLflow at the bot's version: a newer one refuses the store

    assert f".venv-mlflow/bin/pip install 'mlflow=={version('mlflow-skinny')}'" in out
    stats = _synapse(["stats", "--store", uri], tmp_path)
    assert stats.returncode == 0, stats.stderr
    kinds = dict(re.findall(r"(\w+) (\d+)", stats.stdout.split("by kind:")[1].splitlines()[0]))
    # this run's requests, not twice as many: people's 14 (a schedule made and tried), the subscription's triage and
    # review, and its GitHub
    # batches (one per webhook, and a poll's if it saw something first)
    assert {k: kinds.get(k) for k in ("mention", "command", "shortcut", "action", "automatic")} == {
        "mention": "11",
        "command": "1",
        "shortcut": "1",
        "action": "1",
        "automatic": "2",
    }
    assert 3 <= int(kinds["github_events"]) <= 5
    assert "triage_issues" in stats.stdout
    assert not (tmp_path / "mlruns").exists()  # trace artifacts stay under .synapse/demo
    assert "Traceback" not in first.stderr + second.stderr
    assert "Pull requests waiting for review" in out and "Fix SSO login crash" in out  # the reminder, tried out
