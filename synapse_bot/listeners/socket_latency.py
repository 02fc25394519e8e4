"""Send Socket Mode acknowledgements the moment they are written (TCP_NODELAY on every connection).

slack-sdk's built-in Socket Mode client leaves Nagle's algorithm on for direct connections. An ack is a small
frame written shortly after the previous one, so the kernel holds it until Slack's side acknowledges the earlier
bytes — often only when the next envelope arrives, or after a delayed-ACK timer (tens of ms). Under a burst this
showed up as a 10 ms floor on every ack. Each connection (reconnects included) begins with a `hello` message, which
is where the option is set.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from slack_sdk.socket_mode.client import BaseSocketModeClient

log = logging.getLogger(__name__)


def send_without_delay(client: BaseSocketModeClient) -> None:
    """Register a message listener that turns Nagle off on each new Socket Mode connection."""

    def on_message(client: BaseSocketModeClient, message: dict[Any, Any], raw_message: str | None) -> None:
        if message.get("type") != "hello":
            return
        sock = getattr(getattr(client, "current_session", None), "sock", None)
        if sock is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # a connection closing under us: the next hello tries again
            log.debug("could not set TCP_NODELAY", extra={"error": type(exc).__name__})

    client.message_listeners.append(on_message)
