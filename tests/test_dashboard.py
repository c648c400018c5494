"""The trainer dashboard's aggregation over a real SQLite database, and how it
is laid out."""

from __future__ import annotations

import csv
import io
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
from tests.security.test_transcripts_escape import RENDER

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
            persona_id=persona, language=persona[:2], backend="offline", mood=7, user_id=user
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
    assert fr[0] == "| Stagiaire | Scénario | Date | Score moyen | Issue | Indices |"
    assert fr[2:] == [
        "| – | Dan | 2 mars 2026, 09:00 | 90 | en cours | 0 |",
        "| alice | Monique | 1 mars 2026, 09:00 | 40 | apaisé et satisfait | 0 |",
    ]
    en = dashboard.sessions_table(data.sessions, NAMES, data.scores, "en")
    assert "| alice | Monique | 1 Mar 2026, 09:00 | 40 | calm and satisfied | 0 |" in en

    criteria = dashboard.criteria_table(data.criteria, "fr").splitlines()
    assert criteria[0] == "| Critère | alice | – |"
    assert any(line.startswith("| S'excuser | 0% | – |") for line in criteria)

    alice = data.sessions[1]
    assert (
        dashboard.open_label(alice, NAMES, "fr") == f"Ouvrir{NBSP}: alice · Monique · 1 mars, 09:00"
    )
    assert dashboard.open_label(alice, NAMES, "en") == "Open: alice · Monique · 1 Mar, 09:00"

    text = dashboard.dashboard_markdown(data, NAMES, "en")
    assert text.startswith("## Trainer dashboard\n\n### Sessions\n\n| Trainee |")
    assert "### Progress per trainee" in text
    figure = dashboard.progress_figure(data.progress, "en")
    assert [trace.name for trace in figure.data] == ["alice", "–"]
    assert list(figure.data[0].y) == [40]


# --- filters, progress per criterion, the cohort, corrections, exports (issue 13) -------------


async def three_sessions(db: Db) -> tuple[str, str, str]:
    early = await db.session(
        "alice",
        "2026-03-01 09:00:00",
        [grade(40, apologize="missed"), grade(50, apologize="missed", reformulate="met")],
        ended="walkout",
    )
    late = await db.session("alice", "2026-03-08 10:30:00", [grade(80, apologize="met")])
    other = await db.session(
        "bob", "2026-03-05 12:00:00", [grade(30, apologize="missed")], persona="en-late-parcel"
    )
    return early, late, other


async def test_progress_per_criterion_and_the_cohort(db: Db) -> None:
    await three_sessions(db)
    data = await dashboard.load_dashboard(db.store)
    # Alice started at 0% on apologising and is at 100% now; reformulating stayed at 100%.
    assert data.criterion_progress["alice"]["apologize"] == (0, 100)
    assert data.criterion_progress["alice"]["reformulate"] == (100, 100)
    assert data.criterion_progress["bob"] == {"apologize": (0, 0)}
    table = dashboard.criteria_table(data.criteria, "en", data.criterion_progress)
    apologize = CRITERIA_BY_ID["apologize"].label["en"]
    assert f"| {apologize} | 33% (0% → 100%) | 0% |" in table.splitlines()
    # The group misses apologising most: 1 met of 4, both trainees more missed than met.
    first = data.cohort[0]
    assert (first.criterion, first.tally, first.struggling, first.trainees) == (
        "apologize",
        Tally(met=1, missed=3),
        2,
        2,
    )
    cohort = dashboard.cohort_table(data.cohort, "fr").splitlines()
    assert cohort[0].startswith("| Critère | Acquis | Manqué |")
    assert cohort[2] == f"| {CRITERIA_BY_ID['apologize'].label['fr']} | 25% | 3/4 | 2/2 |"
    text = dashboard.dashboard_markdown(data, NAMES, "fr")
    assert "### Ce que le groupe manque le plus" in text
    assert "### Corrections du correcteur\n\nAucune correction pour l'instant." in text


