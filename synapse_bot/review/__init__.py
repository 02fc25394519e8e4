"""Pure logic behind review_pull_request: diff packing to a token budget, the review schema, rendering."""
