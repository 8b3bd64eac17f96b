"""The web dashboard under `/ui/`: server-rendered pages (Jinja2) over the same store."""

from linktrack.entrypoints.ui.app import build_ui

__all__ = ["build_ui"]
