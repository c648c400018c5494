"""What the web app shows, as plain data: markdown, element props, figures, exports.

Pure functions, so the Chainlit handlers stay thin and this stays testable.
UI strings follow the browser's language; the conversation (customer lines,
feedback, better replies) stays in the persona's language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import plotly.graph_objects as go

from bot.debrief import Debrief
from bot.personas import MOOD_MAX, Persona, mood_band
from bot.rubric import CRITERIA_BY_ID, Grade
from bot.storage import SessionRow, StoredSession

UI = Literal["fr", "en"]

STRINGS: dict[str, dict[UI, str]] = {
    "mood": {"fr": "Humeur du client", "en": "Customer mood"},
    "calm": {"fr": "calme", "en": "calm"},
    "uneasy": {"fr": "méfiant", "en": "uneasy"},
    "upset": {"fr": "contrarié", "en": "upset"},
    "angry": {"fr": "en colère", "en": "angry"},
    "furious": {"fr": "furieux", "en": "furious"},
    "scale_low": {"fr": "calme", "en": "calm"},
    "scale_high": {"fr": "part", "en": "walks out"},
    "grade": {"fr": "Note", "en": "Grade"},
    "grading": {"fr": "Notation…", "en": "Grading…"},
    "ungraded": {"fr": "Non noté", "en": "Ungraded"},
    "checks_only": {"fr": "contrôles automatiques seuls", "en": "automatic checks only"},
    "met": {"fr": "Réussi", "en": "Done well"},
    "missed": {"fr": "À travailler", "en": "To work on"},
    "better": {"fr": "Une meilleure réponse", "en": "A better reply"},
    "offline": {
        "fr": "**Mode hors ligne.** Le client suit un script et seuls les contrôles automatiques "
        "notent vos réponses. Pour un client joué par un modèle et une notation complète, "
        "définissez `OPENAI_API_KEY` (OpenAI) ou `OPENAI_BASE_URL` (un serveur compatible, "
        "par exemple llama.cpp ou Ollama) dans `.env`, puis relancez `coach run`.",
        "en": "**Offline mode.** The customer follows a script and only the automatic checks "
        "grade your replies. For a model-played customer and full grading, set "
        "`OPENAI_API_KEY` (OpenAI) or `OPENAI_BASE_URL` (a compatible server such as "
        "llama.cpp or Ollama) in `.env`, then restart `coach run`.",
    },
    "intro": {
        "fr": "**{name}** · {channel} · {difficulty}\n\n{summary}\n\nRépondez au client comme "
        "vous le feriez en vrai. Commandes : `/hint` pour un coup de pouce, `/end` pour "
        "terminer et voir le bilan.",
        "en": "**{name}** · {channel} · {difficulty}\n\n{summary}\n\nReply to the customer as "
        "you would for real. Commands: `/hint` for a nudge, `/end` to finish and see the "
        "debrief.",
    },
    "hint": {"fr": "💡 Indice : {text}", "en": "💡 Hint: {text}"},
    "hint_button": {"fr": "Indice", "en": "Hint"},
    "end_button": {"fr": "Terminer", "en": "End session"},
    "resumed": {
        "fr": "Session reprise : {name} attend votre réponse.",
        "en": "Session resumed: {name} is waiting for your reply.",
    },
    "ended": {
        "fr": "Cette session est terminée. Choisissez un scénario pour en commencer une autre.",
        "en": "This session has ended. Pick a scenario to start another one.",
    },
    "debrief": {"fr": "Bilan", "en": "Debrief"},
    "outcome": {"fr": "Issue", "en": "Outcome"},
    "average": {"fr": "Score moyen", "en": "Average score"},
    "turns": {"fr": "Réponses", "en": "Replies"},
    "strengths": {"fr": "Points forts", "en": "Strengths"},
    "improve": {"fr": "Trois axes de progrès", "en": "Three things to improve"},
    "per_criterion": {"fr": "Résultats par critère", "en": "Results per criterion"},
    "criterion": {"fr": "Critère", "en": "Criterion"},
    "you_said": {"fr": "Vous avez écrit", "en": "You wrote"},
    "downloads": {
        "fr": "Téléchargez la transcription notée ci-dessous.",
        "en": "Download the graded transcript below.",
    },
    "score_axis": {"fr": "Score", "en": "Score"},
    "mood_axis": {"fr": "Humeur", "en": "Mood"},
    "turn_axis": {"fr": "Réponse", "en": "Reply"},
    "dashboard": {"fr": "Tableau de bord formateur", "en": "Trainer dashboard"},
    "dashboard_desc": {
        "fr": "Les sessions de tous les stagiaires et leur progression.",
        "en": "Every trainee's sessions and their progress.",
    },
    "no_sessions": {"fr": "Aucune session pour l'instant.", "en": "No sessions yet."},
    "sessions": {"fr": "Sessions", "en": "Sessions"},
    "trainee": {"fr": "Stagiaire", "en": "Trainee"},
    "scenario": {"fr": "Scénario", "en": "Scenario"},
    "date": {"fr": "Date", "en": "Date"},
    "status": {"fr": "Issue", "en": "Outcome"},
    "active": {"fr": "en cours", "en": "in progress"},
    "persona_errors": {
        "fr": "Fichiers persona ignorés (à corriger)",
        "en": "Persona files skipped (to fix)",
    },
    "progress": {"fr": "Progression par stagiaire", "en": "Progress per trainee"},
    "open": {"fr": "Ouvrir", "en": "Open"},
    "customer_failed": {
        "fr": "Le client n'a pas pu répondre.",
        "en": "The customer could not reply.",
    },
    "unknown_profile": {
        "fr": "Choisissez un scénario dans la liste en haut.",
        "en": "Pick a scenario from the list at the top.",
    },
}

CHANNELS: dict[str, dict[UI, str]] = {
    "phone": {"fr": "téléphone", "en": "phone"},
    "chat": {"fr": "chat", "en": "chat"},
    "in_person": {"fr": "en face à face", "en": "in person"},
}
DIFFICULTY: dict[str, dict[UI, str]] = {
    "easy": {"fr": "facile", "en": "easy"},
    "medium": {"fr": "intermédiaire", "en": "medium"},
    "hard": {"fr": "difficile", "en": "hard"},
}
OUTCOMES: dict[str, dict[UI, str]] = {
    "calm": {"fr": "apaisé et satisfait", "en": "calm and satisfied"},
    "walkout": {"fr": "parti", "en": "walked out"},
    "trainee": {"fr": "terminée par le stagiaire", "en": "ended by the trainee"},
}


def t(key: str, ui: UI, **values: Any) -> str:
    text = STRINGS[key][ui]
    return text.format(**values) if values else text


def ui_language(accept_language: str | None) -> UI:
    """The UI language from the browser's Accept-Language (French or English)."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()
        if code.startswith("fr"):
            return "fr"
        if code.startswith("en"):
            return "en"
    return "en"


