"""Dashboard accounts: create users, check passwords (argon2), and slow down guessing.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile); a hash made with older parameters is replaced at the next good login.
Failed logins are counted per email and per client address over a sliding
window; past the limit, `authenticate` refuses before it checks the password,
so a guesser learns nothing and costs the server no hashing.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from linktrack.adapters import store
from linktrack.core.errors import InputError
from linktrack.core.model import DashboardUser

MIN_PASSWORD = 10  # characters
MAX_PASSWORD = 1024  # argon2 hashes any length; this bounds the work of one attempt
WINDOW = 15 * 60.0  # seconds over which failed logins are counted
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20


class TooManyAttempts(Exception):
    """Too many failed logins lately; `retry_after` seconds until the next is allowed."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {int(retry_after) + 1} s")
        self.retry_after = retry_after


@dataclass
class Failures:
    """Failed logins per key over the last `window` seconds (in this process's memory)."""

    window: float = WINDOW
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self._lock:
            self._seen.setdefault(key, deque()).append(self.clock())

    def wait(self, key: str, limit: int) -> float:
        """Seconds until `key` may try again: 0 when it is under `limit`."""
        now = self.clock()
        with self._lock:
            times = self._seen.get(key)
            if times is None:
                return 0.0
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._seen[key]
                return 0.0
            return 0.0 if len(times) < limit else times[0] + self.window - now

    def clear(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


def check_password(password: str) -> str:
    """A password good enough to store, or an InputError saying why not."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"a password has at most {MAX_PASSWORD} characters")
    return password


class Accounts:
    """Dashboard users of one store."""

    def __init__(self, engine: store.Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self.failures = Failures()

    def create(self, workspace_id: int, email: str, password: str) -> DashboardUser:
        email = email.strip()
        if "@" not in email or len(email) > 320:
            raise InputError(f"{email!r} is not an email address")
        digest = self.hasher.hash(check_password(password))
        return store.create_user(self.engine, workspace_id, email, digest)

    def user(self, user_id: int) -> DashboardUser | None:
        return store.get_user(self.engine, user_id)

    def authenticate(self, email: str, password: str, client: str) -> DashboardUser | None:
        """The user when the password is theirs, else None; TooManyAttempts when this email
        or this client failed too often lately."""
        email_key, client_key = f"email:{email.strip().lower()}", f"client:{client}"
        wait = max(
            self.failures.wait(email_key, MAX_FAILURES_PER_EMAIL),
            self.failures.wait(client_key, MAX_FAILURES_PER_CLIENT),
        )
        if wait > 0:
            raise TooManyAttempts(wait)
        user = store.user_by_email(self.engine, email.strip()) if email.strip() else None
        if not self._verify(user.password_hash if user else self._decoy, password) or not user:
            self.failures.add(email_key)
            self.failures.add(client_key)
            return None
        self.failures.clear(email_key)
        if self.hasher.check_needs_rehash(user.password_hash):
            store.set_password_hash(self.engine, user.id, self.hasher.hash(password))
        return user

    @functools.cached_property
    def _decoy(self) -> str:
        """Checked against when the email is unknown, so both answers take as long."""
        return self.hasher.hash(secrets.token_hex(16))

    def _verify(self, digest: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            return False
        try:
            return self.hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def session_secret(self) -> str:
        return store.session_secret(self.engine)
