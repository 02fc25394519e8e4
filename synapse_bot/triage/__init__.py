"""Pure logic behind triage_issues: duplicate candidates, offline heuristics, the model schema, rendering."""
