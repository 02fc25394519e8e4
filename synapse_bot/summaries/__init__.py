"""Pure logic behind summarize_thread: transcripts, token-budget chunking, the summary model, rendering."""
