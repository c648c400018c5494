"""The real web app for the reliability tests: `coach run` on loopback with
trainee accounts, its own database (a SQLite file, or a database of its own
on the test PostgreSQL server) read while it runs, and socket.io clients
that talk to it as the page does (tests/security/live_app.py)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.testing.openai_server import FaultServer
from tests.security.live_app import PASSWORD, App, Socket

ACCOUNTS = 10
PERSONA = "en-late-parcel"


class ReliabilityApp(App):
    """The app, offline or on ``model``, on ``database_url`` (None: its SQLite file)."""

    def __init__(
        self,
        workdir: Path,
        model: FaultServer | None = None,
        database_url: str | None = None,
        **env: str,
    ) -> None:
        env = {"COACH_LOGIN_ATTEMPTS": "1000", **env}
        if database_url is not None:
            env["COACH_DATABASE_URL"] = database_url
        if model is not None:
            env |= {
                "COACH_BACKEND": "compatible",
                "OPENAI_BASE_URL": model.base_url,
                "OPENAI_API_KEY": "not-needed",
            }
        super().__init__(workdir, **env)
        self.database_url = database_url or f"sqlite+aiosqlite:///{self.data / 'coach.db'}"

    def start_with_accounts(self) -> ReliabilityApp:
        for i in range(ACCOUNTS):
            self.coach("users", "add", f"trainee{i}", "--role", "trainee", "--password", PASSWORD)
        self.start()
        return self

    async def query(self, sql: str) -> list[Any]:
        """Rows of the app's own database, read while it runs."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    async def stored_lines(self) -> Counter[str]:
        """Every trainee line in the database, with how many times it is there."""
        found = await self.query("select content from coach_messages where role = 'trainee'")
        return Counter(content for (content,) in found)

    async def open_chat(self, token: str, thread_id: str | None = None) -> Socket:
        socket = Socket(self)
        await socket.connect(token, profile=PERSONA, thread_id=thread_id)
        return socket


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
