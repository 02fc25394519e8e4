"""Interpreter settings for a long-running Synapse process, applied once it has started.

Measured with `python -m bench.ack_latency` (docs/performance.md): in the all-in-one `run` shape, Socket Mode acks
share one interpreter with the job threads, and an ack thread waiting for the GIL waits up to the switch interval
(5 ms by default) per hand-over, several times per ack under a burst. A shorter interval roughly halved the acks'
p99 there, for a little more switching overhead. A gateway-only or worker-only process has no such contest.

`gc.freeze()` moves everything loaded at start-up (slack-bolt, openai, mlflow, pydantic schemas…) out of the
collector's reach: those objects live as long as the process, and a full collection over them took ~110 ms with the
GIL held; after freezing, ~2 ms.
"""

from __future__ import annotations

import gc
import sys

RUN_SHAPE_SWITCH_INTERVAL_S = 0.0005


def tune_for_serving(shares_interpreter: bool) -> None:
    """`shares_interpreter`: this process both acknowledges Slack and runs jobs (the `run` shape)."""
    gc.freeze()
    if shares_interpreter:
        sys.setswitchinterval(RUN_SHAPE_SWITCH_INTERVAL_S)
