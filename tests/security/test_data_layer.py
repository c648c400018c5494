"""The project's Chainlit data layer refuses what the probe of the running app did.

On SQLite and on a real PostgreSQL server: non-UUID ids never reach SQL, a
listing holds only the requester's threads, a step or a feedback cannot be
moved or written into another user's thread, staff read but never write,
sharing is off, and element files survive a new app instance.
"""

from __future__ import annotations

import base64
import json
import stat
import uuid
from typing import Any

import pytest
from chainlit.element import File, Plotly
from chainlit.types import Feedback, Pagination, ThreadFilter
from plotly import graph_objects as go
from sqlalchemy import text

from bot.web.data_layer import AccessRefused, ThreadRefused, is_uuid
from tests.security.conftest import INJECTIONS, World


def new_id() -> str:
    return str(uuid.uuid4())


def a_step(thread_id: str, step_id: str | None = None, output: str = "bonjour") -> dict[str, Any]:
    return {
        "id": step_id or new_id(),
        "threadId": thread_id,
        "name": "alice",
        "type": "user_message",
        "output": output,
        "streaming": False,
        "createdAt": "2026-01-05T10:00:00.000Z",
        "metadata": {},
        "defaultOpen": False,
    }


async def started_thread(world: World, name: str, output: str = "bonjour") -> tuple[str, str]:
    """A thread of `name`'s with one message, as Chainlit writes it."""
    await world.act_as(name)
    thread_id = new_id()
    step = a_step(thread_id, output=output)
    await world.layer.create_step(step)
    await world.layer.update_thread(
        thread_id, name=f"{name}'s session", user_id=world.users[name].id
    )
    return thread_id, step["id"]


