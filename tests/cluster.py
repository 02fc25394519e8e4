"""The process harness lives in the sandbox package so benchmarks can use it too."""

from synapse_bot.sandbox.cluster import BotProcess, clean_env, cluster_env, free_port

__all__ = ["BotProcess", "clean_env", "cluster_env", "free_port"]
