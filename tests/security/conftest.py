"""Fixtures for the security tests: the project's data layer over a real database.

SQLite (a temporary file) always; PostgreSQL (a real server, started by the
fixture tests/test_postgres.py uses) for tests marked ``postgres``, each in a
database of its own. Tables are created by the project's own Store.init.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from chainlit.context import init_http_context
from chainlit.user import PersistedUser, User
from sqlalchemy import event

from bot.settings import Settings
from bot.storage import Store
from bot.web.data_layer import CoachDataLayer
from bot.web.element_store import ElementStore
from tests.test_postgres import fresh_database
from tests.test_postgres import postgres_url as postgres_url

T = TypeVar("T")

#: The shapes a crafted socket threadId took in the probe of the running app.
INJECTIONS = [
    "x') OR 1=1 --",
    "x') UNION SELECT name, password_hash, role, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM coach_users --",
    "00000000-0000-0000-0000-000000000000') OR ('1'='1",
    "",
    "not-a-uuid",
    "0B6F3F35-7D3F-4BD2-9D36-1C4A1F0D2C11",  # a UUID, but not in canonical form
    "0b6f3f357d3f4bd29d361c4a1f0d2c11",
    "{0b6f3f35-7d3f-4bd2-9d36-1c4a1f0d2c11}",
]


@dataclass
class World:
    """A data layer on a fresh database, with trainees alice and bob and trainer tina."""

    url: str
    store: Store
    layer: CoachDataLayer
    files: Path
    users: dict[str, PersistedUser]
    statements: list[tuple[str, Any]]

    async def act_as(self, name: str) -> None:
        """Make the following calls on behalf of `name`, as Chainlit does: the
        user is resolved through get_user, and a context holds the session's user."""
        user = await self.layer.get_user(name)
        assert user is not None
        init_http_context(user=user)

    async def as_nobody(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call` as a request nobody signed in to (a fresh context)."""

        async def run() -> T:
            init_http_context()
            return await call()

        return await asyncio.create_task(run(), context=contextvars.Context())

    def new_layer(self) -> CoachDataLayer:
        """Another app instance on the same database and files."""
        return CoachDataLayer(Store(self.url).engine, ElementStore(self.files))

    def sql_mentions(self, needle: str) -> bool:
        return any(
            needle in statement or needle in repr(params) for statement, params in self.statements
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[World]:
    if request.param == "postgres":
        url = await fresh_database(request.getfixturevalue("postgres_url"))
    else:
        url = settings.resolved_database_url
    store = Store(url)
    await store.init()
    files = tmp_path / "files"
    layer = CoachDataLayer(store.engine, ElementStore(files))
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    people = {}
    for name, role in (("alice", "trainee"), ("bob", "trainee"), ("tina", "trainer")):
        persisted = await layer.create_user(User(identifier=name, metadata={"role": role}))
        assert persisted is not None
        people[name] = persisted
    yield World(url, store, layer, files, people, statements)
    await store.close()


# The real app on loopback for the web-surface tests (origins, tokens, sign-in,
# shut routes): its fixtures live beside their helpers.
from tests.security.live_app import app as app  # noqa: E402
from tests.security.live_app import sockets as sockets  # noqa: E402
