"""Accounts and sign-in on a real SQLite database: hashing cost, timing, lock-out."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from bot.settings import Settings
from bot.storage import Store
from bot.users import (
    Accounts,
    SignInLimited,
    SignInLimiter,
    hash_password,
    needs_rehash,
    verify_password,
)


@pytest.fixture
async def store(settings: Settings) -> Any:
    store = Store(settings.resolved_database_url)
    await store.init()
    yield store
    await store.close()


def count_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs["n"])
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def test_hashes_use_the_owasp_cost_and_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$131072$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not needs_rehash(stored)
    assert needs_rehash("scrypt$16384$8$1$c2FsdA==$ZGlnZXN0")


async def test_an_unknown_name_costs_one_hash_like_a_wrong_password(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = Accounts(store)
    await accounts.add("alice", "trainee", "long-enough-1")
    await accounts.authenticate("nobody", "whatever-pass")  # warms the dummy hash
    calls = count_scrypt(monkeypatch)
    assert await accounts.authenticate("nobody", "whatever-pass") is None
    unknown = list(calls)
    calls.clear()
    assert await accounts.authenticate("alice", "wrong-password") is None
    assert unknown == calls == [2**17]
    calls.clear()
    assert (await accounts.authenticate("alice", "long-enough-1")) is not None
    assert calls == [2**17]


async def test_failed_sign_ins_lock_the_account_before_any_hashing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = Accounts(store, SignInLimiter(failures=3, window=60))
    await accounts.add("bob", "trainee", "long-enough-2")
    for _ in range(3):
        assert await accounts.authenticate("bob", "nope-nope") is None
    calls = count_scrypt(monkeypatch)
    with pytest.raises(
        SignInLimited, match="too many failed sign-ins for 'BOB'; try again in 1 min"
    ):
        await accounts.authenticate("BOB", "long-enough-2")
    assert calls == []
    # Another account is not affected.
    await accounts.add("carol", "trainer", "long-enough-3")
    assert await accounts.authenticate("carol", "long-enough-3") is not None


async def test_an_old_cheaper_hash_is_upgraded_at_sign_in(store: Store) -> None:
    salt, digest = (
        "c2FsdHNhbHRzYWx0c2FsdA==",
        hashlib.scrypt(b"long-enough-4", salt=b"saltsaltsaltsalt", n=2**14, r=8, p=1, dklen=32),
    )
    import base64

    old = f"scrypt$16384$8$1${salt}${base64.b64encode(digest).decode()}"
    await store.save_user("dora", "trainee", old)
    account = await Accounts(store).authenticate("dora", "long-enough-4")
    assert account is not None and account.role == "trainee"
    row = await store.get_user("dora")
    assert row is not None and row.password_hash.startswith("scrypt$131072$")