# --- scenario picker -----------------------------------------------------------------


def profile_display_name(persona: Persona) -> str:
    return f"{persona.language.upper()} · {persona.name}"


def profile_description(persona: Persona, ui: UI) -> str:
    return (
        f"**{persona.language.upper()}** · {CHANNELS[persona.channel][ui]} · "
        f"{DIFFICULTY[persona.difficulty][ui]}\n\n{persona.summary}"
    )


def scenario_intro(persona: Persona, ui: UI) -> str:
    return t(
        "intro",
        ui,
        name=persona.name,
        channel=CHANNELS[persona.channel][ui],
        difficulty=DIFFICULTY[persona.difficulty][ui],
        summary=persona.summary,
    )


# --- grades and mood ---------------------------------------------------------------------


def grade_title(grade: Grade, ui: UI) -> str:
    if grade.mode == "ungraded" or grade.score is None:
        return t("ungraded", ui)
    suffix = f" ({t('checks_only', ui)})" if grade.mode == "checks_only" else ""
    return (
        f"{t('grade', ui)} : {grade.score}/100{suffix}"
        if ui == "fr"
        else f"{t('grade', ui)}: {grade.score}/100{suffix}"
    )


def grade_markdown(grade: Grade, ui: UI) -> str:
    lines: list[str] = []
    if grade.feedback:
        lines += [f"**{grade.feedback}**", ""]
    if grade.note:
        lines += [f"_{grade.note}_", ""]
    for verdict, mark in (("missed", "✗"), ("met", "✓")):
        items = [(cid, r) for cid, r in grade.criteria.items() if r.verdict == verdict]
        if not items:
            continue
        lines.append(f"**{t(verdict, ui)}**")
        for cid, result in items:
            label = CRITERIA_BY_ID[cid].label[ui]
            evidence = (
                f" — « {result.evidence} »"
                if ui == "fr" and result.evidence
                else (f' — "{result.evidence}"' if result.evidence else "")
            )
            lines.append(f"- {mark} {label}{evidence}")
        lines.append("")
    if grade.better_reply:
        lines += [f"**{t('better', ui)}**", "", f"> {grade.better_reply}"]
    return "\n".join(lines).strip()


