"""Accounts for password sign-in: trainees, trainers and evaluators.

Passwords are stored as salted scrypt hashes, never in plain text, at the
cost OWASP recommends (N = 2^17, r = 8, p = 1); older, cheaper hashes are
upgraded at the next successful sign-in. Hashing runs in a worker thread so
a flood of sign-ins never freezes the app, an unknown name costs exactly one
hash like a wrong password (names cannot be probed by timing), and repeated
failures lock the account for a while (:class:`SignInLimiter`). Hashes run
on a small pool of their own, so a flood of sign-ins from many places costs
at most that many hashes at once (scrypt takes 128 MiB each) and never takes
the threads the rest of the app runs on.

The role travels in the Chainlit user's metadata, with the account's
credential stamp: changing the password or the role, removing the account
or signing out changes the stamp, and the web app refuses any token that
carries another one (bot/web/credentials.py). Hashing the same password
again at a higher cost keeps the stamp.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal, TypeVar

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
#: At most this many scrypt hashes run at once, whatever arrives.
HASH_WORKERS = 2
_HASHING = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="coach-hash")
_T = TypeVar("_T")


async def _hashed(fn: Callable[..., _T], *args: str) -> _T:
    """``fn(*args)`` on the hashing pool, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, functools.partial(fn, *args))


class UserError(CoachError):
    """A bad user name, role or password."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    #: The credential stamp a token issued now carries (see the module's docstring).
    stamp: str = ""

    @classmethod
    def of(cls, name: str, role: str, stamp: str | None = "") -> Account:
        if role not in ROLES:
            raise UserError(f"user '{name}' has an unknown role '{role}'")
        return cls(name, role, stamp or "")  # checked just above


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

    def refusal(self, name: str) -> str | None:
        """What to tell someone signing in as ``name`` while it is locked; None if it is not."""
        wait = self.locked_for(name.casefold())
        if not wait:
            return None
        return f"too many failed sign-ins for '{name}'; try again in {int(wait // 60) + 1} min"

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
        """Add an account, or reset an existing one's role and password (which
        signs it out everywhere)."""
        if not _NAME.match(name):
            raise UserError(f"'{name}' is not a valid user name; use letters, digits, . _ @ -")
        _check_role(role)
        _check_password(password)
        await self.store.save_user(name, role, await _hashed(hash_password, password))
        return Account.of(name, role)

    async def set_password(self, name: str, password: str) -> None:
        """A new password; every token issued before it is refused."""
        _check_password(password)
        digest = await _hashed(hash_password, password)
        if await self.store.update_user(name, password_hash=digest) is None:
            raise _no_user(name)

    async def set_role(self, name: str, role: str) -> None:
        """A new role; every token issued before it is refused."""
        _check_role(role)
        if await self.store.update_user(name, role=role) is None:
            raise _no_user(name)

    async def sign_out(self, name: str) -> None:
        """End every signed-in session of the account (its tokens are refused)."""
        if await self.store.update_user(name) is None:
            raise _no_user(name)

    async def current(self, name: str) -> Account | None:
        """The account as it is now (its role and stamp), None if it is gone."""
        row = await self.store.get_user(name)
        if row is None or row.role not in ROLES:
            return None
        return Account.of(row.name, row.role, row.credential_stamp)

    async def authenticate(self, name: str, password: str) -> Account | None:
        """The account, or None for a wrong name or password.

        Raises :class:`SignInLimited` while the account is locked after too
        many failures (checked before any hashing).
        """
        key = name.casefold()
        if refusal := self.limiter.refusal(name):
            raise SignInLimited(refusal)
        row = await self.store.get_user(name)
        # One hash either way, in a worker thread: the event loop stays free and
        # an unknown name takes as long as a wrong password.
        stored = row.password_hash if row is not None else await _hashed(_dummy_hash)
        valid = await _hashed(verify_password, password, stored)
        if row is None or not valid:
            self.limiter.failed(key)
            return None
        self.limiter.succeeded(key)
        stamp = row.credential_stamp
        if needs_rehash(row.password_hash) or not stamp:
            # The same password at today's cost (or a database from before
            # stamps): the tokens already issued stay valid.
            upgraded = (
                await _hashed(hash_password, password) if needs_rehash(row.password_hash) else None
            )
            updated = await self.store.update_user(row.name, password_hash=upgraded, revoke=False)
            stamp = updated.credential_stamp if updated is not None else stamp
        return Account.of(row.name, row.role, stamp)

    async def list(self) -> list[Account]:
        return [Account.of(r.name, r.role) for r in await self.store.list_users()]

    async def remove(self, name: str) -> None:
        """Remove the account; its tokens are refused from the next request on."""
        if not await self.store.remove_user(name):
            raise _no_user(name)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short; use at least {MIN_PASSWORD} characters")


def _no_user(name: str) -> UserError:
    return UserError(f"no user '{name}'; see coach users list")
