"""Accounts for password sign-in: trainees, trainers and evaluators.

Passwords are stored as salted scrypt hashes, never in plain text, at the
cost OWASP recommends (N = 2^17, r = 8, p = 1); older, cheaper hashes are
upgraded at the next successful sign-in. Hashing runs in a worker thread so
a flood of sign-ins never freezes the app, an unknown name costs exactly one
hash like a wrong password (names cannot be probed by timing), and repeated
failures lock the account for a while (:class:`SignInLimiter`). The role
travels in the Chainlit user's metadata.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal

from bot.errors import CoachError

if TYPE_CHECKING:
    from bot.storage import Store

Role = Literal["trainee", "trainer", "evaluator"]
ROLES: tuple[Role, ...] = ("trainee", "trainer", "evaluator")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
#: scrypt needs 128 * N * r bytes; OpenSSL refuses above maxmem.
_MAXMEM = 256 * 1024 * 1024
MIN_PASSWORD = 8


class UserError(CoachError):
    """A bad user name, role or password."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role

    @classmethod
    def of(cls, name: str, role: str) -> Account:
        if role not in ROLES:
            raise UserError(f"user '{name}' has an unknown role '{role}'")
        return cls(name, role)  # checked just above


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=_MAXMEM, **_SCRYPT)
    encode = base64.b64encode
    return (
        f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
        f"{encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        dklen=len(expected),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=_MAXMEM,
    )
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """A hash made with a lower cost than today's."""
    parts = stored.split("$")
    return len(parts) != 6 or parts[1:4] != [str(_SCRYPT[k]) for k in ("n", "r", "p")]


@cache
def _dummy_hash() -> str:
    """What an unknown name is checked against: the same cost as a real account."""
    return hash_password(secrets.token_urlsafe(16))


class SignInLimited(CoachError):
    """Too many failed sign-ins for this account: it is locked for a while."""


@dataclass
class SignInLimiter:
    """At most ``failures`` failed sign-ins per key within ``window`` seconds.

    Keys are account names (and, where the web layer knows it, the client's
    address). A locked key is refused before any hashing, so a flood costs
    nothing once it has tripped the limit.
    """

    failures: int = 5
    window: float = 300.0
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def locked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may try now)."""
        now = time.monotonic()
        recent = self._seen.get(key)
        if not recent:
            return 0.0
        while recent and now - recent[0] > self.window:
            recent.popleft()
        if len(recent) < self.failures:
            return 0.0
        return self.window - (now - recent[0])

    def failed(self, key: str) -> None:
        self._seen.setdefault(key, deque()).append(time.monotonic())
        if len(self._seen) > 10_000:  # bounded memory under a spray of names
            oldest = next(iter(self._seen))
            del self._seen[oldest]

    def succeeded(self, key: str) -> None:
        self._seen.pop(key, None)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class Accounts:
    def __init__(self, store: Store, limiter: SignInLimiter | None = None) -> None:
        self.store = store
        self.limiter = limiter or SignInLimiter()

    async def add(self, name: str, role: str, password: str) -> Account:
        if not _NAME.match(name):
            raise UserError(f"'{name}' is not a valid user name; use letters, digits, . _ @ -")
        if role not in ROLES:
            raise UserError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password is too short; use at least {MIN_PASSWORD} characters")
        await self.store.save_user(name, role, await asyncio.to_thread(hash_password, password))
        return Account.of(name, role)

    async def authenticate(self, name: str, password: str) -> Account | None:
        """The account, or None for a wrong name or password.

        Raises :class:`SignInLimited` while the account is locked after too
        many failures (checked before any hashing).
        """
        key = name.casefold()
        wait = self.limiter.locked_for(key)
        if wait:
            raise SignInLimited(
                f"too many failed sign-ins for '{name}'; try again in {int(wait // 60) + 1} min"
            )
        row = await self.store.get_user(name)
        # One hash either way, in a worker thread: the event loop stays free and
        # an unknown name takes as long as a wrong password.
        stored = row.password_hash if row is not None else _dummy_hash()
        valid = await asyncio.to_thread(verify_password, password, stored)
        if row is None or not valid:
            self.limiter.failed(key)
            return None
        self.limiter.succeeded(key)
        if needs_rehash(row.password_hash):
            upgraded = await asyncio.to_thread(hash_password, password)
            await self.store.save_user(row.name, row.role, upgraded)
        return Account.of(row.name, row.role)

    async def list(self) -> list[Account]:
        return [Account.of(r.name, r.role) for r in await self.store.list_users()]

    async def remove(self, name: str) -> None:
        if not await self.store.remove_user(name):
            raise UserError(f"no user '{name}'; see coach users list")