async def test_the_filters(db: Db) -> None:
    early, late, other = await three_sessions(db)

    async def kept(**values: str) -> list[str]:
        data = await dashboard.load_dashboard(db.store, dashboard.parse_filters(values))
        return [r.id for r in data.sessions]

    assert await kept() == [late, other, early]
    assert await kept(trainee="alice") == [late, early]
    assert await kept(scenario="en-late-parcel") == [other]
    assert await kept(language="fr", trainee="*") == [late, early]
    assert await kept(since="2026-03-05") == [late, other]
    assert await kept(until="2026-03-05T23:59:00.000Z") == [other, early]  # a picker's value
    assert await kept(since="2026-03-02", until="2026-03-07", trainee="alice") == []
    filtered = await dashboard.load_dashboard(db.store, dashboard.parse_filters({"trainee": "bob"}))
    assert set(filtered.criteria) == {"bob"} and [c.criterion for c in filtered.cohort][:1] == [
        "apologize"
    ]
    # Every choice stays offered whatever is filtered.
    assert filtered.choices == {
        "trainee": ["alice", "bob"],
        "scenario": ["en-late-parcel", "fr-deuil-chien"],
        "language": ["en", "fr"],
    }
    line = dashboard.filters_line(filtered.filters, NAMES, "en")
    assert line == "**Filtered**: trainee bob"
    widgets = {w.id: w for w in dashboard.filter_widgets(filtered, NAMES, "en")}
    assert widgets["trainee"].items == {"All": "*", "alice": "alice", "bob": "bob"}
    assert (
        widgets["trainee"].initial == "bob" and widgets["scenario"].items["Dan"] == "en-late-parcel"
    )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"since": "01/03/2026"}, "since"),
        ({"until": "soon"}, "until"),
        ({"since": "2026-03-09", "until": "2026-03-01"}, "order"),
        ({"language": "de"}, "language"),
        ({"trainee": ["alice"]}, "trainee"),
    ],
)
def test_a_filter_that_cannot_be_read_is_named(values: dict[str, object], field: str) -> None:
    with pytest.raises(dashboard.FilterError) as caught:
        dashboard.parse_filters(values)
    assert caught.value.field == field
    said = dashboard.filter_refusal(caught.value, "fr")
    assert said.startswith("Le filtre «") and "\n" not in said


async def test_hints_corrections_and_the_exports(db: Db) -> None:
    early, late, _ = await three_sessions(db)
    await db.store.add_hint(early, 0, "Commencez par vous excuser.")
    await db.store.add_hint(early, 1, "Reformulez.")
    with sqlite3.connect(db.path) as conn:
        (message,) = conn.execute(
            "select message_id from coach_grades where session_id = ? and turn = 1", (early,)
        ).fetchone()
    await db.store.add_correction(
        session_id=early,
        message_id=message,
        criterion="apologize",
        verdict="met",
        comment="She said sorry | [click](http://evil.example) <b>",
        trainer="tina",
    )
    await db.store.create_session(  # a trainee named like a formula
        persona_id="fr-deuil-chien", language="fr", backend="offline", mood=7, user_id="=1+1"
    )
    formula = await db.session(
        '=HYPERLINK("http://evil.example")', "2026-03-09 08:00:00", [grade(10)]
    )
    data = await dashboard.load_dashboard(db.store)
    assert data.hints == {early: 2}
    text = dashboard.dashboard_markdown(data, NAMES, "en")
    (row,) = [line for line in text.splitlines() if "tina" in line]
    html = RENDER.render(
        dashboard.corrections_table(data.corrections, {early: data.sessions[-1]}, "en")
    )
    assert "<a " not in html and "<b>" not in html and html.count("<td>") == 7
    assert "| tina | alice | 1 |" in row and "missed → met" in row

    sheet = list(csv.reader(io.StringIO(dashboard.sessions_csv(data, NAMES))))
    header, rows = sheet[0], {r[0]: dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]}
    assert header[:12] == [
        "session",
        "trainee",
        "persona",
        "scenario",
        "language",
        "started_at",
        "ended_at",
        "outcome",
        "replies",
        "average_score",
        "hints_used",
        "corrections",
    ]
    assert rows[early]["hints_used"] == "2" and rows[early]["corrections"] == "1"
    assert rows[early]["outcome"] == "walkout" and rows[early]["apologize_met_rate"] == "0"
    assert rows[early]["replies"] == "2" and rows[late]["ended_at"] == ""
    assert rows[formula]["trainee"].startswith("'=HYPERLINK")  # text, not a formula

    document = dashboard.export_markdown(
        data, NAMES, {early: "## Debrief\n\n### Strengths\n\nx"}, "en"
    )
    assert document.startswith("## Trainer dashboard")
    assert "## Sessions and debriefs" in document
    assert "### alice · Monique · 1 Mar 2026, 09:00\n\nwalked out · hints used: 2" in document
    assert "#### Debrief\n\n##### Strengths" in document
