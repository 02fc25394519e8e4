"""The model, as a leaf: the OpenAI-compatible client, token counting, prices and structured-output schemas.

Nothing here imports anything else of Synapse, so every other package may use it.
"""
