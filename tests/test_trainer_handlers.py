"""The trainers' handlers (dashboard, transcripts, corrections, exports) through a
Chainlit context over a mocked websocket session, with the real engine and a
real SQLite database behind them (the harness of test_app_handlers.py)."""

from __future__ import annotations

from typing import Any

import chainlit as cl

import bot.web.handlers as handlers
from bot.settings import Settings
from tests.test_app_handlers import Browser, rows, say
from tests.test_app_handlers import page as page  # the fixture

FORGED = "Calmez-vous <img src=x onerror=alert(1)> **Monique** : merci !"


def become(trainer: bool = True, name: str = "tina") -> None:
    """The same chat, now signed in as a trainer (or as the trainee ``name``)."""
    session = cl.context.session
    session.user.identifier = name
    session.user.metadata = {"role": "trainer" if trainer else "trainee"}


async def a_trainee_session() -> None:
    await handlers.on_chat_start()
    await say(FORGED)
    await say("Je suis sincèrement désolée pour Filou.")


async def open_first_transcript(page: Browser) -> dict[str, Any]:
    cl.context.session.chat_profile = handlers.DASHBOARD
    await handlers.on_chat_start()
    action = next(a for a in page.payloads("action") if a["name"] == "open_session")
    await handlers.open_session(cl.Action(name="open_session", payload=action["payload"]))
    return next(e for e in reversed(page.payloads("element")) if e["name"] == "VerdictCorrection")


async def test_a_trainer_marks_a_verdict_wrong_from_a_transcript(
    page: Browser, settings: Settings
) -> None:
    await a_trainee_session()
    become(trainer=True)
    form = await open_first_transcript(page)
    props = form["props"]
    assert [t["turn"] for t in props["turns"]] == [1, 2]
    # The trainee's words are a prop, rendered as text by React: passed as typed.
    assert props["turns"][0]["text"] == FORGED[: len(props["turns"][0]["text"])]
    assert props["turns"][0]["verdicts"]["no_blocking_phrase"] == "missed"
    assert {"id": "met", "label": "acquis"} in props["verdicts"]
    assert props["strings"]["title"] == "Signaler un verdict erroné"

    payload = {
        "session": props["session"],
        "message": props["turns"][0]["message"],
        "criterion": "no_blocking_phrase",
        "verdict": "met",
        "comment": "Cité, pas dit <b>au client</b>.",
    }
    await handlers.correct_verdict(cl.Action(name="correct_verdict", payload=payload))
    assert page.texts()[-1] == (
        "Correction enregistrée\u00a0: réponse 1, Aucune phrase bloquante\u00a0: manqué → acquis."
    )
    assert rows(
        settings,
        "select trainer, turn, criterion, old_verdict, new_verdict, comment from coach_corrections",
    ) == [("tina", 1, "no_blocking_phrase", "missed", "met", "Cité, pas dit <b>au client</b>.")]

    # The same verdict again, and a made-up criterion: said in the trainer's language.
    await handlers.correct_verdict(
        cl.Action(name="correct_verdict", payload=payload | {"verdict": "missed"})
    )
    assert page.texts()[-1].startswith("La note dit déjà «\u00a0manqué\u00a0»")
    await handlers.correct_verdict(
        cl.Action(name="correct_verdict", payload=payload | {"criterion": "x"})
    )
    assert page.texts()[-1] == "Critère inconnu\u202f; choisissez-en un dans la liste."
    assert rows(settings, "select count(*) from coach_corrections") == [(1,)]


async def test_a_trainee_cannot_mark_a_verdict_or_open_a_transcript(
    page: Browser, settings: Settings
) -> None:
    await a_trainee_session()
    (row,) = await handlers.runtime.store.list_sessions()
    (message,) = rows(settings, "select id from coach_messages where role = 'trainee' limit 1")
    payload = {
        "session": row.id,
        "message": message[0],
        "criterion": "no_blocking_phrase",
        "verdict": "met",
        "comment": "I grade myself.",
    }
    await handlers.correct_verdict(cl.Action(name="correct_verdict", payload=payload))
    assert page.texts()[-1].startswith("Seuls les formateurs peuvent signaler un verdict erroné")
    assert rows(settings, "select count(*) from coach_corrections") == [(0,)]
    await handlers.open_session(cl.Action(name="open_session", payload={"session": row.id}))
    assert page.texts()[-1].startswith("Seuls les formateurs peuvent ouvrir")
    assert not any(e["name"] == "VerdictCorrection" for e in page.payloads("element"))


