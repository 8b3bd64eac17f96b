"""Services: long-running work that joins adapters (the event writer)."""
