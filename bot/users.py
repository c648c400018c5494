"""Accounts for password sign-in: trainees, trainers and evaluators.

Passwords are stored as salted scrypt hashes, never in plain text. The role
travels in the Chainlit user's metadata.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from bot.errors import CoachError
from bot.storage import Store

Role = Literal["trainee", "trainer", "evaluator"]
ROLES: tuple[Role, ...] = ("trainee", "trainer", "evaluator")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
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
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
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
    )
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, name: str, role: str, password: str) -> Account:
        if not _NAME.match(name):
            raise UserError(f"'{name}' is not a valid user name; use letters, digits, . _ @ -")
        if role not in ROLES:
            raise UserError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password is too short; use at least {MIN_PASSWORD} characters")
        await self.store.save_user(name, role, hash_password(password))
        return Account.of(name, role)

    async def authenticate(self, name: str, password: str) -> Account | None:
        row = await self.store.get_user(name)
        if row is None:
            # Spend the same time as a real check, so names cannot be probed.
            verify_password(password, hash_password("not-a-user"))
            return None
        if not verify_password(password, row.password_hash):
            return None
        return Account.of(row.name, row.role)

    async def list(self) -> list[Account]:
        return [Account.of(r.name, r.role) for r in await self.store.list_users()]

    async def remove(self, name: str) -> None:
        if not await self.store.remove_user(name):
            raise UserError(f"no user '{name}'; see coach users list")
