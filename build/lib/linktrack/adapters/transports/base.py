"""What every delivery transport (SMTP, webhook) raises when a send fails."""

from __future__ import annotations


class TransportError(Exception):
    """A send that failed; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
