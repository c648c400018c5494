"""The Chainlit handlers, called through a Chainlit context over a mocked
websocket session (what the browser would receive is recorded), with the real
engine and a real SQLite database behind them."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from chainlit.context import ChainlitContext, context_var
from chainlit.session import WebsocketSession
from chainlit.user import PersistedUser
from chainlit.user_session import user_sessions

import bot.web.handlers as handlers
from bot.backends import GraderModels
from bot.backends.offline import OfflineBackend
from bot.backends.openai_compat import bind_structured
from bot.grader import Grader
from bot.runtime import Runtime
from bot.settings import Settings
from bot.simulator import CustomerTurn, ScriptedCustomer
from bot.users import Accounts
from tests.conftest import fake_chat


class Browser:
    """What the handlers sent to the page, by event name."""

    def __init__(self, emit: AsyncMock) -> None:
        self.emit = emit

    def payloads(self, event: str) -> list[dict[str, Any]]:
        return [c.args[1] for c in self.emit.call_args_list if c.args and c.args[0] == event]

    def messages(self) -> list[dict[str, Any]]:
        """Every message or step sent or updated, in order."""
        return [
            c.args[1]
            for c in self.emit.call_args_list
            if c.args and c.args[0] in ("new_message", "update_message")
        ]

    def texts(self) -> list[str]:
        return [m.get("output", "") for m in self.messages()]

    def steps(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m.get("type") == "tool"]


@pytest.fixture
async def page(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Browser]:
    runtime = Runtime.create(settings)
    await runtime.store.init()
    monkeypatch.setattr(handlers, "runtime", runtime)
    session = Mock(spec=WebsocketSession)
    session.id = "session-1"
    session.thread_id = "0b6f3f35-7d3f-4bd2-9d36-1c4a1f0d2c11"
    session.user_env = {}
    session.chat_settings = {}
    session.chat_profile = "fr-deuil-chien"
    session.client_type = "webapp"
    session.environ = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}
    session.has_first_interaction = True
    session.files = {}
    session.emit = AsyncMock()
    user = Mock(spec=PersistedUser)
    user.id, user.identifier, user.metadata = "user-1", "alice", {"role": "trainee"}
    session.user = user
    token = context_var.set(ChainlitContext(session))
    user_sessions.pop(session.id, None)  # each test is a new chat, not the last one's
    # Thread history goes through Chainlit's data layer: not under test here.
    monkeypatch.setattr("chainlit.data._data_layer", None)
    monkeypatch.setattr("chainlit.data._data_layer_initialized", True)
    try:
        yield Browser(session.emit)
    finally:
        context_var.reset(token)
        await runtime.store.close()


def rows(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    path = settings.resolved_database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


def use_customer(monkeypatch: pytest.MonkeyPatch, customer: type[ScriptedCustomer]) -> None:
    """The app's customer is ``customer`` (a scripted one that misbehaves)."""

    class Backend(OfflineBackend):
        def customer(self, persona: Any, *, word_delay: float = 0.0) -> Any:
            return customer(persona)

    monkeypatch.setattr(handlers.runtime, "backend", Backend(handlers.runtime.settings))


async def say(text: str) -> None:
    import chainlit as cl

    message = cl.Message(content=text, author="alice", type="user_message")
    await handlers.on_message(message)
    await handlers.settled()  # the grade arrives after the handler returns


