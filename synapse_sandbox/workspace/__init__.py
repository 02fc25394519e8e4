"""A local Slack workspace emulator: Web API over HTTP and Socket Mode over WebSocket, on 127.0.0.1."""

from synapse_sandbox.workspace.sandbox import SlackSandbox
from synapse_sandbox.workspace.socket_mode import AckRecord

__all__ = ["AckRecord", "SlackSandbox"]
