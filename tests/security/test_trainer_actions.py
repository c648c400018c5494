"""The trainers' actions against the real app, as a page would call them (the
correction form's callAction posts /project/action, the filters are a socket
event): a trainee who sends them, whatever the page showed her, is refused
and nothing is stored or sent; a trainer's go through."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tests.security.live_app import App

pytestmark = pytest.mark.security


async def graded_reply(app: App, page: Any, name: str) -> tuple[str, int]:
    """``name`` plays one graded reply: its session id and message id."""
    await page.connect(app.token(name))
    await page.start_chat()
    await page.wait_started()
    await page.say("Calmez-vous, quel est votre numéro de commande ?")
    with sqlite3.connect(app.data / "coach.db") as db:
        for _ in range(600):  # the grade is stored after the reply
            row = db.execute(
                "select s.id, g.message_id from coach_grades g join coach_sessions s"
                " on s.id = g.session_id where s.user_id = ? order by g.id desc",
                (name,),
            ).fetchone()
            if row:
                return str(row[0]), int(row[1])
            await asyncio.sleep(0.1)
    raise AssertionError("no grade stored")


def call(app: App, token: str, page: Any, name: str, payload: dict[str, Any]) -> int:
    body = {"sessionId": page.session_id, "action": {"name": name, "payload": payload}}
    return app.send("POST", "/project/action", token, json=body).status_code


def corrections(app: App) -> list[tuple[str, str]]:
    with sqlite3.connect(app.data / "coach.db") as db:
        return db.execute("select trainer, new_verdict from coach_corrections").fetchall()


async def test_a_trainee_cannot_mark_a_verdict_or_export(app: App, sockets: Any) -> None:
    page = sockets()
    session, message = await graded_reply(app, page, "alice")
    token = app.token("alice")
    payload = {
        "session": session,
        "message": message,
        "criterion": "no_blocking_phrase",
        "verdict": "met",
        "comment": "I grade myself.",
    }
    assert call(app, token, page, "correct_verdict", payload) == 200
    await page.wait_for(lambda: any("Only trainers" in o for o in page.outputs()))
    assert corrections(app) == []
    before = sum(1 for event, _ in page.events if event == "element")
    assert call(app, token, page, "export_dashboard", {}) == 200
    await page.wait_for(lambda: sum("Only trainers can export" in o for o in page.outputs()) == 1)
    assert sum(1 for event, _ in page.events if event == "element") == before  # no file
    # The filters of a dashboard she cannot open: refused too.
    board = sockets()
    await board.connect(token, profile="trainer-dashboard")
    await board.start_chat()
    await board.wait_started()
    await board.client.emit("chat_settings_change", {"trainee": "bob"})
    await board.wait_for(lambda: any("Only trainers" in o for o in board.outputs()))
    assert not any(o.startswith("## Trainer dashboard") for o in board.outputs())


async def test_a_trainers_correction_goes_through_the_real_app(app: App, sockets: Any) -> None:
    session, message = await graded_reply(app, sockets(), "bob")
    trainer = sockets()
    token = app.token("tina")
    await trainer.connect(token, profile="trainer-dashboard")
    await trainer.start_chat()
    await trainer.wait_started()
    payload = {
        "session": session,
        "message": message,
        "criterion": "no_blocking_phrase",
        "verdict": "met",
        "comment": "Quoted, not said.",
    }
    assert call(app, token, trainer, "correct_verdict", payload) == 200
    await trainer.wait_for(lambda: any(o.startswith("Correction saved") for o in trainer.outputs()))
    assert corrections(app) == [("tina", "met")]
    # A session id that is no page of hers: refused (Chainlit answers 500 for an
    # unknown one), and nothing more is stored.
    assert call(app, token, sockets_page_of(trainer), "correct_verdict", payload) >= 400
    assert corrections(app) == [("tina", "met")]


def sockets_page_of(page: Any) -> Any:
    class Other:
        session_id = "00000000-0000-0000-0000-000000000000"

    return Other()