async def test_a_turn_shows_the_reply_the_grade_and_the_mood(
    page: Browser, settings: Settings
) -> None:
    await handlers.on_chat_start()
    assert any("Hors ligne" in t or "hors ligne" in t for t in page.texts())
    await say("Calmez-vous, quel est votre numéro de commande ?")
    step = page.steps()[-1]
    assert step["name"].startswith("Note\u00a0: ")
    assert "Aucune phrase bloquante" in step["output"] and "Calmez-vous" in step["output"]
    # Offline too, a better reply that keeps the question and drops the harm.
    better = step["output"].split("Une meilleure réponse", 1)[1]
    assert "Quel est votre numéro de commande" in better and "Calmez" not in better
    elements = page.payloads("set_sidebar_elements")
    props = elements[-1]["elements"][0]["props"]
    assert props["mood"] > 7
    assert props["reason"] == "phrase bloquante\u00a0: «\u00a0Calmez-vous\u00a0»"
    # She grieves: her mood is named and coloured as hurt, not anger.
    assert props["label"] in ("blessure", "cœur brisé") and props["colour"] in (
        "#8250df",
        "#512a97",
    )
    assert rows(settings, "select count(*) from coach_grades") == [(1,)]


async def test_a_model_failure_mid_reply_keeps_the_message_and_says_so(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing(ScriptedCustomer):
        async def reply(self, turn: CustomerTurn) -> Any:  # type: ignore[override]
            yield "Je... "
            raise ConnectionError("the model server went away")

    use_customer(monkeypatch, Failing)
    await handlers.on_chat_start()
    await say("Je suis vraiment désolée pour Filou.")
    assert rows(
        settings, "select role, content, status from coach_messages where role = 'trainee'"
    ) == [("trainee", "Je suis vraiment désolée pour Filou.", "complete")]
    assert any("n'a pas pu répondre" in t and "enregistré" in t for t in page.texts())
    assert page.steps()[-1]["name"].startswith("Note")  # the grade still came


async def test_a_line_typed_while_the_chat_starts_is_stored_and_answered(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The start is slow (a busy app right after start-up): the line arrives first.
    start = handlers.runtime.store.create_session

    async def slow_start(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.5)
        return await start(*args, **kwargs)

    monkeypatch.setattr(handlers.runtime.store, "create_session", slow_start)
    early = asyncio.create_task(say("Bonjour, je suis là pour vous aider."))
    await asyncio.sleep(0.05)
    await handlers.on_chat_start()
    await early
    assert rows(settings, "select role, content from coach_messages order by id")[:2] == [
        ("customer", handlers.runtime.catalog.get("fr-deuil-chien").opening),
        ("trainee", "Bonjour, je suis là pour vous aider."),
    ]
    assert not any("Choisissez un scénario" in t for t in page.texts())
    assert rows(settings, "select count(*) from coach_grades") == [(1,)]


async def test_a_failed_reply_offers_retry_and_the_retry_answers(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailsOnce(ScriptedCustomer):
        failed = False

        async def reply(self, turn: CustomerTurn) -> Any:  # type: ignore[override]
            if not self.failed:
                self.failed = True
                raise ConnectionError("refused")
            async for chunk in super().reply(turn):
                yield chunk

    use_customer(monkeypatch, FailsOnce)
    await handlers.on_chat_start()
    await say("Je suis vraiment désolée pour Filou.")
    failure = next(m for m in page.messages() if "n'a pas pu répondre" in m.get("output", ""))
    [retry] = [a for a in page.payloads("action") if a["name"] == "retry_reply"]
    assert retry["label"] == "Réessayer" and retry["forId"] == failure["id"]
    import chainlit as cl

    await handlers.on_retry(cl.Action(name="retry_reply", payload={}, id=retry["id"]))
    customer = rows(settings, "select role from coach_messages order by id")
    assert customer == [("customer",), ("trainee",), ("customer",)]  # the line once, answered
    await handlers.on_retry(cl.Action(name="retry_reply", payload={}))
    assert any("a déjà répondu" in t for t in page.texts())  # a stale button, said so


async def test_stop_keeps_the_line_and_marks_its_grade(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    speaking = asyncio.Event()

    class Slow(ScriptedCustomer):
        async def reply(self, turn: CustomerTurn) -> Any:  # type: ignore[override]
            yield "Je... "
            speaking.set()
            await asyncio.sleep(3600)

    use_customer(monkeypatch, Slow)
    await handlers.on_chat_start()
    turn = asyncio.create_task(say("Je regarde tout de suite."))
    await speaking.wait()
    turn.cancel()  # Chainlit's Stop cancels the message task, then calls on_stop
    await handlers.on_stop()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert rows(settings, "select turn, mode from coach_grades") == [(1, "ungraded")]
    assert page.steps()[-1]["name"] == "Non noté"
    assert "Arrêté avant la note" in page.steps()[-1]["output"]
    assert any(t.startswith("Arrêté. Votre message est enregistré") for t in page.texts())


async def test_a_grade_that_fails_is_shown_as_ungraded(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    invalid = {"criteria": {}, "deescalation": 99}
    chat = fake_chat(*([invalid] * 3))
    grader = Grader(
        settings,
        GraderModels(
            bind=lambda schema: bind_structured(chat, schema, "function_calling", 3),
            bounded=True,
        ),
    )
    monkeypatch.setattr(handlers.runtime, "_grader", grader)
    await handlers.on_chat_start()
    await say("Je suis désolée, je regarde votre commande.")
    step = page.steps()[-1]
    assert step["name"] == "Non noté"
    assert "Non noté" in step["output"] and "S'excuser" in step["output"]
    assert rows(settings, "select mode, score from coach_grades") == [("ungraded", None)]


async def test_hint_and_end_commands(page: Browser) -> None:
    import chainlit as cl

    await handlers.on_chat_start()
    await say("Calmez-vous.")
    await handlers.on_message(cl.Message(content="/hint", author="alice"))
    assert any("Indice" in t for t in page.texts())
    await handlers.on_message(cl.Message(content="/end", author="alice"))
    debrief = next(p for p in page.payloads("new_message") if "## Bilan" in p.get("output", ""))
    assert "Trois axes de progrès" in debrief["output"]
    # Hint and End are taken off the page once the session has ended.
    offered = [a["id"] for a in page.payloads("action") if a["name"] in ("hint", "end_session")]
    removed = {a["id"] for a in page.payloads("remove_action")}
    assert offered and set(offered) <= removed
    assert {e["type"] for e in page.payloads("element")} >= {"plotly", "file"}


async def test_sign_in_checks_the_password(page: Browser, settings: Settings) -> None:
    await Accounts(handlers.runtime.store).add("carol", "trainer", "long-enough-1")
    user = await handlers.sign_in("carol", "long-enough-1")
    # The role, and the credential stamp that ties the token to this password and role.
    assert user is not None and set(user.metadata) == {"role", "stamp"}
    assert user.metadata["role"] == "trainer" and user.metadata["stamp"]
    assert await handlers.sign_in("carol", "wrong-password") is None
    assert await handlers.sign_in("nobody", "long-enough-1") is None
    stored = rows(settings, "select password_hash from coach_users")[0][0]
    assert stored.startswith("scrypt$") and "long-enough-1" not in stored


async def test_profiles_follow_the_browser_language_and_the_role(page: Browser) -> None:
    trainee = Mock(metadata={"role": "trainee"})
    trainer = Mock(metadata={"role": "trainer"})
    french_first = await handlers.chat_profiles(trainee, "fr-FR")
    assert french_first[0].name.startswith("fr-") and french_first[-1].name.startswith("en-")
    assert (await handlers.chat_profiles(trainee, "en-GB"))[0].name.startswith("en-")
    assert handlers.DASHBOARD not in [p.name for p in french_first]
    # A trainer's home: the dashboard, first and chosen at sign-in.
    staff = await handlers.chat_profiles(trainer, "fr-FR")
    assert staff[0].name == handlers.DASHBOARD and staff[0].default
    assert not any(p.default for p in staff[1:])


async def test_oauth_identities_get_a_role(page: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    import chainlit as cl

    settings = handlers.runtime.settings.model_copy(update={"oauth_trainers": "Boss@Example.org"})
    monkeypatch.setattr(handlers.runtime, "settings", settings)
    trainer = await handlers.oauth_sign_in(
        "github", "t", {}, cl.User(identifier="boss@example.org")
    )
    trainee = await handlers.oauth_sign_in("github", "t", {}, cl.User(identifier="kim@example.org"))
    assert trainer is not None and trainer.metadata["role"] == "trainer"
    assert trainee is not None and trainee.metadata["role"] == "trainee"


async def test_a_trainer_sees_the_dashboard_and_opens_a_transcript(page: Browser) -> None:
    import chainlit as cl

    await handlers.on_chat_start()
    await say("Calmez-vous, quel est votre numéro de commande ?")
    session = cl.context.session
    session.chat_profile = handlers.DASHBOARD
    session.user.identifier, session.user.metadata = "tina", {"role": "trainer"}
    await handlers.on_chat_start()
    board = page.texts()[-1]
    assert board.startswith("## Tableau de bord formateur")
    assert "| alice | Monique, son chien Filou est mort |" in board
    (action,) = [a for a in page.payloads("action") if a["name"] == "open_session"]
    assert action["label"].startswith("Ouvrir\u00a0: alice")
    assert {e["name"] for e in page.payloads("element")} >= {"progress"}

    await handlers.open_session(cl.Action(name="open_session", payload=action["payload"]))
    transcript = page.texts()[-1]
    assert transcript.startswith("# Monique, son chien Filou est mort")
    assert "**Stagiaire**\u00a0: Calmez-vous, quel est votre numéro de commande ?" in transcript
    assert any(e["name"].endswith(".json") for e in page.payloads("element"))


async def test_a_trainee_cannot_open_a_transcript(page: Browser) -> None:
    import chainlit as cl

    await handlers.on_chat_start()
    await say("Bonjour.")
    (row,) = await handlers.runtime.store.list_sessions()
    await handlers.open_session(cl.Action(name="open_session", payload={"session": row.id}))
    assert page.texts()[-1].startswith("Seuls les formateurs peuvent ouvrir")  # said, not silent
    assert not any(t.startswith("# Monique") for t in page.texts())


async def test_lines_play_in_the_order_they_arrived() -> None:
    from bot.web import arrival

    played: list[str] = []
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    arrival.arrived("chat-1", first)
    arrival.arrived("chat-1", second)

    async def line(message_id: str) -> None:
        async with arrival.in_turn("chat-1", message_id):
            await asyncio.sleep(0.01)
            played.append(message_id)

    # The second line's handler gets going first (its database work was quicker).
    await asyncio.gather(line(second), line(first))
    assert played == [first, second]
    assert "chat-1" not in arrival._chats  # nothing kept once the lines are done


async def test_the_input_is_released_when_the_reply_ends_and_the_grade_follows(
    page: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chainlit as cl

    release = asyncio.Event()
    base = handlers.runtime.grader

    class SlowGrader(Grader):
        async def grade(self, *args: Any, **kwargs: Any) -> Any:
            await release.wait()
            return await base.grade(*args, **kwargs)

    class Waiting(ScriptedCustomer):
        async def reply(self, turn: CustomerTurn) -> Any:  # type: ignore[override]
            yield "Bon... je vous écoute."  # a model customer does not wait for the grade

    monkeypatch.setattr(handlers.runtime, "_grader", SlowGrader(base.settings, None))
    use_customer(monkeypatch, Waiting)
    await handlers.on_chat_start()
    message = cl.Message(content="Je suis désolée pour Filou.", author="alice", type="user_message")
    await handlers.on_message(message)  # returns with the reply shown, the grade pending
    assert any(t.startswith("Bon... je vous écoute.") for t in page.texts())
    assert page.steps()[-1]["name"] == "Notation…"
    release.set()
    await handlers.settled()
    assert page.steps()[-1]["name"].startswith("Note")


async def test_a_thread_is_named_after_the_scenario_from_its_first_interaction(
    page: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import chainlit as cl

    from bot.web.data_layer import CoachDataLayer
    from bot.web.element_store import ElementStore

    layer = CoachDataLayer(handlers.runtime.store.engine, ElementStore(tmp_path / "files"))
    monkeypatch.setattr("chainlit.data._data_layer", layer)
    alice = await layer.create_user(cl.User(identifier="alice"))
    assert alice is not None
    session = cl.context.session
    session.user.id = alice.id
    session.flush_method_queue = AsyncMock()
    await handlers.on_chat_start()
    # The first thing the trainee does is click Hint: Chainlit names the thread
    # after that interaction ("hint") and tells the page that name at once.
    await cl.context.emitter.init_thread("hint")
    (first,) = page.payloads("first_interaction")
    name = first["interaction"]
    assert name.startswith("Monique, son chien Filou est mort · ") and "hint" not in name
    assert rows(settings, "select name from threads") == [(name,)]
    await say("Calmez-vous, quel est votre numéro de commande ?")
    assert rows(settings, "select name from threads") == [(name,)]  # not the first reply


async def test_every_author_has_an_avatar(page: Browser) -> None:
    import httpx
    from chainlit.server import app

    authors = [p.name for p in handlers.runtime.catalog.personas.values()] + ["Coach"]
    assert any("," in a or not a.isascii() for a in authors)  # what Chainlit's route refuses
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for author in authors:
            response = await client.get(f"/avatars/{author}")
            assert response.status_code == 200, author
            assert response.headers["content-type"] == "image/svg+xml"
            assert f">{author[0].upper()}</text>" in response.text
        # The name is only drawn from, never echoed: markup in it stays out of the image.
        response = await client.get("/avatars/<script>alert(1)</script>")
        assert response.status_code == 200 and "<script" not in response.text


async def test_a_trainee_takes_back_a_reply_and_tries_another(
    page: Browser, settings: Settings
) -> None:
    """Retry a turn (issue 13): the button sits under the customer's answer, takes
    the reply back (kept, marked), puts the mood back, and the debrief lists it."""
    import chainlit as cl

    await handlers.on_chat_start()
    opening = [a for a in page.payloads("action") if a["name"] == "take_back"]
    assert opening == []  # nothing to take back under the opening line
    await say("Je suis sincèrement désolée pour Filou, mes condoléances.")
    calmer = page.payloads("set_sidebar_elements")[-1]["elements"][0]["props"]["mood"]
    await say("Ce n'est qu'un chien, madame.")
    [*_, offered] = [a for a in page.payloads("action") if a["name"] == "take_back"]
    assert offered["label"] == "Reprendre ma réponse"

    await handlers.on_take_back(cl.Action(name="take_back", payload={}, id=offered["id"]))
    assert any("Réponse 2 reprise" in t for t in page.texts())
    props = page.payloads("set_sidebar_elements")[-1]["elements"][0]["props"]
    assert props["mood"] == calmer
    statuses = rows(settings, "select status from coach_messages order by id")
    assert [s for (s,) in statuses][-2:] == ["retracted", "retracted"]

    await say("Je comprends, Filou comptait énormément pour vous.")
    await handlers.on_message(cl.Message(content="/end", author="alice"))
    debrief = next(p for p in page.payloads("new_message") if "## Bilan" in p.get("output", ""))
    assert "Réponses reprises" in debrief["output"]
    assert "Ce n'est qu'un chien" in debrief["output"]
    # The transcripts keep it, graded and marked.
    from bot.web import transcripts

    [(session_id,)] = rows(settings, "select id from coach_sessions")
    stored = await handlers.runtime.store.load(session_id)
    assert stored is not None
    data = transcripts.transcript(stored, handlers.runtime.catalog.get("fr-deuil-chien"))
    taken = [m for m in data["messages"] if m["status"] == "retracted"]
    assert [m["role"] for m in taken] == ["trainee", "customer"] and taken[0]["grade"]
    assert "(reprise)" in transcripts.transcript_markdown(data, "fr")
    await handlers.on_take_back(cl.Action(name="take_back", payload={}))
    assert any("Cette session est terminée" in t for t in page.texts())  # a stale button


async def test_a_grade_sits_under_the_trainees_message_above_the_reply_and_the_debrief(
    page: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chainlit as cl
    from chainlit.config import config

    class Ends(ScriptedCustomer):
        async def reply(self, turn: CustomerTurn) -> Any:  # type: ignore[override]
            yield "Bon. Au revoir."

    use_customer(monkeypatch, Ends)
    # One blocking phrase and she walks out: the first reply ends the session.
    persona = handlers.runtime.catalog.get("fr-deuil-chien")
    mood = persona.mood.model_copy(update={"walkout_at": persona.mood.start + 1})
    limited = persona.model_copy(update={"mood": mood})
    monkeypatch.setitem(handlers.runtime.catalog.personas, persona.id, limited)
    await handlers.on_chat_start()
    before = len(page.emit.call_args_list)
    message = cl.Message(content="Calmez-vous, madame.", author="alice", type="user_message")
    await config.code.on_message(message)  # through Chainlit's wrapper, as the socket calls it
    await handlers.settled()
    sent: dict[str, dict[str, Any]] = {}  # by id: a streamed reply is started, then sent
    for c in page.emit.call_args_list[before:]:
        if c.args and c.args[0] in ("new_message", "stream_start"):
            sent.setdefault(c.args[1]["id"], c.args[1])
    # The page lays out a tree: each step, then its children, in the order they
    # came; the trainee's message first, then the later top-level messages.
    shown: list[dict[str, Any]] = []

    def walk(parent: str | None) -> None:
        for step in sent.values():
            if step.get("parentId") == parent:
                shown.append(step)
                walk(step["id"])

    walk(message.id)
    walk(None)
    kinds = [
        "run"
        if s["type"] == "run"
        else "grade"
        if s["type"] == "tool"
        else "debrief"
        if "## Bilan" in s["output"]
        else "reply"
        if s["output"] == "Bon. Au revoir."
        else "other"
        for s in shown
    ]
    assert kinds[:3] == ["run", "grade", "reply"] and kinds[-1] == "debrief", kinds
    grade = shown[1]
    assert grade["metadata"]["avatarName"] == "Coach"


async def test_the_mood_panel_says_it_is_updating_then_shows_only_the_new_mood(
    page: Browser,
) -> None:
    await handlers.on_chat_start()
    await say("Calmez-vous, quel est votre numéro de commande ?")
    await say("Je suis vraiment désolée pour Filou.")
    panels = page.payloads("set_sidebar_elements")
    props = [p["elements"][0]["props"] for p in panels]
    assert [p["pending"] for p in props] == [False, True, False, True, False]
    assert props[1]["mood"] == props[0]["mood"] and props[1]["pendingText"].startswith("mise à")
    assert props[2]["mood"] > props[0]["mood"] and not props[2]["pending"]
    # Each update replaces the panel (a key of its own) with one meter, always
    # the same element: the page gathers every side element it was sent into its
    # side view, under the last one's name (a new one each time stacked them all
    # under "MoodMeter").
    assert len({p["key"] for p in panels}) == len(panels)
    assert all(len(p["elements"]) == 1 for p in panels)
    sent = [e for e in page.payloads("element") if e.get("display") == "side"]
    assert len(sent) == len(panels) and len({e["id"] for e in sent}) == 1
    assert {e["name"] for e in sent} == set(page.payloads("set_sidebar_title"))
    assert {e["name"] for e in sent} == {"Humeur du client"}


def test_the_mood_panel_element_is_found_under_each_languages_title() -> None:
    """The page loads a custom element from public/elements/<its name>.jsx."""
    from bot.i18n import LANGUAGES, t
    from bot.settings import PROJECT_ROOT

    elements = PROJECT_ROOT / "public" / "elements"
    for lang in LANGUAGES:
        path = elements / f"{t('mood.title', lang)}.jsx"
        assert path.resolve() == (elements / "MoodMeter.jsx").resolve(), lang