def mood_props(
    persona: Persona,
    mood: int,
    ui: UI,
    *,
    delta: int = 0,
    reason: str = "",
    history: Sequence[int] = (),
) -> dict[str, Any]:
    band = mood_band(mood)
    return {
        "title": t("mood", ui),
        "mood": mood,
        "max": MOOD_MAX,
        "band": band,
        "label": t(band, ui),
        "delta": delta,
        "reason": reason,
        "history": list(history) or [mood],
        "calmAt": persona.mood.calm_at,
        "walkoutAt": persona.mood.walkout_at,
        "scaleLow": t("scale_low", ui),
        "scaleHigh": t("scale_high", ui),
    }


# --- debrief --------------------------------------------------------------------------------


def debrief_markdown(debrief: Debrief, ui: UI) -> str:
    average = "–" if debrief.average_score is None else f"{debrief.average_score}/100"
    lines = [
        f"## {t('debrief', ui)}",
        "",
        f"**{t('outcome', ui)}** : {debrief.outcome_text}"
        if ui == "fr"
        else f"**{t('outcome', ui)}**: {debrief.outcome_text}",
        f"{t('average', ui)} : {average} · {t('turns', ui)} : {debrief.turns} · "
        f"{t('mood', ui)} : {' → '.join(map(str, debrief.mood_trajectory))}"
        if ui == "fr"
        else f"{t('average', ui)}: {average} · {t('turns', ui)}: {debrief.turns} · "
        f"{t('mood', ui)}: {' → '.join(map(str, debrief.mood_trajectory))}",
        "",
    ]
    if debrief.strengths:
        lines += [f"### {t('strengths', ui)}", ""]
        lines += [
            f"- {CRITERIA_BY_ID[s.criterion].label[ui]} ({s.met}×)" for s in debrief.strengths
        ]
        lines.append("")
    if debrief.improvements:
        lines += [f"### {t('improve', ui)}", ""]
        for n, item in enumerate(debrief.improvements, start=1):
            lines.append(
                f"{n}. **{CRITERIA_BY_ID[item.criterion].label[ui]}**: "
                f"{CRITERIA_BY_ID[item.criterion].tip[ui]}"
            )
            lines.append(
                f"   - {t('you_said', ui)} ({t('turn_axis', ui).lower()} {item.turn}): "
                f"« {item.quote} »"
                if ui == "fr"
                else f"   - {t('you_said', ui)} ({t('turn_axis', ui).lower()} {item.turn}): "
                f'"{item.quote}"'
            )
            if item.better_reply:
                lines.append(
                    f"   - {t('better', ui)} : {item.better_reply}"
                    if ui == "fr"
                    else f"   - {t('better', ui)}: {item.better_reply}"
                )
        lines.append("")
    if debrief.criteria:
        lines += [
            f"### {t('per_criterion', ui)}",
            "",
            f"| {t('criterion', ui)} | ✓ | ✗ |",
            "|---|---|---|",
        ]
        lines += [
            f"| {CRITERIA_BY_ID[c.criterion].label[ui]} | {c.met} | {c.missed} |"
            for c in debrief.criteria
        ]
        lines.append("")
    lines.append(t("downloads", ui))
    return "\n".join(lines)


