"""A sign-in token ends when what it vouched for changes: logout, removal,
a new password, a new role, its lifetime. Each is checked on HTTP and on
the socket (connect, and the next event of a socket already open)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import pytest
import socketio

from bot.storage import Store
from bot.users import Accounts
from tests.security.live_app import App

pytestmark = pytest.mark.security


async def assert_refused(app: App, token: str, sockets: Any) -> None:
    user = app.get("/user", token)
    assert user.status_code == 401, user.text
    detail = user.json()["detail"]
    assert "sign in again" in detail or "no account" in detail
    assert app.threads(token).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(token)


async def assert_accepted(app: App, token: str, sockets: Any) -> None:
    assert app.get("/user", token).status_code == 200
    assert app.threads(token).status_code == 200
    page = sockets()
    await page.connect(token)
    assert page.client.connected
    await page.close()


async def test_logout_ends_the_token_on_the_server(app: App, sockets: Any) -> None:
    token = app.token("lou")
    await assert_accepted(app, token, sockets)
    assert app.send("POST", "/logout", token).status_code == 200
    await assert_refused(app, token, sockets)
    await assert_accepted(app, app.token("lou"), sockets)  # signing in again works


async def test_a_removed_trainer_loses_the_dashboard(app: App, sockets: Any) -> None:
    token = app.token("gone")
    dashboard = sockets()
    await dashboard.connect(token, profile="trainer-dashboard")
    await dashboard.close()
    app.coach("users", "remove", "gone")
    await assert_refused(app, token, sockets)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(token, profile="trainer-dashboard")


async def test_a_password_change_ends_older_tokens(app: App, sockets: Any) -> None:
    token = app.token("pat")
    app.coach("users", "passwd", "pat", "--password", "another-horse-2")
    await assert_refused(app, token, sockets)
    assert app.login("pat").status_code == 401  # the old password is gone too
    fresh = app.login("pat", "another-horse-2")
    assert fresh.status_code == 200
    await assert_accepted(app, str(fresh.cookies["access_token"]), sockets)


async def test_a_demotion_ends_older_tokens(app: App, sockets: Any) -> None:
    token = app.token("demi")
    assert app.get("/user", token).json()["metadata"]["role"] == "trainer"
    app.coach("users", "role", "demi", "trainee")
    await assert_refused(app, token, sockets)
    fresh = app.token("demi")
    assert app.get("/user", fresh).json()["metadata"]["role"] == "trainee"


async def test_an_open_socket_is_dropped_at_its_next_event(app: App, sockets: Any) -> None:
    token = app.token("sam")
    page = sockets()
    await page.connect(token)
    await page.start_chat()
    await page.wait_started()
    app.coach("users", "signout", "sam")
    before = len(page.outputs())
    await page.say("Je suis sincèrement désolée.")
    await page.wait_for(page.disconnected.is_set, within=15)
    assert len(page.outputs()) == before  # the reply was never handled


def _forged(app: App, token: str, drop: str = "", **claims: Any) -> str:
    """The token re-signed with the app's own secret, with some claims changed
    and the metadata key ``drop`` removed: what an old or pre-upgrade token
    looks like."""
    secret = (app.data / "auth_secret").read_text().strip()
    decoded = jwt.decode(token, secret, algorithms=["HS256"])
    decoded["metadata"].pop(drop, None)
    return jwt.encode({**decoded, **claims}, secret, algorithm="HS256")


async def test_a_token_older_than_the_lifetime_is_refused(app: App, sockets: Any) -> None:
    """Even one whose own expiry is later (issued under a longer setting)."""
    token = app.token("old")
    now = int(time.time())
    stale = _forged(app, token, iat=now - 13 * 3600, exp=now + 3600)
    await assert_refused(app, stale, sockets)


async def test_a_token_without_a_stamp_is_refused(app: App, sockets: Any) -> None:
    """Tokens issued before stamps existed (15-day ones) do not survive the upgrade."""
    token = app.token("alice")
    await assert_refused(app, _forged(app, token, drop="stamp"), sockets)


def test_a_token_signed_with_another_key_is_refused(app: App) -> None:
    token = app.token("alice")
    claims = jwt.decode(token, options={"verify_signature": False})
    other = jwt.encode(claims, "not-the-secret" * 4, algorithm="HS256")
    assert app.get("/user", other).status_code == 401
    # Nor can a valid token be swapped for a fresh cookie through Chainlit's bare-token route.
    bare = app.send("POST", "/auth/jwt", None, headers={"Authorization": f"Bearer {token}"})
    assert bare.status_code == 403


async def test_a_rehash_keeps_tokens_and_a_re_added_name_does_not_revive_them(
    tmp_path: Any,
) -> None:
    """Upgrading a cheap hash at sign-in is the same password: nothing is revoked.
    Removing an account and adding the name again is a new account: its
    stamp is new, so a token of the old one stays dead."""
    import base64

    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'coach.db'}")
    await store.init()
    try:
        salt = b"saltsaltsaltsalt"
        digest = hashlib.scrypt(b"long-enough-4", salt=salt, n=2**14, r=8, p=1, dklen=32)
        encode = base64.b64encode
        cheap = f"scrypt$16384$8$1${encode(salt).decode()}${encode(digest).decode()}"
        await store.save_user("dora", "trainee", cheap)
        accounts = Accounts(store)
        before = await accounts.current("dora")
        signed_in = await accounts.authenticate("dora", "long-enough-4")
        row = await store.get_user("dora")
        assert before is not None and signed_in is not None and row is not None
        assert row.password_hash.startswith("scrypt$131072$")  # upgraded...
        assert signed_in.stamp == before.stamp == row.credential_stamp  # ...and nothing revoked
        await accounts.remove("dora")
        await accounts.add("dora", "trainee", "long-enough-4")
        again = await accounts.current("dora")
        assert again is not None and again.stamp != before.stamp
    finally:
        await store.close()
