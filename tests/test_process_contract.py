"""The contract as outside tooling sees it: `python -m synapse_bot`, configured only by the documented names."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synapse_sandbox.github_server import GitHubServer
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import subprocess_env


@pytest.mark.e2e
def test_python_m_synapse_bot_answers_over_the_wire_and_stops_on_sigterm(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path
) -> None:
    with OpenAIServer() as model, GitHubServer() as github:
        github.add_repo("acme/widgets", labels=["bug"])
        github.add_issue("acme/widgets", "Crash on start", "it crashes on start")
        env = subprocess_env(
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.api_url,
            OPENAI_API_KEY=model.api_key,
            OPENAI_BASE_URL=model.base_url,
            OPENAI_MODEL="any-local-model",
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
            SYNAPSE_LOG_FORMAT="json",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "synapse_bot"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert slack.wait_connected(1, timeout=60), process.stderr.read() if process.poll() is not None else ""
            model.script(
                Reply.calls(("triage_issues", {"repo": "acme/widgets"})),
                Reply.json_content(
                    {
                        "issues": [
                            {
                                "number": 1,
                                "type": "bug",
                                "priority": "P1",
                                "reason": "crash",
                                "labels": ["bug"],
                                "missing_info": [],
                                "duplicates": [],
                            }
                        ]
                    }
                ),
                Reply.text("One open issue: #1 Crash on start, a **P1** bug."),
            )
            ts = slack.mention(workspace["alice"], workspace["general"], "what's going on in acme/widgets?")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=60)
            assert reply["text"] == "One open issue: #1 Crash on start, a **P1** bug."
            triaged = [m["content"] for m in model.requests[-1]["messages"] if m.get("role") == "tool"]
            assert "Crash on start" in triaged[0] and "P1" in triaged[0]  # the tool's result went back to the model
            envelope = slack.slash_command(workspace["alice"], workspace["general"], "help")
            assert slack.wait_for_ack(envelope, timeout=3).latency_s < 3
        finally:
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0 and time.monotonic() - started < 30
    assert (tmp_path / ".synapse" / "redis").is_dir()  # embedded Redis under the default data dir
    for secret in (slack.bot_token, slack.app_token, model.api_key, github.token):
        assert secret not in stderr  # structured logs never carry a token


def test_serving_processes_freeze_start_up_objects_and_only_run_shortens_the_switch_interval() -> None:
    """Checked in fresh interpreters: the tuning is process-wide, so it must not leak into this test process."""
    probe = (
        "import gc, sys; from synapse_bot.process_tuning import tune_for_serving; "
        "tune_for_serving(shares_interpreter={shared}); print(gc.get_freeze_count(), sys.getswitchinterval())"
    )
    outputs = {
        shared: subprocess.run(
            [sys.executable, "-c", probe.format(shared=shared)], capture_output=True, text=True, check=True
        ).stdout.split()
        for shared in (True, False)
    }
    assert int(outputs[True][0]) > 1_000 and float(outputs[True][1]) == 0.0005
    assert int(outputs[False][0]) > 1_000 and float(outputs[False][1]) == 0.005  # CPython's default


def test_the_product_installs_without_the_sandbox_and_its_web_server() -> None:
    """aiohttp serves only the stand-ins: a deployment's dependencies leave it (and synapse_sandbox) out."""
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[<>=\[ ;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]]
    assert "aiohttp" not in names
    assert any(dep.startswith("aiohttp") for dep in project["optional-dependencies"]["sandbox"])
    assert "synapse-bot[sandbox]" in project["optional-dependencies"]["dev"]
