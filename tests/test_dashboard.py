"""The trainer dashboard's aggregation over a real SQLite database, and how it
is laid out."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from bot.i18n import NBSP
from bot.rubric import CRITERIA_BY_ID, CRITERION_IDS, CriterionResult, Grade
from bot.settings import Settings
from bot.storage import GradeRow, SessionRow, Store
from bot.web import dashboard
from bot.web.dashboard import Tally

NAMES = {"fr-deuil-chien": "Monique", "en-late-parcel": "Dan"}


def grade(score: int | None, mode: str = "hybrid", **verdicts: str) -> Grade:
    criteria = {
        cid: CriterionResult(verdict=verdicts.get(cid, "na"), source="check")  # type: ignore[arg-type]
        for cid in CRITERION_IDS
    }
    return Grade(criteria=criteria, score=score, mode=mode)  # type: ignore[arg-type]


class Db:
    def __init__(self, store: Store, path: str) -> None:
        self.store, self.path = store, path

    async def session(
        self,
        user: str | None,
        started: str,
        grades: list[Grade],
        persona: str = "fr-deuil-chien",
        ended: str | None = None,
    ) -> str:
        sid = await self.store.create_session(
            persona_id=persona, language="fr", backend="offline", mood=7, user_id=user
        )
        for turn, g in enumerate(grades, start=1):
            message = await self.store.add_message(sid, "trainee", f"reply {turn}")
            await self.store.add_grade(sid, message, turn, g, 7, 6)
        if ended:
            await self.store.end_session(sid, ended)
        # Fixed start times, so the order is the test's, not the clock's.
        with sqlite3.connect(self.path) as conn:
            conn.execute("update coach_sessions set started_at = ? where id = ?", (started, sid))
        return sid


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Db]:
    store = Store(settings.resolved_database_url)
    await store.init()
    try:
        yield Db(store, settings.resolved_database_url.split(":///", 1)[1])
    finally:
        await store.close()


async def test_the_dashboard_counts_replied_sessions_per_trainee(db: Db) -> None:
    first = await db.session(
        "alice",
        "2026-03-01 09:00:00",
        [grade(40, apologize="missed"), grade(61, apologize="met", reformulate="met")],
        ended="calm",
    )
    second = await db.session("alice", "2026-03-08 10:30:00", [grade(80, apologize="met")])
    ungraded = await db.session(
        "bob", "2026-03-05 12:00:00", [grade(None, "ungraded", apologize="missed")]
    )
    await db.session("bob", "2026-03-09 08:00:00", [])  # opened, never replied in

    data = await dashboard.load_dashboard(db.store)

    assert [r.id for r in data.sessions] == [second, ungraded, first]  # newest first
    assert data.scores == {first: 50, second: 80}  # round((40 + 61) / 2); ungraded: none
    assert data.progress == {
        "alice": [(datetime(2026, 3, 1, 9, 0), 50), (datetime(2026, 3, 8, 10, 30), 80)]
    }
    assert data.criteria["alice"]["apologize"] == Tally(met=2, missed=1)
    assert data.criteria["alice"]["reformulate"] == Tally(met=1, missed=0)
    assert data.criteria["bob"] == {
        cid: Tally(missed=1) if cid == "apologize" else Tally() for cid in CRITERION_IDS
    }


async def test_an_empty_database_gives_an_empty_dashboard(db: Db) -> None:
    data = await dashboard.load_dashboard(db.store)
    assert (data.sessions, data.scores, data.progress, data.criteria) == ([], {}, {}, {})
    text = dashboard.dashboard_markdown(data, NAMES, "fr")
    assert "Aucune session pour l'instant." in text and "Progression" not in text


def test_tallies_and_rates() -> None:
    assert Tally().rate is None
    assert Tally(met=2, missed=1).rate == 67
    assert Tally().add("met").add("na").add("missed").add("met") == Tally(met=2, missed=1)


def test_grades_stored_under_an_older_rubric_still_count() -> None:
    # Raw JSON, not Grade: a criterion since removed, a missing one, a malformed entry.
    rows = [
        GradeRow(
            session_id="s",
            score=70,
            grade={
                "criteria": {
                    "apologize": {"verdict": "met"},
                    "retired_criterion": {"verdict": "missed"},
                    "reformulate": "garbage",
                }
            },
        ),
        GradeRow(session_id="s", score=None, grade={}),
        GradeRow(session_id="elsewhere", score=10, grade={}),
    ]
    session = SessionRow(id="s", user_id=None, persona_id="fr-deuil-chien")
    tallies = dashboard.criterion_tallies([session], rows)
    assert tallies == {"–": {"apologize": Tally(met=1), "retired_criterion": Tally(missed=1)}}
    assert dashboard.session_scores(rows) == {"s": 70, "elsewhere": 10}
    # Only the rubric's criteria reach the table.
    table = dashboard.criteria_table(tallies, "en")
    assert table.splitlines()[2:] == [f"| {CRITERIA_BY_ID['apologize'].label['en']} | 100% |"]


async def test_the_tables_and_labels(db: Db) -> None:
    await db.session("alice", "2026-03-01 09:00:00", [grade(40, apologize="missed")], ended="calm")
    await db.session(None, "2026-03-02 09:00:00", [grade(90)], persona="en-late-parcel")
    data = await dashboard.load_dashboard(db.store)

    fr = dashboard.sessions_table(data.sessions, NAMES, data.scores, "fr").splitlines()
    assert fr[0] == "| Stagiaire | Scénario | Date | Score moyen | Issue |"
    assert fr[2:] == [
        "| – | Dan | 2026-03-02 09:00 | 90 | en cours |",
        "| alice | Monique | 2026-03-01 09:00 | 40 | apaisé et satisfait |",
    ]
    en = dashboard.sessions_table(data.sessions, NAMES, data.scores, "en")
    assert "| alice | Monique | 2026-03-01 09:00 | 40 | calm and satisfied |" in en

    criteria = dashboard.criteria_table(data.criteria, "fr").splitlines()
    assert criteria[0] == "| Critère | alice | – |"
    assert any(line.startswith("| S'excuser | 0% | – |") for line in criteria)

    alice = data.sessions[1]
    assert (
        dashboard.open_label(alice, NAMES, "fr") == f"Ouvrir{NBSP}: alice · Monique · 01/03 09:00"
    )
    assert dashboard.open_label(alice, NAMES, "en") == "Open: alice · Monique · 03-01 09:00"

    text = dashboard.dashboard_markdown(data, NAMES, "en")
    assert text.startswith("## Trainer dashboard\n\n### Sessions\n\n| Trainee |")
    assert "### Progress per trainee" in text
    figure = dashboard.progress_figure(data.progress, "en")
    assert [trace.name for trace in figure.data] == ["alice", "–"]
    assert list(figure.data[0].y) == [40]
