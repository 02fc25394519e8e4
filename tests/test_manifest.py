"""manifest.yml creates the app Synapse expects, and validates against Slack's published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Slack's published manifest schema (slackapi/manifest-schema, MIT: see LICENSE-manifest-schema beside it), kept in
# the repository so a clone alone is enough to run the tests.
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack"
SCHEMA = SCHEMA_DIR / "manifest.schema.1.0.0.json"


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return data


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_manifest(), schema)


def test_schema_copy_carries_its_licence() -> None:
    notice = (SCHEMA_DIR / "LICENSE-manifest-schema").read_text()
    assert "MIT License" in notice and "Slack Technologies" in notice
    assert json.loads(SCHEMA.read_text())["$schema"].startswith("http")


def test_manifest_declares_what_the_bot_listens_to() -> None:
    manifest = _manifest()
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) >= {
        "app_mention",
        "message.channels",
        "message.groups",
        "app_home_opened",
    }
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/synapse" and command["usage_hint"]
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", "synapse_summarize_thread")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "channels:history", "users:read"} <= scopes


def test_manifest_declares_dms_and_the_agent_view() -> None:
    manifest = _manifest()
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False
    assert manifest["features"]["assistant_view"]["assistant_description"]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"message.im", "assistant_thread_started", "assistant_thread_context_changed"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"im:history", "im:read", "assistant:write", "chat:write"} <= scopes
