"""Trainers' corrections of the grader's verdicts, and the eval cases they become.

A trainer reading a transcript marks one criterion's verdict on one reply as
wrong, gives the right verdict and says why. The store keeps it
(``coach_corrections``, with the verdict the stored grade had); ``coach eval
export-corrections`` turns every corrected reply into a case in the datasets'
format (bot/cases.py): the reply, the conversation before it, the persona,
the language, and the corrected verdicts as ``expect``. So the grader's
mistakes become its regression tests.

What a trainer sends is checked here, whatever the page let them pick; the
web handler only adds who is asking.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any, get_args

from bot.conversation import Message
from bot.errors import CorrectionError
from bot.rubric import CRITERIA_BY_ID, Verdict
from bot.storage import CorrectionRow, Store, StoredSession

VERDICTS: tuple[str, ...] = get_args(Verdict)
MAX_COMMENT_CHARS = 2000


def parse_request(payload: Mapping[str, Any]) -> tuple[str, int, str, str, str]:
    """(session id, message id, criterion, verdict, comment) from what the page
    sent, or CorrectionError naming the first field that is wrong."""
    session = payload.get("session")
    if not isinstance(session, str) or not session or len(session) > 36:
        raise CorrectionError("session: missing or not a session id", "reply")
    message = payload.get("message")
    if isinstance(message, str) and message.isdigit():
        message = int(message)
    if not isinstance(message, int) or isinstance(message, bool) or message < 1:
        raise CorrectionError("message: missing or not a reply's id", "reply")
    criterion = payload.get("criterion")
    if not isinstance(criterion, str) or criterion not in CRITERIA_BY_ID:
        raise CorrectionError(
            "criterion: unknown; use one of the ids in bot/rubric.yaml", "criterion"
        )
    verdict = payload.get("verdict")
    if verdict not in VERDICTS:
        raise CorrectionError(f"verdict: must be one of {', '.join(VERDICTS)}", "verdict")
    comment = payload.get("comment")
    comment = comment.strip() if isinstance(comment, str) else ""
    if not comment:
        raise CorrectionError("comment: say why the verdict is wrong", "comment")
    if len(comment) > MAX_COMMENT_CHARS:
        raise CorrectionError(
            f"comment: longer than {MAX_COMMENT_CHARS} characters; shorten it",
            "comment_long",
            limit=MAX_COMMENT_CHARS,
        )
    assert isinstance(verdict, str)
    return session, message, criterion, verdict, comment


async def record(store: Store, payload: Mapping[str, Any], *, trainer: str) -> CorrectionRow:
    """Check what the page sent and store it as ``trainer``'s correction. The
    caller has checked that ``trainer`` may correct grades."""
    session, message, criterion, verdict, comment = parse_request(payload)
    return await store.add_correction(
        session_id=session,
        message_id=message,
        criterion=criterion,
        verdict=verdict,
        comment=comment,
        trainer=trainer,
    )


def history_before(stored: StoredSession, message_id: int) -> list[Message]:
    """The conversation as the grader saw it before the reply ``message_id``:
    messages with text, not taken back, a customer line cut short and asked
    again dropped."""
    before = [
        m for m in stored.messages if m.id < message_id and m.content and m.status != "retracted"
    ]
    kept = [
        m
        for i, m in enumerate(before)
        if not (m.role == "customer" and i + 1 < len(before) and before[i + 1].role == "customer")
    ]
    return [Message.model_validate({"role": m.role, "content": m.content}) for m in kept]


def correction_cases(
    corrections: Iterable[CorrectionRow],
    sessions: Mapping[str, StoredSession],
    personas: Collection[str],
) -> list[dict[str, Any]]:
    """One case per corrected reply (oldest correction first): a later
    correction of the same criterion replaces an earlier one. ``personas``:
    the persona ids known here (a case names its persona only if it is one)."""
    by_grade: dict[int, list[CorrectionRow]] = {}
    for row in corrections:
        by_grade.setdefault(row.grade_id, []).append(row)
    cases: list[dict[str, Any]] = []
    for rows in by_grade.values():
        first = rows[0]
        stored = sessions.get(first.session_id)
        if stored is None:
            continue
        # A reply taken back was graded all the same: its correction counts.
        replies = (*stored.turns, *stored.retracted)
        turn = next((t for t in replies if t.message_id == first.message_id), None)
        if turn is None:
            continue
        expect = {row.criterion: row.new_verdict for row in rows}
        notes = [
            f"{row.criterion}: {row.old_verdict} → {row.new_verdict} ({row.trainer}, "
            f"{row.created_at:%Y-%m-%d}): {row.comment}"
            for row in rows
        ]
        case: dict[str, Any] = {
            "id": f"correction-{first.session_id[:8]}-{turn.turn}",
            "language": stored.row.language,
        }
        if stored.row.persona_id in personas:
            case["persona"] = stored.row.persona_id
        case |= {
            "history": [m.model_dump() for m in history_before(stored, first.message_id)],
            "turn": turn.content,
            "expect": expect,
            "tags": ["correction"],
            "note": " | ".join(notes),
        }
        cases.append(case)
    return cases


async def export_cases(store: Store, personas: Collection[str]) -> list[dict[str, Any]]:
    """Every stored correction as cases (see :func:`correction_cases`)."""
    rows = await store.corrections()
    sessions: dict[str, StoredSession] = {}
    for session_id in dict.fromkeys(row.session_id for row in rows):
        stored = await store.load(session_id)
        if stored is not None:
            sessions[session_id] = stored
    return correction_cases(rows, sessions, personas)


def cases_jsonl(cases: Iterable[Mapping[str, Any]]) -> str:
    """One case per line, as the datasets under evals/ are written."""
    return "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
