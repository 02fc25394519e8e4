"""One process at a time opens a new sqlite MLflow store.

MLflow's sqlalchemy store creates its tables and runs its schema migrations the first time any process opens a
database, without the file lock MLflow has for this (`_safe_initialize_tables` exists but the store's constructor
does not use it, in mlflow 3.17). Processes that start together on a new store — a gateway and workers sharing
the default sqlite file, or `run` beside `mlflow ui` — then race: the losers fail ("duplicate column name",
"table … already exists"), and a migration interrupted that way can leave a temporary table behind that makes every
later open fail. Synapse's processes take an exclusive lock beside the database file while they open it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a `sqlite:///…` tracking URI, else None."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def opening_store(tracking_uri: str) -> Iterator[None]:
    """Hold this around the first use of a tracking URI in a process (a no-op for anything but a sqlite file)."""
    path = sqlite_path(tracking_uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".init-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
