"""GitHub, in one package: the tools' client (`client.py`) over PyGithub (`pygithub.py`), conditional reads for the
event poller (`conditional.py`), the pure query rules (`queries.py`) and the one error they all raise
(`errors.py`). The plain data types they return live in `synapse_bot/github_data.py`, so the pure domain packages
can use them without importing I/O."""
