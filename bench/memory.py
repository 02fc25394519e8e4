"""Memory: where a serving process's resident memory goes, stage by stage.

Each stage runs in a fresh interpreter that does everything the stages before it did, then its own step, and
reports its resident memory (VmRSS); the difference from the stage before is that step's cost. Then the recorder
opens the default sqlite store (MLflow prepares it in a child process, whose memory is not counted: it has exited).
The last two stages are what loading MLflow into the process would add, as it does for stores other than a sqlite
file (an MLflow server, another database).

    python -m bench.memory [--out bench/results/memory.json]

For the whole `run` process under load, see `python -m bench.overhead` (its RSS column).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import write_json

_RSS = "int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024"

STAGES: list[tuple[str, str]] = [
    ("Python", "pass"),
    ("Slack, Redis, Dramatiq, pydantic", "import slack_bolt, slack_sdk, redis, dramatiq, pydantic"),
    ("openai client", "import openai"),
    ("Synapse (everything `run` imports)", "import synapse_bot.runtime, synapse_bot.cli"),
    (
        "o200k token table (gpt-4o and newer)",
        "from synapse_bot.llm.tokens import bundled_encoding; bundled_encoding('o200k_base')",
    ),
    (
        "Direct sqlite writer opened (what `run` does)",
        "from synapse_bot.tracking.recorder import MlflowRecorder;"
        "MlflowRecorder('sqlite:///{db}', 'bench', preload=True).flush(120)",
    ),
    ("MLflow import (other stores only)", "import synapse_bot.tracking.export"),
    (
        "MLflow's sqlite store opened (other stores only)",
        "import mlflow; mlflow.set_tracking_uri('sqlite:///{db}'); mlflow.set_experiment('bench');"
        "synapse_bot.tracking.export.MlflowWriter('sqlite:///{db}', '1')",
    ),
]


def measure(workdir: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    previous = 0.0
    for count in range(1, len(STAGES) + 1):
        code = ";".join(step.format(db=workdir / "mlflow.db") for _, step in STAGES[:count])
        script = f"import logging; logging.disable(logging.WARNING); {code}; print({_RSS})"
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=workdir, check=True)
        rss = float(result.stdout.strip().splitlines()[-1])
        rows.append({"stage": STAGES[count - 1][0], "rss_mb": round(rss, 1), "adds_mb": round(rss - previous, 1)})
        previous = rss
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/memory.json"))
    parser.add_argument("--quick", action="store_true", help="the same (it takes seconds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synapse-bench-memory-") as tmp:
        rows = measure(Path(tmp))
    print(f"{'stage':<50} {'adds MB':>8} {'RSS MB':>8}")
    for row in rows:
        print(f"{row['stage']:<50} {row['adds_mb']:>8} {row['rss_mb']:>8}")
    write_json(args.out, {"stages": rows})


if __name__ == "__main__":
    main()
