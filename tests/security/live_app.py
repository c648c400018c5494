"""The real web app, started as `coach run` starts it, for attacking its
web surfaces (origins, tokens, sign-in, shut routes, file modes). Its
fixtures reach the tests through conftest.py.

Each module gets its own app: a subprocess on a free loopback port with a
temporary data folder and real accounts (alice and bob trainees, tina a
trainer, and throwaway accounts the token tests revoke). It stops by itself
when the module is done. Requests go through httpx and socket.io's own
client, so what is checked is what a browser (or a page on another origin)
would get.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from bot.web.local_app import LocalApp

PASSWORD = "correct-horse-1"
FOREIGN = "http://127.0.0.1:9"  # another port on the same host: another origin
ACCOUNTS = (
    ("alice", "trainee"),
    ("bob", "trainee"),
    ("tina", "trainer"),
    # Revoked by the token tests, one way each.
    ("lou", "trainee"),
    ("gone", "trainer"),
    ("pat", "trainee"),
    ("demi", "trainer"),
    ("sam", "trainee"),
    ("old", "trainee"),
)


class App(LocalApp):
    """`coach run` in a subprocess, with its own data folder and accounts."""

    def __init__(self, workdir: Path, **env: str) -> None:
        super().__init__(workdir, env=env, demo=True)

    # --- as a browser on the app's own page (or on another origin) -----------------------

    def headers(self, origin: str | None = None) -> dict[str, str]:
        """The Origin a browser sends: the app's own by default, none for ""."""
        if origin == "":
            return {}
        return {"Origin": origin or self.url}

    def login(
        self, name: str, password: str = PASSWORD, origin: str | None = None
    ) -> httpx.Response:
        return httpx.post(
            self.url + "/login",
            data={"username": name, "password": password},
            headers=self.headers(origin),
            timeout=30,
        )

    def token(self, name: str) -> str:
        response = self.login(name)
        assert response.status_code == 200, response.text
        return str(response.cookies["access_token"])

    def get(self, path: str, token: str, origin: str | None = None) -> httpx.Response:
        return httpx.get(
            self.url + path,
            cookies={"access_token": token},
            headers=self.headers(origin),
            timeout=30,
        )

    def send(
        self, method: str, path: str, token: str | None, origin: str | None = None, **kw: Any
    ) -> httpx.Response:
        cookies = {"access_token": token} if token else {}
        headers = {**self.headers(origin), **kw.pop("headers", {})}
        return httpx.request(
            method, self.url + path, cookies=cookies, headers=headers, timeout=30, **kw
        )

    def threads(self, token: str, origin: str | None = None) -> httpx.Response:
        body = {"pagination": {"first": 20, "cursor": None}, "filter": {}}
        return self.send("POST", "/project/threads", token, origin, json=body)


class Socket:
    """A socket.io connection as Chainlit's page opens it; records what it receives."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.disconnected = asyncio.Event()

        @self.client.on("*")
        async def anything(event: str, *data: Any) -> None:
            self.events.append((event, data[0] if data else None))

        @self.client.event
        async def disconnect(*_: Any) -> None:
            self.disconnected.set()

    async def connect(
        self,
        token: str | None,
        origin: str | None = None,
        transport: str = "websocket",
        profile: str = "fr-deuil-chien",
        thread_id: str | None = None,
    ) -> None:
        headers = {"Origin": origin or self.app.url}
        if token:
            headers["Cookie"] = f"access_token={token}"
        #: Chainlit's session id for this page: HTTP calls on its behalf name it.
        self.session_id = str(uuid.uuid4())
        await self.client.connect(
            self.app.url,
            headers=headers,
            auth={
                "sessionId": self.session_id,
                "userEnv": "{}",
                "clientType": "webapp",
                "chatProfile": profile,
                "threadId": thread_id,
            },
            socketio_path="/ws/socket.io",
            transports=[transport],
            wait_timeout=20,
        )

    async def start_chat(self) -> None:
        await self.client.emit("connection_successful")

    def task_ends(self) -> int:
        """How many tasks the app has finished on this socket (Chainlit's task_end)."""
        return sum(1 for event, _ in self.events if event == "task_end")

    async def wait_started(self, within: float = 60) -> None:
        """Until the chat has started: the start event's and the start handler's task ends."""
        await self.wait_for(lambda: self.task_ends() >= 2, within=within)

    async def say(self, text: str) -> str:
        message_id = str(uuid.uuid4())
        await self.client.emit(
            "client_message",
            {
                "message": {
                    "id": message_id,
                    "threadId": "",
                    "name": "user",
                    "type": "user_message",
                    "output": text,
                    "createdAt": "2026-01-01T00:00:00Z",
                },
                "fileReferences": [],
            },
        )
        return message_id

    def outputs(self) -> list[str]:
        return [
            str(data.get("output", ""))
            for event, data in self.events
            if event in ("new_message", "update_message") and isinstance(data, dict)
        ]

    async def wait_for(self, predicate: Any, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {[e for e, _ in self.events]}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()
        # A refused connect leaves engine.io's HTTP session open.
        http = getattr(self.client.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()


def start_app(workdir: Path, **env: str) -> App:
    app = App(workdir, **env)
    for name, role in ACCOUNTS:
        app.coach("users", "add", name, "--role", role, "--password", PASSWORD)
    app.start()
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    server = start_app(tmp_path_factory.mktemp("app"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def sockets(app: App) -> Any:
    """Opens sockets to ``app``; closes them after the test."""
    opened: list[Socket] = []

    def make() -> Socket:
        opened.append(Socket(app))
        return opened[-1]

    yield make
    for s in opened:
        await s.close()
