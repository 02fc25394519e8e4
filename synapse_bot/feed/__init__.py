"""GitHub activity as Synapse sees it, pure: what a repository's issues and pull requests look like (`model.py`),
what changed between two looks (`diff.py`), subscriptions and their filters (`subscription.py`, `filters.py`), the
cards and thread lines posted for them (`cards.py`), and how GitHub's REST and webhook JSON become observations
(`payloads.py`). No I/O: the poller, the webhook receiver and the events job do that."""
