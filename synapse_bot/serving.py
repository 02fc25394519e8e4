"""An HTTP server on a thread that sleeps until a connection comes or it is stopped.

`socketserver`'s `serve_forever` wakes every half second to look for a shutdown request, for as long as the
process lives: the health endpoint and the webhook receiver together were a tenth of an idle process's CPU
(`docs/performance.md`, idle CPU). Here the thread waits on the listening socket and on a wake-up pipe, and
`stop` writes to the pipe, so stopping is as quick as before and an idle server costs nothing.
"""

from __future__ import annotations

import os
import selectors
import socketserver
import threading


class ServerThread:
    """Serve `server` (a `socketserver` TCP server, e.g. `ThreadingHTTPServer`) on a thread named `name`."""

    def __init__(self, server: socketserver.TCPServer, name: str) -> None:
        self.server = server
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server.fileno(), selectors.EVENT_READ, "connection")
            selector.register(self._wake_read, selectors.EVENT_READ, "stop")
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.data == "connection" and not self._stopping.is_set():
                        # readable: the server's own select returns at once, then it accepts and dispatches
                        self.server.handle_request()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, wait for the serving thread, close the socket (connections in hand finish on their own
        threads, as `ThreadingHTTPServer` serves them)."""
        self._stopping.set()
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.server.server_close()
        os.close(self._wake_read)
        os.close(self._wake_write)
