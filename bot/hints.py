"""Hints: a nudge for the trainee's next reply, never the reply itself.

Built from the rubric's tips and the session so far, so it works offline.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.personas import Persona
from bot.rubric import CRITERIA_BY_ID, Grade

_FIRST_REPLY = {
    "emotion": ("acknowledge_emotion", "apologize"),
    "facts": ("apologize", "concrete_timeline"),
    "both": ("positive_opening", "acknowledge_emotion"),
}
#: What a conversation still needs, in the order it usually comes.
_ARC = (
    "acknowledge_emotion",
    "apologize",
    "reformulate",
    "explore",
    "propose_solution",
    "concrete_timeline",
    "check_other_concerns",
    "thank_close",
)


def hint_for(persona: Persona, grades: Sequence[Grade]) -> str:
    lang = persona.language
    if persona.abusive and not any(g.verdict("set_boundaries") == "met" for g in grades):
        return CRITERIA_BY_ID["set_boundaries"].tip[lang]
    if not grades:
        first, second = _FIRST_REPLY[persona.priority]
        return f"{CRITERIA_BY_ID[first].tip[lang]} {CRITERIA_BY_ID[second].tip[lang]}"
    last = grades[-1]
    missed = sorted(last.missed(), key=lambda c: -CRITERIA_BY_ID[c].weight)
    if missed:
        return CRITERIA_BY_ID[missed[0]].tip[lang]
    done = {c for g in grades for c in g.met()}
    for cid in _ARC:
        if cid not in done:
            return CRITERIA_BY_ID[cid].tip[lang]
    return (
        "Tout est en place : concluez en remerciant le client."
        if lang == "fr"
        else "Everything is in place: close by thanking the customer."
    )
