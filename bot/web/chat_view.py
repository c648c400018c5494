"""What a trainee sees during a session: the scenario picker and intro, each
grade, the mood panel, hints and coach notices.

Pure functions returning markdown or element props, so the handlers stay thin
and this is testable without Chainlit. UI words follow the browser's language
(``lang``); the conversation itself (customer lines, feedback, better
replies) stays in the persona's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.i18n import Language, format_datetime, t
from bot.mood import MOOD_MAX, mood_colours, mood_look
from bot.personas import Persona
from bot.rubric import CRITERIA_BY_ID, Grade
from bot.web.markup import inert

#: Shown where there is no value (no score yet, no trainee name).
NONE = "–"

# --- scenario picker -----------------------------------------------------------------


def profile_display_name(persona: Persona) -> str:
    return f"{persona.language.upper()} · {persona.name}"


def profile_description(persona: Persona, lang: Language) -> str:
    return (
        f"**{persona.language.upper()}** · {t(f'scenario.channel.{persona.channel}', lang)} · "
        f"{t(f'scenario.difficulty.{persona.difficulty}', lang)}\n\n{persona.summary}"
    )


def scenario_intro(persona: Persona, lang: Language) -> str:
    return t(
        "scenario.intro",
        lang,
        name=persona.name,
        channel=t(f"scenario.channel.{persona.channel}", lang),
        difficulty=t(f"scenario.difficulty.{persona.difficulty}", lang),
        summary=persona.summary,
    )


def thread_name(persona: Persona, when: datetime, lang: Language) -> str:
    """Threads are named after the scenario and when it started, not after the
    first reply (Chainlit's default)."""
    return f"{persona.name} · {format_datetime(when, lang, 'short')}"


def dashboard_thread_name(when: datetime, lang: Language) -> str:
    return f"{t('dashboard.title', lang)} · {format_datetime(when, lang, 'short')}"


def persona_errors_markdown(errors: Sequence[object], lang: Language) -> str:
    """For trainers: the persona files that failed to load, and why."""
    lines = "\n".join(f"- `{e}`" for e in errors)
    return f"**{t('persona_errors', lang)}**\n\n{lines}"


# --- grades and mood ---------------------------------------------------------------------


def grade_title(grade: Grade, lang: Language) -> str:
    if grade.mode == "ungraded" or grade.score is None:
        return t("grade.ungraded", lang)
    key = "grade.title_checks_only" if grade.mode == "checks_only" else "grade.title"
    return t(key, lang, score=grade.score)


def grade_markdown(grade: Grade, lang: Language) -> str:
    """A grade as the trainee (and, in a transcript, the trainer) reads it.
    The grader's words and the quoted evidence come from the trainee's reply
    or a model: escaped, never read as markup."""
    lines: list[str] = []
    if grade.feedback:
        lines += [f"**{inert(grade.feedback)}**", ""]
    if grade.note:
        lines += [f"_{inert(grade.note)}_", ""]
    for verdict, mark in (("missed", "✗"), ("met", "✓")):
        items = [(cid, r) for cid, r in grade.criteria.items() if r.verdict == verdict]
        if not items:
            continue
        lines.append(f"**{t(f'grade.{verdict}', lang)}**")
        for cid, result in items:
            label = CRITERIA_BY_ID[cid].label[lang]
            if result.evidence:
                evidence = inert(result.evidence)
                label = t("grade.with_evidence", lang, label=label, evidence=evidence)
            elif result.basis == "not_found":
                # Offline, a verdict from words not found proves less than words found.
                label = t(f"grade.not_found_{verdict}", lang, label=label)
            lines.append(f"- {mark} {label}")
        lines.append("")
    if grade.better_reply:
        lines += [f"**{t('grade.better', lang)}**", "", f"> {inert(grade.better_reply)}"]
    return "\n".join(lines).strip()


def mood_props(
    persona: Persona,
    mood: int,
    lang: Language,
    *,
    delta: int = 0,
    reason: str = "",
    history: Sequence[int] = (),
) -> dict[str, Any]:
    """The props of public/elements/MoodMeter.jsx (the side panel). The band's
    name and colour follow the persona's temperament (``bot.mood.mood_look``);
    the name is in ``lang``, the reason in the conversation's language."""
    look = mood_look(mood, persona.temperament, lang)
    moods = list(history) or [mood]
    return {
        "title": t("mood.title", lang),
        "mood": mood,
        "max": MOOD_MAX,
        "band": look.band,
        "label": look.label,
        "colour": look.colour,
        "delta": delta,
        "reason": reason,
        "history": moods,
        "historyColours": mood_colours(moods, persona.temperament),
        "calmAt": persona.mood.calm_at,
        "walkoutAt": persona.mood.walkout_at,
        "scaleLow": t("mood.scale_low", lang),
        "scaleHigh": t("mood.scale_high", lang),
        "pendingText": t("mood.pending", lang),
    }


def hint_text(hint: str, lang: Language) -> str:
    """A hint (from bot.hints, in the persona's language) as the coach says it."""
    return t("hint", lang, text=hint)


def failure_text(message: str, lang: Language) -> str:
    """A failure the engine reported (its message is already in plain words)."""
    return t("failure", lang, message=message)
