"""Pure logic behind monitor_channel: keyword matching and flood control."""
