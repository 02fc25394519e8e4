"""Work that arrives unasked, one module per source: each finds work and queues it, like a listener does for Slack."""
