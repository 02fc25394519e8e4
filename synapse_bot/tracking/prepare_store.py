"""Create (or open) MLflow's sqlite store and the experiment, in a process of its own.

    python -m synapse_bot.tracking.prepare_store <tracking URI> <experiment name>

The recorder runs this as a child process when the sqlite file is new or lacks the experiment, holding the
store's init lock (store_init.py) meanwhile: MLflow creates the tables and runs its migrations, the child prints
the experiment id and exits, and the ~100 MB MLflow took goes with it. The serving process then writes rows
directly (sqlite_store.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

PREPARE_TIMEOUT_S = 300.0
_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception): ")


class PrepareFailed(RuntimeError):
    """MLflow refused the store; the message is a sentence to act on."""


def complaint(stderr: str, tracking_uri: str) -> str:
    """MLflow's own error, from the child's traceback, as one line (its out-of-date-schema error as what to do)."""
    lines = stderr.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    text = " ".join(line.strip() for line in lines[starts[-1] :]) if starts else (lines or ["no output"])[-1]
    if "mlflow db upgrade" in text:
        found = re.search(r"found version (\w+)", text)
        if found and not _mlflow_has_revision(found.group(1)):
            return (
                f"its MLflow schema ({found.group(1)}) is newer than this MLflow's: a newer MLflow made or upgraded "
                "it; point MLFLOW_TRACKING_URI at another store, or run a Synapse built for that MLflow"
            )
        return f"its MLflow schema is older than this MLflow's: back it up, then run `mlflow db upgrade {tracking_uri}`"
    return text.split(": ", 1)[-1][:300] if starts else text[:300]


def _mlflow_has_revision(revision: str) -> bool:
    """Whether the installed MLflow ships a migration with this id (found without importing MLflow)."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        return True  # cannot tell: the usual case, an older store
    versions = Path(next(iter(spec.submodule_search_locations))) / "store" / "db_migrations" / "versions"
    return any(versions.glob(f"{revision}_*.py"))


def prepare(tracking_uri: str, experiment_name: str) -> str:
    """Run in a child process; returns the experiment id, or raises PrepareFailed with MLflow's own complaint."""
    env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
    command = [sys.executable, "-m", __name__, tracking_uri, experiment_name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=PREPARE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PrepareFailed(f"MLflow did not open the store within {PREPARE_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise PrepareFailed(f"MLflow could not open the store: {complaint(done.stderr, tracking_uri)}")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    logging.disable(logging.WARNING)
    tracking_uri, experiment_name = sys.argv[1], sys.argv[2]
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    print(mlflow.set_experiment(experiment_name).experiment_id)


if __name__ == "__main__":
    main()
