"""A stored session as a transcript: JSON-ready data, and the JSON and Markdown
files the trainee downloads after the debrief (and trainers open from the
dashboard).

The dict is the one record both files are made from, so they always agree;
its keys and values are data (ISO dates, outcome codes), never UI words.
In the Markdown, what the trainee typed and what the models wrote is
escaped (bot/web/markup.py): a trainer reading it sees the text, never
markup a trainee slipped in (a forged customer line, grade, link or image).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, get_args

from bot import goals
from bot.corrections import MAX_COMMENT_CHARS, VERDICTS
from bot.debrief import Debrief, EndReason, build_debrief, hints_line
from bot.errors import CorrectionError
from bot.i18n import Language, format_datetime, t
from bot.personas import Persona
from bot.rubric import CRITERIA, CRITERIA_BY_ID, Grade
from bot.storage import CorrectionRow, StoredSession
from bot.web.chat_view import NONE, grade_markdown, grade_title
from bot.web.markup import inert

OUTCOMES: tuple[str, ...] = get_args(EndReason)


def transcript(stored: StoredSession, persona: Persona) -> dict[str, Any]:
    """The whole session as JSON-ready data: messages with their grades."""
    grades = {turn.message_id: turn for turn in (*stored.turns, *stored.retracted)}
    messages = []
    for m in stored.messages:
        entry: dict[str, Any] = {
            "role": m.role,
            "content": m.content,
            "status": m.status,
            "at": m.created_at.isoformat(timespec="seconds"),
        }
        turn = grades.get(m.id)
        if turn is not None:
            entry["turn"] = turn.turn
            entry["grade"] = turn.grade.model_dump(mode="json") if turn.grade else None
            entry["mood_before"], entry["mood_after"] = turn.mood_before, turn.mood_after
        messages.append(entry)
    row = stored.row
    return {
        "session": row.id,
        "user": row.user_id,
        "persona": persona.id,
        "persona_name": persona.name,
        "language": row.language,
        "backend": row.backend,
        "started_at": row.started_at.isoformat(timespec="seconds"),
        "ended_at": row.ended_at.isoformat(timespec="seconds") if row.ended_at else None,
        "outcome": row.end_reason,
        "mood_start": row.mood_start,
        "mood_end": row.mood,
        "messages": messages,
        # Each hint with how many replies had been sent when it was asked for.
        "hints": [
            {
                "after_turn": h.after_turn,
                "content": h.content,
                "at": h.created_at.isoformat(timespec="seconds"),
            }
            for h in stored.hints
        ],
    }


def stored_debrief(stored: StoredSession, persona: Persona) -> Debrief | None:
    """The debrief of a stored session that has ended (None while it goes on),
    as the trainee saw it at the end: for trainers reading it later."""
    row = stored.row
    if row.status != "ended" or row.end_reason not in OUTCOMES:
        return None
    turns = [
        (turn.content, turn.grade, turn.mood_after if turn.mood_after is not None else row.mood)
        for turn in stored.turns
    ]
    return build_debrief(
        outcome=row.end_reason,  # type: ignore[arg-type]
        language=persona.language,
        mood_start=row.mood_start,
        turns=turns,
        goals=goals.progress(persona.goals, persona.language, turns),
        hints=[hint.after_turn for hint in stored.hints],
        retracted=[(r.turn, r.content, r.grade) for r in stored.retracted],
    )


def transcript_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def outcome_label(outcome: str | None, lang: Language) -> str | None:
    """A few words for how a session ended, None while it is still going."""
    return t(f"outcome_short.{outcome}", lang) if outcome in OUTCOMES else None


def transcript_markdown(data: dict[str, Any], lang: Language) -> str:
    lines = [
        f"# {data['persona_name']}",
        "",
        f"- {t('transcript.date', lang, date=when(data['started_at'], lang))}",
        f"- {t('transcript.trainee', lang, name=inert(data['user'] or NONE))}",
        f"- {t('transcript.outcome', lang, outcome=outcome_label(data['outcome'], lang) or NONE)}",
        f"- {t('transcript.mood', lang, start=data['mood_start'], end=data['mood_end'])}",
        f"- {hints_line([h['after_turn'] for h in data.get('hints', [])], lang)}",
        "",
    ]
    hints: dict[int, list[str]] = {}
    for hint in data.get("hints", []):
        hints.setdefault(hint["after_turn"] + 1, []).append(hint["content"])

    def hint_lines(turn: int) -> list[str]:
        return [
            line
            for text in hints.pop(turn, [])
            for line in (t("hints_used.line", lang, turn=turn, text=inert(text)), "")
        ]

    for m in data["messages"]:
        if "turn" in m:
            lines += hint_lines(m["turn"])
        who = (
            data["persona_name"]
            if m["role"] == "customer"
            else t("transcript.trainee_speaker", lang)
        )
        content = inert(m["content"])
        if m["status"] == "retracted":
            content = t("transcript.taken_back", lang, content=content)
        lines += [t("transcript.line", lang, speaker=who, content=content), ""]
        grade = m.get("grade")
        if grade:
            parsed = Grade.model_validate(grade)
            title = grade_title(parsed, lang)
            before, after = m["mood_before"], m["mood_after"]
            lines += [f"> {t('transcript.grade', lang, title=title, before=before, after=after)}"]
            lines.append(">")
            lines += ["> " + line for line in grade_markdown(parsed, lang).splitlines()]
            lines.append("")
    for turn in sorted(hints):  # asked for after the last reply
        lines += hint_lines(turn)
    return "\n".join(lines)


def when(iso: str, lang: Language) -> str:
    """A moment the JSON keeps in ISO form, as ``lang`` writes it."""
    return format_datetime(datetime.fromisoformat(iso), lang)


def transcript_filename(stem: str, when: datetime, extension: str) -> str:
    """``transcript-<stem>-<yyyymmdd-hhmm>.<extension>``: sorts by date, and
    says which scenario (or session) it is without opening it."""
    return f"transcript-{stem}-{when:%Y%m%d-%H%M}.{extension}"


# --- corrections: a trainer marks a verdict as wrong --------------------------------------

#: How much of a reply the correction form's list shows.
REPLY_PREVIEW_CHARS = 80


def verdict_label(verdict: str, lang: Language) -> str:
    return t(f"corrections.verdicts.{verdict}", lang) if verdict in VERDICTS else verdict


def correction_props(stored: StoredSession, lang: Language) -> dict[str, Any]:
    """What the correction form (public/elements/VerdictCorrection.jsx) shows:
    the graded replies with their verdicts, the criteria and verdicts to pick.
    The replies are props, rendered as text by React, never as markup."""
    turns = []
    for turn in stored.turns:
        if turn.grade is None:
            continue
        text = turn.content
        if len(text) > REPLY_PREVIEW_CHARS:
            text = text[: REPLY_PREVIEW_CHARS - 1] + "…"
        verdicts = {cid: result.verdict for cid, result in turn.grade.criteria.items()}
        turns.append(
            {"message": turn.message_id, "turn": turn.turn, "text": text, "verdicts": verdicts}
        )
    keys = ("title", "reply", "criterion", "current", "verdict", "comment", "submit", "sent")
    return {
        "session": stored.row.id,
        "turns": turns,
        "criteria": [{"id": c.id, "label": c.label[lang]} for c in CRITERIA],
        "verdicts": [{"id": v, "label": verdict_label(v, lang)} for v in VERDICTS],
        "strings": {key: t(f"corrections.{key}", lang) for key in keys},
        "maxComment": MAX_COMMENT_CHARS,
    }


def correction_saved(row: CorrectionRow, lang: Language) -> str:
    return t(
        "corrections.saved",
        lang,
        turn=row.turn,
        criterion=criterion_label(row.criterion, lang),
        old=verdict_label(row.old_verdict, lang),
        new=verdict_label(row.new_verdict, lang),
    )


def correction_refusal(exc: CorrectionError, lang: Language) -> str:
    """The refusal in the trainer's language (the error's own text is the CLI's)."""
    params = dict(exc.params)
    if "verdict" in params:
        params["verdict"] = verdict_label(str(params["verdict"]), lang)
    key = exc.key if exc.key in ERROR_KEYS else "invalid"
    return t(f"corrections.error.{key}", lang, **params)


ERROR_KEYS = frozenset(
    ("invalid", "reply", "criterion", "verdict", "comment", "comment_long", "same")
)


def criterion_label(cid: str, lang: Language) -> str:
    criterion = CRITERIA_BY_ID.get(cid)
    return criterion.label[lang] if criterion else cid
