"""Hints: a nudge for the trainee's next reply, never the reply itself.

Built from the rubric's tips and the session so far, so it works offline.
Where each criterion sits in a conversation's arc, and in the first hint, is
data in ``bot/rubric.yaml`` (``hint``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import t
from bot.personas import Persona
from bot.rubric import CRITERIA, CRITERIA_BY_ID, Grade, Priority

#: What a conversation still needs, in the order it usually comes.
_ARC: tuple[str, ...] = tuple(
    c.id
    for c in sorted(
        (c for c in CRITERIA if c.hint and c.hint.arc),
        key=lambda c: (c.hint.arc if c.hint else None) or 0,
    )
)


def first_reply_criteria(priority: Priority) -> list[str]:
    """The criteria the first hint names, for a persona with this priority."""
    placed = [
        (c.hint.first_reply[priority], c.id)
        for c in CRITERIA
        if c.hint and priority in c.hint.first_reply
    ]
    return [cid for _, cid in sorted(placed)]


def hint_for(persona: Persona, grades: Sequence[Grade]) -> str:
    lang = persona.language
    if persona.abusive and not any(g.verdict("set_boundaries") == "met" for g in grades):
        return CRITERIA_BY_ID["set_boundaries"].tip[lang]
    if not grades:
        return " ".join(CRITERIA_BY_ID[c].tip[lang] for c in first_reply_criteria(persona.priority))
    last = grades[-1]
    missed = sorted(last.missed(), key=lambda c: -CRITERIA_BY_ID[c].weight)
    if missed:
        return CRITERIA_BY_ID[missed[0]].tip[lang]
    done = {c for g in grades for c in g.met()}
    for cid in _ARC:
        if cid not in done:
            return CRITERIA_BY_ID[cid].tip[lang]
    return t("feedback.all_done", lang)
