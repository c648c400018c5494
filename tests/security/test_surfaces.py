"""What the product does not use is refused server-side, whatever a client
sends: uploads, thread sharing, message editing. What the server writes is
private to the account running it."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.security.live_app import App

pytestmark = pytest.mark.security


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_uploads_are_refused(app: App) -> None:
    token = app.token("alice")
    response = app.send(
        "POST",
        "/project/file?session_id=whatever",
        token,
        files={"file": ("evil.html", b"<script>alert(1)</script>", "text/html")},
    )
    assert response.status_code == 403 and "uploads are turned off" in response.json()["detail"]


def test_thread_sharing_is_refused(app: App) -> None:
    token = app.token("alice")
    share = app.send(
        "PUT", "/project/thread/share", token, json={"threadId": "x", "isShared": True}
    )
    assert share.status_code == 403 and "sharing is turned off" in share.json()["detail"]
    assert app.get("/project/share/x", token).status_code == 403
    assert app.send("GET", "/project/share/x", None).status_code == 403  # anonymous too


async def test_editing_a_message_is_refused(app: App, sockets: Any) -> None:
    """Editing would rewrite a graded reply and replay the turn: the event is ignored."""
    page = sockets()
    await page.connect(app.token("bob"))
    await page.start_chat()
    await page.wait_started()
    said = "Je suis sincèrement désolée pour Filou."
    message_id = await page.say(said)
    await page.wait_for(lambda: any("Note" in o or "noté" in o for o in page.outputs()))
    await asyncio.sleep(1.5)  # let the turn finish
    before = len(page.events)
    await page.client.emit(
        "edit_message",
        {"message": {"id": message_id, "output": "Calmez-vous.", "type": "user_message"}},
    )
    await asyncio.sleep(2.0)
    edits = [e for e, _ in page.events[before:] if e in ("new_message", "update_message")]
    assert edits == [] and page.client.connected
    with sqlite3.connect(app.data / "coach.db") as db:
        outputs = [r[0] for r in db.execute("select output from steps where id = ?", (message_id,))]
        trainee = [
            r[0] for r in db.execute("select content from coach_messages where role='trainee'")
        ]
    assert "Calmez-vous." not in outputs and "Calmez-vous." not in trainee
    assert said in trainee


def test_files_are_private(app: App) -> None:
    from bot.settings import PROJECT_ROOT

    files = PROJECT_ROOT / ".files"  # Chainlit's, under the app root `coach run` sets
    app.token("alice")  # something written
    assert mode(app.data) == 0o700
    for name in ("coach.db", "coach.db-wal", "coach.db-shm", "auth_secret", "demo_accounts"):
        path = app.data / name
        assert path.exists(), name
        assert mode(path) == 0o600, f"{name}: {oct(mode(path))}"
    assert files.is_dir() and mode(files) == 0o700


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    """A database made by an older version (0644) is 0600 once the app opens
    it, and the -wal and -shm files SQLite then makes are 0600 too, even
    under a permissive umask."""
    from bot.storage import Store

    db = tmp_path / "data" / "coach.db"
    db.parent.mkdir()
    sqlite3.connect(db).close()
    db.chmod(0o644)
    store = Store(f"sqlite+aiosqlite:///{db}")
    try:
        await store.init()
        await store.save_user("x", "trainee", "scrypt$1$1$1$AA==$AA==")  # a write: WAL in use
        for name in ("coach.db", "coach.db-wal", "coach.db-shm"):
            assert mode(db.with_name(name)) == 0o600, name
    finally:
        await store.close()


def test_the_auth_secret_is_written_private_and_once(tmp_path: Path) -> None:
    from bot.settings import Settings
    from bot.web.launch import auth_secret

    settings = Settings(data_dir=tmp_path / "fresh")
    first = auth_secret(settings)
    assert mode(tmp_path / "fresh") == 0o700
    assert mode(tmp_path / "fresh" / "auth_secret") == 0o600
    assert auth_secret(settings) == first  # generated once, then read
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["auth_secret"]  # no temp left
