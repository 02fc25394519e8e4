"""The one GitHub failure the rest of Synapse catches."""

from __future__ import annotations


class GitHubError(Exception):
    """A GitHub failure phrased for the Slack thread: what went wrong and what to do."""
