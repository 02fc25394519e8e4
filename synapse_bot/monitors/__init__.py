"""Pure logic behind monitor_channel: keyword matching (the alerting itself is a job: `jobs/alerts.py`)."""
