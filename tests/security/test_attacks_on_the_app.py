"""The probe's attacks, replayed against the real app (`coach run` on loopback).

Each user signs in with ``POST /login`` as the browser does and talks to the
app over Chainlit's socket (python-socketio's client, websocket transport,
the ``access_token`` cookie) and its HTTP routes. Offline backend, temporary
data folder, nothing leaves loopback. Never skipped: these are the project's
guarantees over Chainlit surfaces nobody upstream maintains any more.
"""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import socketio

from bot.web.local_app import LocalApp as App
from tests.security.conftest import INJECTIONS

pytestmark = pytest.mark.security

PASSWORD = "correct-horse-1"
WAIT = 60.0


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    server = App(tmp_path_factory.mktemp("app"), timeout=WAIT)
    for name, role in (("alice", "trainee"), ("bob", "trainee"), ("tina", "trainer")):
        server.coach("users", "add", name, "--role", role, "--password", PASSWORD)
    server.start()
    yield server
    server.stop()


class Browser:
    """One signed-in user: her cookie, HTTP calls and socket sessions."""

    def __init__(self, app: App, http: aiohttp.ClientSession, name: str) -> None:
        self.app, self.http, self.name = app, http, name
        self.cookie = ""
        self.sockets: list[socketio.AsyncClient] = []
        #: The messages each socket was sent, in order.
        self.shown: dict[socketio.AsyncClient, list[dict[str, Any]]] = {}

    async def sign_in(self) -> None:
        async with self.http.post(
            self.app.url + "/login", data={"username": self.name, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            self.cookie = f"access_token={response.cookies['access_token'].value}"

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        async with self.http.request(
            method, self.app.url + path, json=body, headers={"Cookie": self.cookie}
        ) as response:
            return response.status, await response.text()

    async def threads(self) -> list[dict[str, Any]]:
        status, body = await self.request(
            "POST", "/project/threads", {"pagination": {"first": 50}, "filter": {}}
        )
        assert status == 200, body
        return list(json.loads(body)["data"])

    async def thread(self, thread_id: str) -> dict[str, Any]:
        status, body = await self.request("GET", f"/project/thread/{thread_id}")
        assert status == 200, body
        return dict(json.loads(body))

    async def connect(self, thread_id: str | None = None) -> tuple[socketio.AsyncClient, str]:
        """A socket session as the page opens it; returns it and its session id."""
        client = socketio.AsyncClient(reconnection=False)
        session_id = str(uuid.uuid4())
        shown: list[dict[str, Any]] = []
        self.shown[client] = shown

        async def on_message(step: dict[str, Any]) -> None:
            shown.append(step)

        client.on("new_message", on_message)
        await client.connect(
            self.app.url,
            socketio_path="/ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": self.cookie},
            auth={
                "sessionId": session_id,
                "userEnv": "{}",
                "clientType": "webapp",
                "chatProfile": "fr-deuil-chien",
                "threadId": thread_id,
            },
            wait_timeout=WAIT,
        )
        self.sockets.append(client)
        await client.emit("connection_successful")
        return client, session_id

    async def shown_text(self, client: socketio.AsyncClient, text: str) -> None:
        """Wait until the page on `client` has been sent a message containing `text`."""

        async def found() -> bool:
            return any(text in str(m.get("output", "")) for m in self.shown[client])

        await eventually(found, f"{text!r} on {self.name}'s page")

    async def say(self, client: socketio.AsyncClient, text: str, step_id: str | None = None) -> str:
        step_id = step_id or str(uuid.uuid4())
        await client.emit(
            "client_message",
            {
                "message": {
                    "id": step_id,
                    "threadId": "",
                    "name": self.name,
                    "type": "user_message",
                    "output": text,
                    "createdAt": "2026-01-05T10:00:00.000Z",
                },
                "fileReferences": None,
            },
        )
        return step_id

    async def close(self) -> None:
        for client in self.sockets:
            await client.disconnect()


@pytest.fixture
async def browsers(app: App) -> AsyncIterator[dict[str, Browser]]:
    async with aiohttp.ClientSession() as http:
        people = {name: Browser(app, http, name) for name in ("alice", "bob", "tina")}
        for person in people.values():
            await person.sign_in()
        yield people
        for person in people.values():
            await person.close()


async def eventually(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def a_session(person: Browser, text: str) -> tuple[str, str, str]:
    """A conversation of `person`'s with one reply: (thread id, step id, session id)."""
    before = {t["id"] for t in await person.threads()}
    client, session_id = await person.connect()
    await person.shown_text(client, "Allô")  # the customer's opening: the chat has started
    step_id = await person.say(client, text)

    async def new_thread() -> list[dict[str, Any]]:
        return [t for t in await person.threads() if t["id"] not in before]

    thread = (await eventually(new_thread, f"{person.name}'s thread"))[0]

    async def stored() -> bool:
        steps = (await person.thread(thread["id"]))["steps"]
        return any(s["id"] == step_id for s in steps)

    await eventually(stored, f"{person.name}'s message")
    return thread["id"], step_id, session_id


def secrets_of(app: App) -> list[str]:
    """What must never come back to another user: password hashes."""
    return [row[0] for row in app.rows("select password_hash from coach_users")]


@pytest.mark.parametrize("payload", INJECTIONS[:2])
async def test_an_injected_thread_id_is_refused_and_leaks_nothing(
    app: App, browsers: dict[str, Browser], payload: str
) -> None:
    alice, bob = browsers["alice"], browsers["bob"]
    bob_thread, _, _ = await a_session(bob, "Mon numéro de client est le 4242")

    # The probe: connect with a crafted threadId, reply once, open the thread.
    with pytest.raises(socketio.exceptions.ConnectionError):
        await alice.connect(thread_id=payload)
    assert not any(t["id"] == payload for t in await alice.threads())
    status, body = await alice.request("GET", f"/project/thread/{payload}")
    assert status == 404
    listing = json.dumps(await alice.threads())
    for leaked in [bob_thread, "4242", "coach_users", *secrets_of(app)]:
        assert leaked not in listing and leaked not in body
    assert app.rows("select count(*) from threads where id = ?", payload) == [(0,)]
    assert app.rows("select count(*) from coach_sessions where thread_id = ?", payload) == [(0,)]
    assert "refused a non-UUID thread_id" in app.log()


async def test_another_users_thread_cannot_be_joined_or_read(
    app: App, browsers: dict[str, Browser]
) -> None:
    alice, bob, tina = browsers["alice"], browsers["bob"], browsers["tina"]
    alice_thread, _, _ = await a_session(alice, "Je suis désolée pour Filou")
    # Her thread stays refused; Bob's page gets a new chat of his own that says
    # so (a refused socket showed as "Could not reach the server").
    before = {t["id"] for t in await bob.threads()}
    client, _ = await bob.connect(thread_id=alice_thread)
    await bob.shown_text(client, "That session is not yours")
    marker = await bob.say(client, "Bonjour, je vous écoute.")

    async def bobs_own() -> list[dict[str, Any]]:
        return [t for t in await bob.threads() if t["id"] not in before]

    (bobs,) = await eventually(bobs_own, "bob's new thread")
    assert marker in {s["id"] for s in (await bob.thread(bobs["id"]))["steps"]}
    shown = json.dumps(bob.shown[client])
    assert "Je suis désolée pour Filou" not in shown
    status, body = await bob.request("GET", f"/project/thread/{alice_thread}")
    assert status == 401 and "Filou" not in body
    assert alice_thread not in {t["id"] for t in await bob.threads()}
    # Staff do not resume (write into) a trainee's thread either; they read
    # transcripts on the dashboard.
    client, _ = await tina.connect(thread_id=alice_thread)
    await tina.shown_text(client, "That session is not yours")
    status, _ = await bob.request("DELETE", "/project/thread", {"threadId": alice_thread})
    assert status == 401
    hers = await alice.thread(alice_thread)
    assert hers["id"] == alice_thread and marker not in {s["id"] for s in hers["steps"]}


async def test_a_step_hijack_leaves_her_message_in_her_thread(
    app: App, browsers: dict[str, Browser]
) -> None:
    alice, bob = browsers["alice"], browsers["bob"]
    alice_thread, alice_step, _ = await a_session(alice, "Mon adresse est 3 rue des Lilas")
    bob_thread, _, _ = await a_session(bob, "Bonjour")

    # Bob sends a message carrying Alice's step id on his own socket.
    client, _ = await bob.connect(thread_id=bob_thread)
    await bob.shown_text(client, "Session resumed")
    await bob.say(client, "hijacked", step_id=alice_step)
    marker = await bob.say(client, "after the hijack")

    async def bobs_marker() -> bool:
        return marker in {s["id"] for s in (await bob.thread(bob_thread))["steps"]}

    await eventually(bobs_marker, "bob's next message")
    assert app.rows('select "threadId", output from steps where id = ?', alice_step) == [
        (alice_thread, "Mon adresse est 3 rue des Lilas")
    ]
    assert alice_step not in {s["id"] for s in (await bob.thread(bob_thread))["steps"]}
    assert "moving a step from another thread" in app.log()


async def test_feedback_on_another_users_step_is_refused(
    app: App, browsers: dict[str, Browser]
) -> None:
    alice, bob = browsers["alice"], browsers["bob"]
    alice_thread, alice_step, alice_session = await a_session(alice, "Je comprends")
    _, _, bob_session = await a_session(bob, "Bonjour")

    status, _ = await bob.request(
        "PUT",
        "/feedback",
        {"feedback": {"forId": alice_step, "value": 0}, "sessionId": bob_session},
    )
    assert status >= 400
    status, body = await alice.request(
        "PUT",
        "/feedback",
        {"feedback": {"forId": alice_step, "value": 1}, "sessionId": alice_session},
    )
    assert status == 200, body
    feedback_id = json.loads(body)["feedbackId"]
    # Rewriting or deleting her feedback by its id fails too.
    status, _ = await bob.request(
        "PUT",
        "/feedback",
        {
            "feedback": {"forId": alice_step, "value": 0, "id": feedback_id},
            "sessionId": bob_session,
        },
    )
    assert status >= 400
    await bob.request("DELETE", "/feedback", {"feedbackId": feedback_id})
    assert app.rows("select value from feedbacks where id = ?", feedback_id) == [(1,)]
    steps = {s["id"]: s for s in (await alice.thread(alice_thread))["steps"]}
    assert steps[alice_step]["feedback"]["value"] == 1


async def test_debrief_files_survive_a_restart_and_reach_only_their_readers(
    app: App, browsers: dict[str, Browser]
) -> None:
    alice, bob = browsers["alice"], browsers["bob"]
    alice_thread, _, _ = await a_session(alice, "Je suis désolée, je comprends")
    client, _ = await alice.connect(thread_id=alice_thread)
    await alice.shown_text(client, "Session resumed")
    await alice.say(client, "/end")

    async def debrief() -> dict[str, Any] | None:
        elements = (await alice.thread(alice_thread))["elements"] or []
        names = {e["name"] for e in elements}
        if "debrief-chart" in names and any(n.endswith(".json") for n in names):
            return {e["name"]: e for e in elements}
        return None

    await eventually(debrief, "the debrief's chart and transcripts")
    await alice.close()
    app.stop()
    app.start()

    files = await debrief()
    assert files is not None
    chart = str(files["debrief-chart"]["url"])
    assert chart.startswith("data:application/json;base64,")
    assert "data" in json.loads(base64.b64decode(chart.partition(",")[2]))
    folder = app.workdir / "data" / "files" / alice_thread
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    status, body = await bob.request("GET", f"/project/thread/{alice_thread}")
    assert status == 401 and "base64" not in body
    element_id = files["debrief-chart"]["id"]
    status, body = await bob.request("GET", f"/project/thread/{alice_thread}/element/{element_id}")
    assert status == 401 and "base64" not in body
