"""The offline better reply: the trainee's turn rewritten from what it missed,
the conversation and the persona, without a model.

It keeps the trainee's own sentences that did no harm (a violation's clause
is cut, a filler word removed), and adds, in the order a de-escalation goes,
only what the turn lacked: a limit when the customer insults, an apology that
quotes what the customer just said, a reformulation of what they need (the
first open goal), a word about a hold, the persona's ``offer`` for the next
open goal (``goals.Goal.offer``), and the close once every goal is met. The
sentences are the catalogue's (``better.*`` in ``bot/i18n``), in the
conversation's language.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from bot import goals
from bot.checks import CheckReport, run_checks
from bot.conversation import Message
from bot.i18n import t
from bot.mood import INFLAMING
from bot.rubric import CriterionResult, Language

if TYPE_CHECKING:
    from bot.personas import Persona

#: Violations whose clause is cut from the kept sentences (fillers lose only the word).
_HARMS = frozenset({*INFLAMING, "set_boundaries", "plain_register"}) - {"no_filler"}
#: Quoted words of the customer, at most this long.
_QUOTE_MAX = 80
#: A kept sentence needs this many words left to still say something.
_MIN_WORDS = 3


def better_reply(
    turn: str,
    report: CheckReport,
    criteria: Mapping[str, CriterionResult],
    history: Sequence[Message],
    persona: Persona | None = None,
) -> str:
    """A better version of ``turn`` (attacks on the grader already cut from it)."""
    language = report.language

    def met(cid: str) -> bool:
        return criteria[cid].verdict == "met"

    earlier = [m.content for m in history if m.role == "trainee"]
    done_before = frozenset().union(*(_met_alone(text, language) for text in earlier))
    customer = next((m.content for m in reversed(history) if m.role == "customer"), "")
    quote = _quote(customer)
    harmed = any(criteria[c].verdict == "missed" for c in _HARMS)

    parts: list[str] = []
    if report.abusive_customer and not met("set_boundaries"):
        parts.append(t("better.boundary", language))
    if not (met("apologize") or met("acknowledge_emotion")) and (
        harmed or not ({"apologize", "acknowledge_emotion"} & done_before)
    ):
        feeling = t(f"better.feeling.{persona.temperament if persona else 'none'}", language)
        if quote:
            parts.append(t("better.empathy_quote", language, quote=quote, feeling=feeling))
        else:
            parts.append(t("better.empathy", language, feeling=feeling))
    open_goals: list[goals.Goal] = []
    if persona is not None:
        met_before = {
            g.id
            for text in earlier
            for g in persona.goals
            if g.id in goals.met_in_turn([g], language, text, None, _report(text, language))
        }
        met_now = goals.met_in_turn(persona.goals, language, turn, None, report)
        open_goals = goals.open_goals(persona.goals, met_before | met_now.keys())
    if not met("reformulate") and "reformulate" not in done_before and open_goals:
        need = _lower_first(open_goals[0].label)
        parts.append(t("better.reformulate", language, need=need))
    parts += _kept_sentences(turn, criteria)
    if criteria["no_hold"].verdict == "missed":
        parts.append(t("better.hold", language))
    if open_goals:
        goal = open_goals[0]
        label = _lower_first(goal.label)
        parts.append(goal.offer or t("better.offer_label", language, label=label))
    elif persona is not None:
        if not met("check_other_concerns"):
            parts.append(t("better.close", language))
    elif not (met("concrete_timeline") or met("ownership")):
        parts.append(t("better.own", language))
    if not parts:
        parts.append(t("better.close", language))
    return " ".join(p.strip() for p in parts if p.strip())


@lru_cache(maxsize=4096)
def _report(text: str, language: Language) -> CheckReport:
    # Each earlier turn is read once per session, not once per later turn.
    return run_checks(text, language, [])


def _met_alone(text: str, language: Language) -> frozenset[str]:
    """The criteria an earlier trainee turn met, read on its own."""
    report = _report(text, language)
    both = {**report.hints, **report.findings}
    return frozenset(c for c, f in both.items() if f.verdict == "met")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?…])\s+|\n+", text) if s.strip()]


def _quote(customer: str) -> str:
    """A few of the customer's own words to say back: their longest statement
    (a question if they asked nothing else), cut at a word near the limit."""
    sentences = _sentences(customer)
    statements = [s for s in sentences if not s.endswith("?")] or sentences
    if not statements:
        return ""
    words = max(statements, key=len).strip(" .…!«»\"'")
    words = re.sub(r"\s*\.{2,}\s*|\s*…\s*", "… ", words).strip()
    if len(words) > _QUOTE_MAX:
        words = words[:_QUOTE_MAX].rsplit(" ", 1)[0].rstrip(",;: ") + "…"
    return words


def _pieces(criteria: Mapping[str, CriterionResult], ids: Collection[str]) -> list[str]:
    return [
        piece.strip()
        for cid in ids
        if criteria[cid].verdict == "missed" and criteria[cid].evidence
        for piece in (criteria[cid].evidence or "").split(";")
        if piece.strip()
    ]


def _kept_sentences(turn: str, criteria: Mapping[str, CriterionResult]) -> list[str]:
    """The trainee's sentences that did no harm: a harmful clause is cut and a
    filler word removed; what is left must still say something."""
    harms = [p.casefold() for p in _pieces(criteria, _HARMS)]
    fillers = _pieces(criteria, ["no_filler"])
    kept: list[str] = []
    for sentence in _sentences(turn):
        for filler in fillers:
            sentence = re.sub(rf"(?i)(?<!\w){re.escape(filler)}(?!\w)[,.…]*\s*", "", sentence)
        clauses = re.split(r"(?<=[,;:])\s+", sentence)
        clean = [c for c in clauses if not any(h in c.casefold() for h in harms)]
        text = " ".join(clean).strip(" ,;:")
        if len(re.findall(r"\w+", text)) < _MIN_WORDS or not any(ch.isalpha() for ch in text):
            continue
        if text[-1] not in ".!?…":
            text += "."
        kept.append(text[0].upper() + text[1:])
    return kept


def _lower_first(label: str) -> str:
    """A goal's label inside a sentence: its first letter lowered, unless an
    acronym starts it ("SMS")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]
