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

from bot.debrief import EndReason
from bot.i18n import Language, t
from bot.personas import Persona
from bot.rubric import Grade
from bot.storage import StoredSession
from bot.web.chat_view import NONE, grade_markdown, grade_title
from bot.web.markup import inert

OUTCOMES: tuple[str, ...] = get_args(EndReason)


def transcript(stored: StoredSession, persona: Persona) -> dict[str, Any]:
    """The whole session as JSON-ready data: messages with their grades."""
    grades = {turn.message_id: turn for turn in stored.turns}
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
    }


def transcript_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def outcome_label(outcome: str | None, lang: Language) -> str | None:
    """A few words for how a session ended, None while it is still going."""
    return t(f"outcome_short.{outcome}", lang) if outcome in OUTCOMES else None


def transcript_markdown(data: dict[str, Any], lang: Language) -> str:
    lines = [
        f"# {data['persona_name']}",
        "",
        f"- {t('transcript.date', lang, date=data['started_at'])}",
        f"- {t('transcript.trainee', lang, name=inert(data['user'] or NONE))}",
        f"- {t('transcript.outcome', lang, outcome=outcome_label(data['outcome'], lang) or NONE)}",
        f"- {t('transcript.mood', lang, start=data['mood_start'], end=data['mood_end'])}",
        "",
    ]
    for m in data["messages"]:
        who = (
            data["persona_name"]
            if m["role"] == "customer"
            else t("transcript.trainee_speaker", lang)
        )
        content = inert(m["content"])
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
    return "\n".join(lines)


def transcript_filename(stem: str, when: datetime, extension: str) -> str:
    """``transcript-<stem>-<yyyymmdd-hhmm>.<extension>``: sorts by date, and
    says which scenario (or session) it is without opening it."""
    return f"transcript-{stem}-{when:%Y%m%d-%H%M}.{extension}"
