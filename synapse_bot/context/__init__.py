"""Pure logic of what the model sees of a conversation: which messages, within a token budget, and how to cite them."""
