"""Who may confirm writes to GitHub: Slack users listed in SYNAPSE_GITHUB_WRITERS, or members of the user group
SYNAPSE_GITHUB_WRITER_GROUP. Nobody by default, and a refusal says how to be allowed."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.config import Settings

log = logging.getLogger(__name__)

HOW_TO_ALLOW = (
    "Writes to GitHub need permission: an admin can add your Slack user id to SYNAPSE_GITHUB_WRITERS, or you to the "
    "user group named in SYNAPSE_GITHUB_WRITER_GROUP."
)


def may_write_github(settings: Settings, client: WebClient | None, user: str) -> bool:
    if user in settings.github_writer_ids:
        return True
    group = settings.github_writer_group.strip()
    if not group or client is None:
        return False
    try:
        members = client.usergroups_users_list(usergroup=group).get("users") or []
    except SlackApiError as exc:
        log.warning("user group lookup failed", extra={"error": exc.response.get("error")})
        return False
    return user in members
