"""Signing keys in memory: the click path verifies without a database read."""

from __future__ import annotations

import threading
import time

from linktrack.adapters import store
from linktrack.core.tokens import KeyRing, Signer, SigningKey, TokenError


class KeyStore:
    """Every live key of every workspace; reloaded from the store on change."""

    def __init__(self, engine: store.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.ring = KeyRing()
        self._signers: dict[int, Signer] = {}
        self._last_reload = 0.0
        self.reload()

    def reload(self) -> None:
        """Read the keys again (after a rotation, or periodically on tracking nodes)."""
        keys = store.list_active_signing_keys(self._engine)
        ring = KeyRing()
        newest: dict[int, str] = {}
        for key in keys:  # oldest first: the last one of a workspace signs
            ring.add(SigningKey(key.kid, key.secret_bytes))
            newest[key.workspace_id] = key.kid
        signers = {ws: ring.signer(kid) for ws, kid in newest.items()}
        with self._lock:
            self._last_reload = time.monotonic()
            self.ring = ring
            self._signers = signers

    def reload_if_due(self, min_interval: float = 0.25) -> bool:
        """Reload unless done within `min_interval` s (an unknown key must not flood the store)."""
        now = time.monotonic()
        if now - self._last_reload < min_interval:
            return False
        self.reload()
        return True

    def signer(self, workspace_id: int) -> Signer:
        """The signer of a workspace's newest key."""
        signer = self._signers.get(workspace_id)
        if signer is None:
            self.reload()
            signer = self._signers.get(workspace_id)
            if signer is None:
                raise TokenError(f"workspace {workspace_id} has no live signing key")
        return signer
