"""Contracts with dependencies' non-public hooks that Synapse relies on, so an upgrade that moves them fails here,
by name, rather than quietly changing behaviour (each hook is behind one small adapter: `jobs/wakeup.py`)."""

from __future__ import annotations

import inspect

from dramatiq.brokers.redis import RedisBroker

from synapse_bot.jobs.wakeup import WakingRedisBroker


def test_dramatiq_still_asks_should_do_maintenance_for_every_command_and_the_adapter_answers_for_fetches() -> None:
    # Dramatiq's RedisBroker decides per command whether its Lua dispatch also requeues dead workers' messages; the
    # adapter makes every fetch do it (fetches are rare once idle consumers wait to be woken).
    assert list(inspect.signature(RedisBroker._should_do_maintenance).parameters) == ["self", "command"]
    assert "self._should_do_maintenance(command)" in inspect.getsource(RedisBroker._dispatch)
    assert "_should_do_maintenance" in WakingRedisBroker.__dict__
    broker = WakingRedisBroker.__new__(WakingRedisBroker)  # the decision needs no connection
    broker.maintenance_chance = 0  # the configured share: never, for the other commands
    assert broker._should_do_maintenance("fetch") == 1
    assert broker._should_do_maintenance("enqueue") == 0