async def rows(world: World, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Raw rows, ids as strings on both databases (PostgreSQL returns UUID objects)."""
    async with world.store.engine.connect() as conn:
        found = (await conn.execute(text(query), params)).all()
    return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in r) for r in found]


def test_only_canonical_uuids_are_ids() -> None:
    assert is_uuid(new_id())
    assert not any(is_uuid(payload) for payload in INJECTIONS)
    assert not is_uuid(None) and not is_uuid(42)


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_non_uuid_ids_are_refused_before_any_sql(world: World, payload: str) -> None:
    alice_thread, alice_step = await started_thread(world, "alice")
    await world.act_as("bob")
    world.statements.clear()
    layer = world.layer

    with pytest.raises(ThreadRefused):
        await layer.get_thread(payload)
    assert await layer.get_thread_author(payload) == ""
    await layer.update_thread(payload, name="x")
    await layer.create_step(a_step(payload))
    await layer.create_step(a_step(alice_thread, step_id=payload))
    await layer.create_step({**a_step(new_id()), "parentId": payload})
    await layer.delete_step(payload)
    await layer.delete_thread(payload)
    with pytest.raises(AccessRefused):
        await layer.upsert_feedback(Feedback(forId=payload, value=1))
    with pytest.raises(AccessRefused):
        await layer.upsert_feedback(Feedback(forId=alice_step, value=1, id=payload))
    assert await layer.delete_feedback(payload) is False
    assert await layer.get_element(payload, new_id()) is None
    assert await layer.get_element(alice_thread, payload) is None
    await layer.delete_element(payload)

    if payload:
        assert not world.sql_mentions(payload)
    assert await rows(world, "select count(*) from threads") == [(1,)]
    assert await rows(world, "select count(*) from steps") == [(1,)]
    assert await rows(world, "select count(*) from feedbacks") == [(0,)]


async def test_listing_holds_only_the_requesters_threads(world: World) -> None:
    alice_thread, _ = await started_thread(world, "alice", "Calmez-vous madame")
    bob_thread, _ = await started_thread(world, "bob")
    tina_thread, _ = await started_thread(world, "tina")

    for name, own in (("alice", alice_thread), ("bob", bob_thread), ("tina", tina_thread)):
        await world.act_as(name)
        listed = await world.layer.list_threads(
            Pagination(first=20), ThreadFilter(userId=world.users[name].id)
        )
        assert [t["id"] for t in listed.data] == [own]
        assert listed.data[0]["userIdentifier"] == name

    # Asking for another user's listing (Chainlit sets userId itself; a bug or a
    # change there must not leak it) gives nothing.
    await world.act_as("bob")
    stolen = await world.layer.list_threads(
        Pagination(first=20), ThreadFilter(userId=world.users["alice"].id)
    )
    assert stolen.data == []
    # Search and feedback filters are bound values too.
    for search in ("Calmez", "%", "_", "') OR 1=1 --"):
        found = await world.layer.list_threads(
            Pagination(first=20), ThreadFilter(userId=world.users["bob"].id, search=search)
        )
        assert found.data == []
    await world.act_as("alice")
    found = await world.layer.list_threads(
        Pagination(first=20), ThreadFilter(userId=world.users["alice"].id, search="calmez")
    )
    assert [t["id"] for t in found.data] == [alice_thread]
    nobody = await world.as_nobody(
        lambda: world.layer.list_threads(
            Pagination(first=20), ThreadFilter(userId=world.users["alice"].id)
        )
    )
    assert nobody.data == []


async def test_a_trainee_cannot_open_another_trainees_thread(world: World) -> None:
    alice_thread, _ = await started_thread(world, "alice")
    await world.act_as("alice")
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None and [s["output"] for s in thread["steps"]] == ["bonjour"]
    assert await world.layer.get_thread_author(alice_thread) == "alice"

    await world.act_as("bob")
    with pytest.raises(ThreadRefused) as refused:
        await world.layer.get_thread(alice_thread)
    assert isinstance(refused.value, ConnectionRefusedError)  # the socket refuses
    assert refused.value.status_code == 404  # an HTTP route answers "not found"
    with pytest.raises(ThreadRefused):
        await world.as_nobody(lambda: world.layer.get_thread(alice_thread))
    await world.act_as("bob")
    assert await world.layer.get_thread(new_id()) is None  # a new chat's thread


async def test_a_step_hijack_leaves_the_step_where_it_was(world: World) -> None:
    alice_thread, alice_step = await started_thread(world, "alice", "mon numéro de carte")
    bob_thread, _ = await started_thread(world, "bob")

    await world.act_as("bob")
    await world.layer.create_step(a_step(bob_thread, step_id=alice_step, output="moved"))
    await world.layer.update_step(a_step(bob_thread, step_id=alice_step, output="moved"))
    await world.layer.update_step(a_step(alice_thread, step_id=alice_step, output="rewritten"))
    await world.layer.create_step(a_step(alice_thread, output="planted"))
    await world.layer.delete_step(alice_step)

    assert await rows(
        world, 'select "threadId", output from steps where id = :id', id=alice_step
    ) == [(alice_thread, "mon numéro de carte")]
    await world.act_as("alice")
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None
    assert [s["output"] for s in thread["steps"]] == ["mon numéro de carte"]
    await world.act_as("bob")
    own = await world.layer.get_thread(bob_thread)
    assert own is not None and alice_step not in {s["id"] for s in own["steps"]}

    # Her own updates still work, in place.
    await world.act_as("alice")
    await world.layer.update_step(a_step(alice_thread, step_id=alice_step, output="corrigé"))
    assert await rows(world, "select output from steps where id = :id", id=alice_step) == [
        ("corrigé",)
    ]


async def test_threads_belong_to_their_creator(world: World) -> None:
    alice_thread, _ = await started_thread(world, "alice")
    await world.act_as("bob")
    await world.layer.update_thread(alice_thread, name="bob was here")
    await world.layer.update_thread(alice_thread, user_id=world.users["bob"].id)
    await world.layer.delete_thread(alice_thread)
    # Nor can a new thread be created in someone else's name.
    foreign = new_id()
    await world.layer.update_thread(foreign, name="x", user_id=world.users["alice"].id)
    assert await rows(
        world, 'select name, "userId" from threads where id = :id', id=alice_thread
    ) == [("alice's session", world.users["alice"].id)]
    assert await rows(world, "select count(*) from threads where id = :id", id=foreign) == [(0,)]

    await world.act_as("alice")
    await world.layer.delete_thread(alice_thread)
    assert await rows(world, "select count(*) from threads") == [(0,)]
    assert await rows(world, "select count(*) from steps") == [(0,)]


async def test_feedback_only_on_the_requesters_own_steps(world: World) -> None:
    alice_thread, alice_step = await started_thread(world, "alice")
    bob_thread, bob_step = await started_thread(world, "bob")

    await world.act_as("alice")
    mine = await world.layer.upsert_feedback(
        Feedback(forId=alice_step, value=1, comment="utile", threadId=bob_thread)
    )
    # Stored against the step's real thread, whatever threadId the browser sent.
    assert await rows(world, 'select "threadId", value from feedbacks where id = :id', id=mine) == [
        (alice_thread, 1)
    ]

    await world.act_as("bob")
    with pytest.raises(AccessRefused):
        await world.layer.upsert_feedback(Feedback(forId=alice_step, value=0))
    with pytest.raises(AccessRefused):  # rewriting her feedback through his own step
        await world.layer.upsert_feedback(Feedback(forId=bob_step, value=0, id=mine))
    with pytest.raises(AccessRefused):
        await world.layer.upsert_feedback(Feedback(forId=alice_step, value=0, id=mine))
    assert await world.layer.delete_feedback(mine) is False
    assert await rows(world, "select value, comment from feedbacks where id = :id", id=mine) == [
        (1, "utile")
    ]

    await world.act_as("alice")
    assert await world.layer.upsert_feedback(Feedback(forId=alice_step, value=0, id=mine)) == mine
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None and thread["steps"][0]["feedback"]["value"] == 0
    assert await world.layer.delete_feedback(mine) is True
    assert await rows(world, "select count(*) from feedbacks") == [(0,)]


async def test_staff_read_every_thread_but_write_into_none(world: World) -> None:
    alice_thread, alice_step = await started_thread(world, "alice")
    await world.act_as("tina")
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None and thread["userIdentifier"] == "alice"
    # The author stays alice: Chainlit's own author check keeps the trainer out
    # of resuming (writing into) the thread.
    assert await world.layer.get_thread_author(alice_thread) == "alice"

    await world.layer.create_step(a_step(alice_thread, output="trainer note"))
    await world.layer.update_step(a_step(alice_thread, step_id=alice_step, output="edited"))
    await world.layer.delete_step(alice_step)
    await world.layer.update_thread(alice_thread, name="renamed", metadata={"x": 1})
    await world.layer.delete_thread(alice_thread)
    with pytest.raises(AccessRefused):
        await world.layer.upsert_feedback(Feedback(forId=alice_step, value=1))
    listed = await world.layer.list_threads(
        Pagination(first=20), ThreadFilter(userId=world.users["tina"].id)
    )
    assert listed.data == []

    assert await rows(world, "select output from steps") == [("bonjour",)]
    assert await rows(world, "select name from threads") == [("alice's session",)]


async def test_sharing_is_off(world: World) -> None:
    alice_thread, _ = await started_thread(world, "alice")
    await world.act_as("alice")
    await world.layer.update_thread(
        alice_thread,
        metadata={"is_shared": True, "shared_at": "2026-01-05", "chat_profile": "fr-deuil-chien"},
    )
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None
    # Handed to Chainlit as JSON text, as Chainlit's own layer did on SQLite.
    assert json.loads(str(thread["metadata"])) == {"chat_profile": "fr-deuil-chien"}
    # A key set to None is removed (Chainlit's merge rule).
    await world.layer.update_thread(alice_thread, metadata={"chat_profile": None, "env": {}})
    thread = await world.layer.get_thread(alice_thread)
    assert thread is not None and json.loads(str(thread["metadata"])) == {"env": {}}


async def test_elements_round_trip_and_survive_a_new_app_instance(world: World) -> None:
    alice_thread, alice_step = await started_thread(world, "alice")
    await world.act_as("alice")
    figure = go.Figure(go.Bar(x=["empathie"], y=[3]))
    chart = Plotly(name="debrief-chart", figure=figure, thread_id=alice_thread, for_id=alice_step)
    transcript = File(
        name="../../transcript.md",
        content=b"# Transcript\n",
        mime="text/markdown",
        thread_id=alice_thread,
        for_id=alice_step,
    )
    await world.layer.create_element(chart)
    await world.layer.create_element(transcript)
    await world.layer.close()

    other = world.new_layer()
    try:
        thread = await other.get_thread(alice_thread)
        assert thread is not None and thread["elements"] is not None
        by_name = {e["name"]: e for e in thread["elements"]}
        assert set(by_name) == {"debrief-chart", "../../transcript.md"}
        kind, _, data = str(by_name["../../transcript.md"]["url"]).partition(";base64,")
        assert kind == "data:text/markdown"
        assert base64.b64decode(data) == b"# Transcript\n"
        chart_url = str(by_name["debrief-chart"]["url"])
        assert chart_url.startswith("data:application/json;base64,")
        assert b'"empathie"' in base64.b64decode(chart_url.partition(",")[2])
        element = await other.get_element(alice_thread, transcript.id)
        assert element is not None and element["url"] == by_name["../../transcript.md"]["url"]

        # On disk: one private folder per thread, files named by UUID only.
        folder = world.files / alice_thread
        assert stat.S_IMODE(world.files.stat().st_mode) == 0o700
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for path in folder.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert is_uuid(path.name.removesuffix(".json"))
        assert not (world.files.parent / "transcript.md").exists()

        # Bob reads neither the thread nor the element; staff read both.
        await world.act_as("bob")
        assert await other.get_element(alice_thread, transcript.id) is None
        await other.delete_element(transcript.id, alice_thread)
        await world.act_as("tina")
        assert await other.get_element(alice_thread, transcript.id) is not None

        # An element never moves to another thread.
        bob_thread, bob_step = await started_thread(world, "bob")
        stolen = File(
            id=transcript.id,
            name="x",
            content=b"x",
            thread_id=bob_thread,
            for_id=bob_step,
        )
        await other.create_element(stolen)
        assert await rows(
            world, 'select "threadId", name from elements where id = :id', id=transcript.id
        ) == [(alice_thread, "../../transcript.md")]

        # Deleting the thread deletes its files.
        await world.act_as("alice")
        await other.delete_thread(alice_thread)
        assert not folder.exists()
    finally:
        await other.close()
