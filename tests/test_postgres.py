"""The team deployment: a real PostgreSQL server, started for these tests.

Debian's PostgreSQL (`apt-get install postgresql`); skipped when it is not
installed, unless COACH_REQUIRE_POSTGRES=1 (as in CI), which turns the skip
into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.events import GradeReady
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage import Store
from bot.users import Accounts
from bot.web.local_app import free_port
from tests.conftest import flag

pytestmark = pytest.mark.postgres


def _bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


#: runuser lives in sbin, which is not on every PATH.
RUNUSER = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI machines are root.
    if os.geteuid() != 0:
        return command
    assert RUNUSER is not None
    return [RUNUSER, "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    binaries = _bin()
    if binaries is None or (os.geteuid() == 0 and RUNUSER is None):
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if flag("COACH_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("asyncpg")
    home = Path(tempfile.mkdtemp(prefix="coach-pg-"))
    home.chmod(0o755)
    data = home / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                "-U",
                "coach",
                "--encoding=UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(home / "log"),
                "-w",
                "start",
                "-o",
                f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+asyncpg://coach@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


async def fresh_database(server: str) -> str:
    """The URL of a new, empty database on the test server at ``server``."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"t_{uuid.uuid4().hex}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def pg_settings(settings: Settings, postgres_url: str) -> Settings:
    return settings.model_copy(update={"database_url": postgres_url})


async def test_sessions_grades_and_accounts_on_postgres(pg_settings: Settings) -> None:
    runtime = Runtime.create(pg_settings)
    await runtime.store.init()
    await runtime.store.init()  # idempotent: every app instance runs it at start
    try:
        engine = runtime.engine(runtime.catalog.get("fr-deuil-chien"), user_id="alice")
        await engine.start(thread_id=str(uuid.uuid4()))
        events = [e async for e in engine.turn("Calmez-vous, quel est votre numéro ?")]
        grade = next(e for e in events if isinstance(e, GradeReady)).grade
        taken = [e async for e in engine.turn("Je suis vraiment désolée pour Filou.")]
        await engine.take_back()  # kept, marked retracted, out of the turns
        await engine.end()
        await Accounts(runtime.store).add("alice", "trainee", "long-enough-1")
    finally:
        await runtime.store.close()

    # A second app instance sees everything the first one wrote.
    other = Store(pg_settings.resolved_database_url)
    try:
        assert engine.session_id is not None
        stored = await other.load(engine.session_id)
        assert stored is not None and stored.row.status == "ended"
        roles = [(m.role, m.status) for m in stored.messages]
        assert roles == [
            ("customer", "complete"),
            ("trainee", "complete"),
            ("customer", "complete"),
            ("trainee", "retracted"),
            ("customer", "retracted"),
        ]
        assert stored.turns[0].grade == grade and len(stored.turns) == 1
        taken_grade = next(e for e in taken if isinstance(e, GradeReady)).grade
        assert [(r.turn, r.grade) for r in stored.retracted] == [(2, taken_grade)]
        assert stored.row.mood == stored.turns[0].mood_after
        assert [r.user_id for r in await other.list_sessions("alice")] == ["alice"]
        assert await Accounts(other).authenticate("alice", "long-enough-1") is not None
    finally:
        await other.close()


async def test_chainlit_thread_history_on_postgres(pg_settings: Settings) -> None:
    from chainlit.context import init_http_context
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.user import User

    store = Store(pg_settings.resolved_database_url)
    await store.init()  # creates Chainlit's tables too
    await store.close()
    init_http_context()
    layer = SQLAlchemyDataLayer(conninfo=pg_settings.resolved_database_url)
    try:
        user = await layer.create_user(User(identifier="bob", metadata={"role": "trainee"}))
        assert user is not None
        thread_id = str(uuid.uuid4())
        await layer.update_thread(thread_id, name="Monique · 23/11", user_id=user.id)
        step = {
            "id": str(uuid.uuid4()),
            "threadId": thread_id,
            "name": "Note : 62/100",
            "type": "tool",
            "streaming": False,
            "output": "✗ Aucune phrase bloquante",
            "defaultOpen": False,
            "autoCollapse": False,
            "metadata": {},
            "createdAt": "2026-11-23T20:00:00Z",
        }
        await layer.create_step(step)  # type: ignore[arg-type]
        thread = await layer.get_thread(thread_id)
        assert thread is not None and thread["userIdentifier"] == "bob"
        assert thread["name"] == "Monique · 23/11"
        assert [s["name"] for s in thread["steps"]] == ["Note : 62/100"]
    finally:
        await layer.engine.dispose()


async def test_corrections_and_hints_on_postgres(pg_settings: Settings) -> None:
    from bot import corrections

    url = await fresh_database(pg_settings.resolved_database_url)
    runtime = Runtime.create(pg_settings.model_copy(update={"database_url": url}))
    await runtime.store.init()
    try:
        engine = runtime.engine(runtime.catalog.get("fr-deuil-chien"), user_id="alice")
        await engine.start(thread_id=str(uuid.uuid4()))
        await engine.hint()
        events = [e async for e in engine.turn("Calmez-vous, quel est votre numéro ?")]
        assert any(isinstance(e, GradeReady) for e in events)
        assert engine.session_id is not None
        stored = await runtime.store.load(engine.session_id)
        assert stored is not None
        payload = {
            "session": engine.session_id,
            "message": stored.turns[0].message_id,
            "criterion": "no_blocking_phrase",
            "verdict": "met",
            "comment": "Quoted, not said.",
        }
        row = await corrections.record(runtime.store, payload, trainer="tina")
        assert (row.old_verdict, row.new_verdict, row.turn) == ("missed", "met", 1)
    finally:
        await runtime.store.close()

    other = Store(url)  # another app instance, or `coach eval export-corrections`
    try:
        (kept,) = await other.corrections()
        assert (kept.trainer, kept.criterion, kept.comment) == (
            "tina",
            "no_blocking_phrase",
            "Quoted, not said.",
        )
        (case,) = await corrections.export_cases(other, {"fr-deuil-chien"})
        assert case["expect"] == {"no_blocking_phrase": "met"}
        reloaded = await other.load(engine.session_id)
        assert reloaded is not None and [h.after_turn for h in reloaded.hints] == [0]
        assert [h.session_id for h in await other.hints_for_sessions([engine.session_id])] == [
            engine.session_id
        ]
    finally:
        await other.close()