def debrief_figure(debrief: Debrief, ui: UI) -> go.Figure:
    turns = list(range(0, len(debrief.mood_trajectory)))
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=turns[1:],
            y=[s if s is not None else 0 for s in debrief.scores],
            name=t("score_axis", ui),
            marker_color="#6e7781",
            opacity=0.5,
            yaxis="y2",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=turns,
            y=debrief.mood_trajectory,
            name=t("mood_axis", ui),
            mode="lines+markers",
            line={"color": "#cf222e", "width": 3},
        )
    )
    figure.update_layout(
        margin={"l": 40, "r": 40, "t": 30, "b": 40},
        height=320,
        legend={"orientation": "h", "y": 1.15},
        xaxis={"title": t("turn_axis", ui), "dtick": 1},
        yaxis={"title": t("mood_axis", ui), "range": [0, MOOD_MAX]},
        yaxis2={
            "title": t("score_axis", ui),
            "range": [0, 100],
            "overlaying": "y",
            "side": "right",
        },
    )
    return figure


# --- transcripts ---------------------------------------------------------------------------


def transcript(stored: StoredSession, persona: Persona) -> dict[str, Any]:
    """The whole session as JSON-ready data: messages with their grades."""
    grades = {t.message_id: t for t in stored.turns}
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


def transcript_markdown(data: dict[str, Any], ui: UI) -> str:
    lines = [
        f"# {data['persona_name']}",
        "",
        f"- {t('date', ui)}: {data['started_at']}",
        f"- {t('trainee', ui)}: {data['user']}",
        f"- {t('outcome', ui)}: {OUTCOMES.get(data['outcome'] or '', {}).get(ui, '–')}",
        f"- {t('mood', ui)}: {data['mood_start']} → {data['mood_end']}",
        "",
    ]
    for m in data["messages"]:
        who = data["persona_name"] if m["role"] == "customer" else t("trainee", ui)
        lines += [f"**{who}**: {m['content']}", ""]
        grade = m.get("grade")
        if grade:
            parsed = Grade.model_validate(grade)
            lines += [
                f"> {grade_title(parsed, ui)} · {t('mood', ui)} {m['mood_before']} → "
                f"{m['mood_after']}",
                ">",
            ]
            lines += ["> " + line for line in grade_markdown(parsed, ui).splitlines()]
            lines.append("")
    return "\n".join(lines)


# --- trainer views ---------------------------------------------------------------------------


def sessions_table(
    rows: Sequence[SessionRow], names: Mapping[str, str], scores: Mapping[str, int], ui: UI
) -> str:
    if not rows:
        return t("no_sessions", ui)
    lines = [
        f"| {t('trainee', ui)} | {t('scenario', ui)} | {t('date', ui)} | "
        f"{t('average', ui)} | {t('status', ui)} |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        score = scores.get(row.id)
        status = OUTCOMES.get(row.end_reason or "", {}).get(ui) or t("active", ui)
        lines.append(
            f"| {row.user_id or '–'} | {names.get(row.persona_id, row.persona_id)} | "
            f"{row.started_at:%Y-%m-%d %H:%M} | "
            f"{'–' if score is None else score} | {status} |"
        )
    return "\n".join(lines)


def progress_figure(points: dict[str, list[tuple[str, int]]], ui: UI) -> go.Figure:
    """Average score per session over time, one line per trainee."""
    figure = go.Figure()
    for trainee, series in sorted(points.items()):
        figure.add_trace(
            go.Scatter(
                x=[when for when, _ in series],
                y=[score for _, score in series],
                mode="lines+markers",
                name=trainee,
            )
        )
    figure.update_layout(
        margin={"l": 40, "r": 20, "t": 30, "b": 40},
        height=320,
        yaxis={"title": t("average", ui), "range": [0, 100]},
        legend={"orientation": "h", "y": 1.15},
    )
    return figure


def criteria_progress_table(per_trainee: dict[str, dict[str, tuple[int, int]]], ui: UI) -> str:
    """Met rate per criterion and trainee, over all their sessions."""
    if not per_trainee:
        return ""
    trainees = sorted(per_trainee)
    lines = [
        f"| {t('criterion', ui)} | " + " | ".join(trainees) + " |",
        "|---|" + "---|" * len(trainees),
    ]
    for cid, criterion in CRITERIA_BY_ID.items():
        cells = []
        for trainee in trainees:
            met, missed = per_trainee[trainee].get(cid, (0, 0))
            cells.append("–" if met + missed == 0 else f"{round(100 * met / (met + missed))}%")
        if any(c != "–" for c in cells):
            lines.append(f"| {criterion.label[ui]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
