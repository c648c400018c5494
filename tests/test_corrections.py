"""Trainers' corrections of verdicts: stored through the store (SQLite here,
PostgreSQL in test_postgres.py), checked field by field, and exported as eval
cases that `coach eval --dataset` runs."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot import corrections
from bot.cases import parse_cases
from bot.errors import CorrectionError
from bot.events import GradeReady, TraineeSaid
from bot.runtime import Runtime
from bot.storage import Store

CALM_DOWN = "Calmez-vous, quel est votre numéro de commande ?"
SORRY = "Je suis sincèrement désolée pour Filou, je comprends votre peine."


async def graded_session(
    runtime: Runtime, *lines: str, user: str = "alice"
) -> tuple[str, list[int]]:
    """A real offline session: its id and the message id of each trainee line."""
    engine = runtime.engine(runtime.catalog.get("fr-deuil-chien"), user_id=user)
    await engine.start(thread_id=str(uuid.uuid4()))
    ids = []
    for line in lines:
        async for event in engine.turn(line):
            if isinstance(event, TraineeSaid):
                ids.append(event.message_id)
            assert not isinstance(event, GradeReady) or event.grade.mode != "ungraded"
    assert engine.session_id is not None
    return engine.session_id, ids


def request(session: str, message: int, **fields: Any) -> dict[str, Any]:
    return {
        "session": session,
        "message": message,
        "criterion": "no_blocking_phrase",
        "verdict": "met",
        "comment": "« Calmez-vous » was quoted, not said.",
    } | fields


async def test_a_correction_is_stored_with_the_grades_own_verdict(offline: Runtime) -> None:
    session, (_, second) = await graded_session(offline, SORRY, CALM_DOWN)
    row = await corrections.record(offline.store, request(session, second), trainer="tina")
    assert (row.turn, row.criterion, row.old_verdict, row.new_verdict) == (
        2,
        "no_blocking_phrase",
        "missed",
        "met",
    )
    assert row.trainer == "tina" and row.comment.startswith("« Calmez-vous »")
    (stored,) = await offline.store.corrections()
    assert (stored.session_id, stored.message_id, stored.grade_id) == (
        session,
        second,
        row.grade_id,
    )
    assert stored.created_at is not None
    assert [r.id for r in await offline.store.corrections([session])] == [stored.id]
    assert await offline.store.corrections(["another"]) == []


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"criterion": "made_up"}, "criterion"),
        ({"criterion": None}, "criterion"),
        ({"verdict": "excellent"}, "verdict"),
        ({"comment": "   "}, "comment"),
        ({"comment": "x" * 2001}, "comment_long"),
        ({"message": "12; drop table"}, "reply"),
        ({"message": True}, "reply"),
        ({"session": ["not", "a", "string"]}, "reply"),
    ],
)
def test_what_the_page_sends_is_checked_field_by_field(fields: dict[str, Any], key: str) -> None:
    with pytest.raises(CorrectionError) as caught:
        corrections.parse_request(request("s", 1) | fields)
    assert caught.value.key == key and "\n" not in str(caught.value)


async def test_a_correction_must_apply_to_a_stored_grade(offline: Runtime) -> None:
    session, (message,) = await graded_session(offline, CALM_DOWN)
    other, _ = await graded_session(offline, SORRY, user="bob")
    refusals = [
        (request(session, message, verdict="missed"), "same"),  # what the grade says already
        (request(other, message), "reply"),  # a reply of another session
        (request(session, message + 1000), "reply"),
    ]
    for payload, key in refusals:
        with pytest.raises(CorrectionError) as caught:
            await corrections.record(offline.store, payload, trainer="tina")
        assert caught.value.key == key
    assert await offline.store.corrections() == []


async def test_corrections_become_cases_in_the_datasets_format(offline: Runtime) -> None:
    session, (first, second) = await graded_session(offline, SORRY, CALM_DOWN)
    await corrections.record(offline.store, request(session, second), trainer="tina")
    await corrections.record(
        offline.store,
        request(
            session,
            second,
            criterion="apologize",
            verdict="missed",
            comment="No apology in this reply.",
        ),
        trainer="tina",
    )
    # A later correction of the same criterion wins.
    await corrections.record(
        offline.store, request(session, second, comment="Quoted: not blocking."), trainer="sam"
    )
    await corrections.record(
        offline.store,
        request(
            session, first, criterion="apologize", verdict="missed", comment="Said, but not meant."
        ),
        trainer="tina",
    )
    cases = await corrections.export_cases(offline.store, set(offline.catalog.personas))
    assert [c["expect"] for c in cases] == [
        {"no_blocking_phrase": "met", "apologize": "missed"},
        {"apologize": "missed"},
    ]
    late = cases[0]
    opening = offline.catalog.get("fr-deuil-chien").opening
    assert late["turn"] == CALM_DOWN and late["persona"] == "fr-deuil-chien"
    assert late["language"] == "fr" and late["tags"] == ["correction"]
    assert late["history"][0] == {"role": "customer", "content": opening}
    assert [m["role"] for m in late["history"]] == ["customer", "trainee", "customer"]
    assert late["history"][1]["content"] == SORRY
    assert "tina" in late["note"] and "sam" in late["note"]
    parsed = parse_cases(corrections.cases_jsonl(cases), "export", offline.catalog)
    assert [c.id for c in parsed] == [c["id"] for c in cases]
    # A persona no longer in the catalogue: the case keeps its language only.
    orphan = await corrections.export_cases(offline.store, set())
    assert "persona" not in orphan[0] and orphan[0]["language"] == "fr"


def coach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["coach", *args], capture_output=True, text=True, timeout=180, check=False
    )


async def test_export_then_eval_runs_the_corrections(offline: Runtime, tmp_path: Path) -> None:
    session, (message,) = await graded_session(offline, CALM_DOWN)
    await corrections.record(offline.store, request(session, message), trainer="tina")
    url = offline.settings.resolved_database_url
    out = tmp_path / "corrections.jsonl"
    exported = coach("eval", "export-corrections", "--db", url, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.strip() == f"note: wrote 1 case to {out}"
    assert out.stat().st_mode & 0o077 == 0  # trainees' words: the owner's only
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["expect"] == {"no_blocking_phrase": "met"}
    to_stdout = coach("eval", "export-corrections", "--db", url)
    folder = one_line_error(
        coach("eval", "export-corrections", "--db", url, "--out", str(tmp_path))
    )
    assert "is a folder; give a file name" in folder
    assert to_stdout.returncode == 0 and to_stdout.stdout == out.read_text(encoding="utf-8")

    run = coach("eval", "--dataset", str(out), "--checks-only", "--json", "--no-reports")
    assert run.returncode == 0, run.stderr
    criteria = json.loads(run.stdout)["metrics"]["fr"]["criteria"]
    # The checks still say "missed": the correction is the regression test they now fail.
    assert criteria["no_blocking_phrase"]["accuracy"] == 0.0


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in run.stderr
    return lines[0]


async def test_export_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "coach.db"
    error = one_line_error(
        coach("eval", "export-corrections", "--db", f"sqlite+aiosqlite:///{missing}")
    )
    assert f"no database at {missing}" in error and not missing.parent.exists()
    assert "cannot use database URL" in one_line_error(
        coach("eval", "export-corrections", "--db", "nonsense://x")
    )
    empty = tmp_path / "empty.db"
    store = Store(f"sqlite+aiosqlite:///{empty}")
    await store.init()
    await store.close()
    url = f"sqlite+aiosqlite:///{empty}"
    assert "no corrections in the database" in one_line_error(
        coach("eval", "export-corrections", "--db", url)
    )


async def test_a_reply_taken_back_stays_out_of_the_case_and_the_dashboard(
    offline: Runtime,
) -> None:
    from bot.web import dashboard

    engine = offline.engine(offline.catalog.get("fr-deuil-chien"), user_id="alice")
    await engine.start(thread_id=str(uuid.uuid4()))
    _ = [e async for e in engine.turn(CALM_DOWN)]
    await engine.take_back()
    kept = [e async for e in engine.turn(SORRY)]
    message = next(e.message_id for e in kept if isinstance(e, TraineeSaid))
    assert engine.session_id is not None
    payload = request(engine.session_id, message, criterion="apologize", verdict="missed")
    await corrections.record(offline.store, payload, trainer="tina")
    (case,) = await corrections.export_cases(offline.store, set(offline.catalog.personas))
    assert case["turn"] == SORRY and case["id"].endswith("-1")
    assert [m["role"] for m in case["history"]] == ["customer"]  # not the reply taken back
    data = await dashboard.load_dashboard(offline.store)
    assert data.criteria["alice"]["no_blocking_phrase"].missed == 0  # its grade is out too
