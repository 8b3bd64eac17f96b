"""Entrypoints that only translate: the HTTP front (clicks, API) and the CLI."""
