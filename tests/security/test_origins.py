"""A page on another origin (here: another port of the same host, which the
browser sends the SameSite=Lax cookie to) must not drive a signed-in user:
no CORS grant, no reading threads, no posting, no socket, no login CSRF.
Every response forbids framing and sniffing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.security.live_app import FOREIGN, App, start_app

pytestmark = pytest.mark.security


def test_a_foreign_origin_gets_no_cors_grant_and_cannot_read_threads(app: App) -> None:
    token = app.token("alice")
    own = app.threads(token)
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == app.url

    foreign = app.threads(token, origin=FOREIGN)
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    assert "COACH_ALLOWED_ORIGINS" in foreign.json()["detail"]
    # A preflight from the foreign page is not granted either.
    preflight = app.send(
        "OPTIONS",
        "/project/threads",
        None,
        FOREIGN,
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("access-control-allow-origin") != FOREIGN
    # Nor a read of the user.
    assert app.get("/user", token, origin=FOREIGN).status_code == 403


def test_a_foreign_referer_cannot_change_anything(app: App) -> None:
    """Browsers that send no Origin on a form post still send a Referer."""
    token = app.token("alice")
    response = app.send(
        "PUT",
        "/project/thread",
        token,
        "",
        headers={"Referer": FOREIGN + "/evil.html"},
        json={"threadId": "x", "name": "owned"},
    )
    assert response.status_code == 403


def test_login_csrf_is_refused(app: App) -> None:
    """A foreign page cannot sign the victim in as the attacker."""
    response = app.login("bob", origin=FOREIGN)
    assert response.status_code == 403 and "access_token" not in response.cookies
    assert app.login("bob", origin="null").status_code == 403


async def test_a_foreign_origin_cannot_open_the_socket(app: App, sockets: Any) -> None:
    token = app.token("alice")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(token, origin=FOREIGN)
    # The same token from the app's own page connects: the check is the origin.
    own = sockets()
    await own.connect(token)
    assert own.client.connected


def test_a_foreign_origin_cannot_open_the_socket_by_polling(app: App) -> None:
    """socket.io's long-polling transport: the engine.io handshake itself is refused."""
    token = app.token("alice")
    handshake = "/ws/socket.io/?EIO=4&transport=polling"
    refused = app.get(handshake, token, origin=FOREIGN)
    assert refused.status_code == 403 and '"sid"' not in refused.text
    assert '"sid"' in app.get(handshake, token).text


async def test_the_own_origin_can_post_a_reply_a_foreign_one_cannot(app: App, sockets: Any) -> None:
    token = app.token("bob")
    page = sockets()
    await page.connect(token)
    await page.start_chat()
    await page.wait_for(lambda: any("Monique" in o or "Filou" in o for o in page.outputs()))
    await page.say("Je suis sincèrement désolée pour Filou.")
    await page.wait_for(lambda: any("Note" in o or "noté" in o for o in page.outputs()))
    attacker = sockets()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await attacker.connect(token, origin=FOREIGN)
    assert not attacker.client.connected


def test_every_response_forbids_framing_and_sniffing(app: App) -> None:
    token = app.token("alice")
    for response in (
        app.send("GET", "/health", None),
        app.send("GET", "/login", None),
        app.get("/user", token),
        app.threads(token, origin=FOREIGN),
        app.send("GET", "/nowhere", None),
    ):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_configured_origins_replace_the_default(tmp_path: Path) -> None:
    """Behind a proxy the app is opened from its public origin, and only that."""
    server = start_app(tmp_path, COACH_ALLOWED_ORIGINS="https://coach.example.org/")
    try:
        assert server.login("alice", origin="https://coach.example.org").status_code == 200
        assert server.login("alice", origin=server.url).status_code == 403
    finally:
        server.stop()
