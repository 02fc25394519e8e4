"""Schedules: what Synapse posts on a clock (review reminders, channel recaps, personal review digests)."""