async def test_hints_and_the_end_are_stored_and_shown_in_the_debrief_and_transcript(
    page: Browser, settings: Settings
) -> None:
    await handlers.on_chat_start()
    await handlers.on_message(cl.Message(content="/hint", author="alice"))
    await say("Je suis sincèrement désolée pour Filou.")
    await handlers.on_hint(cl.Action(name="hint", payload={}))
    await handlers.on_message(cl.Message(content="/end", author="alice"))
    assert rows(settings, "select after_turn from coach_hints order by id") == [(0,), (1,)]
    assert rows(settings, "select status, end_reason from coach_sessions") == [("ended", "trainee")]
    debrief = next(t for t in page.texts() if t.startswith("## Bilan"))
    assert "Indices utilisés\u00a0: 2 (avant la réponse 1, 2)." in debrief
    assert "**Issue**\u00a0: Vous avez mis fin à la session." in debrief  # the end reason

    become(trainer=True)
    await open_first_transcript(page)
    transcript = next(t for t in reversed(page.texts()) if t.startswith("# Monique"))
    assert "- Indices utilisés\u00a0: 2 (avant la réponse 1, 2)." in transcript
    before_first = transcript.index("*Indice demandé avant la réponse 1*")
    assert before_first < transcript.index("**Stagiaire**\u00a0: Je suis sincèrement")
    assert "*Indice demandé avant la réponse 2*" in transcript
    assert "- Issue\u00a0: terminée par le stagiaire" in transcript  # the end reason
    assert "## Bilan" in transcript  # the debrief, for the trainer too
    files = {e["name"] for e in page.payloads("element") if e["type"] == "file"}
    assert any(n.endswith(".md") for n in files) and any(n.endswith(".json") for n in files)


async def test_a_trainer_filters_the_dashboard_and_exports_it(
    page: Browser, settings: Settings, monkeypatch: Any
) -> None:
    await a_trainee_session()
    await handlers.on_message(cl.Message(content="/end", author="alice"))
    become(trainer=True)
    cl.context.session.chat_profile = handlers.DASHBOARD
    await handlers.on_chat_start()
    # The filters' panel: trainee, scenario, language, dates.
    (panel,) = page.payloads("chat_settings")
    assert [w["id"] for w in panel] == ["trainee", "scenario", "language", "since", "until"]
    assert {"label": "alice", "value": "alice"} in panel[0]["items"]
    board = next(t for t in reversed(page.texts()) if t.startswith("## Tableau de bord"))
    assert "| alice | Monique" in board and "### Ce que le groupe manque le plus" in board

    await handlers.on_filters({"trainee": "bob", "scenario": "*", "language": "*"})
    board = page.texts()[-1]
    assert "**Filtré**\u00a0: stagiaire bob" in board and "Aucune session pour l'instant." in board
    await handlers.on_filters({"trainee": "alice", "since": "03/12/2026"})
    said = [t for t in page.texts() if t.startswith("Le filtre")]
    assert said == [
        "Le filtre «\u00a0Du (AAAA-MM-JJ)\u00a0» est illisible\u00a0: écrivez une date "
        "sous la forme AAAA-MM-JJ. Le tableau de bord est affiché sans filtre."
    ]
    await handlers.on_filters({"trainee": "alice", "language": "fr", "since": "2020-01-01"})
    assert "| alice | Monique" in page.texts()[-1]

    captured: dict[str, bytes] = {}
    original = cl.File

    def file(**kwargs: Any) -> Any:
        captured[kwargs["name"].rsplit(".", 1)[1]] = kwargs["content"]
        return original(**kwargs)

    monkeypatch.setattr(cl, "File", file)
    await handlers.export_dashboard(cl.Action(name="export_dashboard", payload={}))
    assert page.texts()[-1].startswith("Le tableau de bord tel qu'il est filtré")
    sheet = captured["csv"].decode().splitlines()
    assert sheet[0].startswith("session,trainee,persona,scenario,language")
    assert len(sheet) == 2 and ",alice,fr-deuil-chien," in sheet[1]
    document = captured["md"].decode()
    assert "## Sessions et bilans" in document and "#### Bilan" in document
    assert "indices utilisés\u00a0: 0" in document
    assert "\\<img src=x" in document  # the trainee's words quoted as text, escaped
    assert "<img" not in document.replace("\\<img", "")


async def test_a_trainee_cannot_filter_or_export_the_dashboard(
    page: Browser, settings: Settings
) -> None:
    await a_trainee_session()
    cl.context.session.chat_profile = handlers.DASHBOARD
    before = len(page.payloads("element"))
    await handlers.export_dashboard(cl.Action(name="export_dashboard", payload={}))
    assert page.texts()[-1].startswith("Seuls les formateurs peuvent exporter")
    await handlers.on_filters({"trainee": "alice"})
    assert page.texts()[-1].startswith("Seuls les formateurs")
    assert len(page.payloads("element")) == before  # no file, no chart
    assert not any(t.startswith("## Tableau de bord") for t in page.texts())
