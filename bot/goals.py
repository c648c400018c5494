"""Scenario goals: what must happen for a customer to leave satisfied.

A persona lists its goals (``goals:`` in its file). Each has an id, a label in
the persona's language (the debrief's checklist), the evidence that shows it
met (what the trainee says or offers, written as plain phrases: see
``bot/lexicon/phrases.py``), the rubric criteria the same turn must meet too
(a refund *with a date*: ``needs: [concrete_timeline]``), what the customer
says when a reply meets it, and what a calm customer says while it is still
unmet.

Which goals a session reached is derived from its stored turns (each trainee
message and its grade), so a live session, a restored one and its debrief
always agree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.checks import CheckReport, said_persona_phrases
from bot.lexicon.phrases import parse_phrase
from bot.rubric import CRITERION_IDS, Grade, Language

#: One trainee turn as the engine keeps it: the message, its grade, the mood after.
Turn: TypeAlias = tuple[str, Grade | None, int]


class Goal(BaseModel):
    """One condition the customer needs met before leaving satisfied."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="Short key, e.g. order_cancelled.")
    label: str = Field(
        min_length=1,
        description="What was reached, in the persona's language; the debrief lists it.",
    )
    offer: str = Field(
        default="",
        description="What a good agent would say to meet it, in the persona's language "
        "(e.g. « J'annule votre commande tout de suite : le colis ne partira pas. »): the "
        "offline better reply offers it while the goal is open. It must meet the goal "
        "(its evidence and its needs); the tests check the shipped personas'.",
    )
    evidence: list[str] = Field(
        description="What the trainee says or offers that meets the goal: one phrase a "
        "line, any of them counts. Words in order within one sentence, a few other words "
        "allowed between them, no case or accents; a line starting with '~' matches every "
        "inflection ('~ cancel order' matches 'I've cancelled your order'). A denial "
        "before it in its clause ('I can't cancel the order'), a question ('shall I "
        "cancel it?') or a reformulation ('so you want to cancel the order') does not "
        "count.",
        json_schema_extra={"minItems": 1},
    )
    needs: list[str] = Field(
        default_factory=list,
        description="Rubric criteria the same turn must meet too, e.g. [concrete_timeline] "
        "for a refund given with its date.",
        json_schema_extra={"items": {"enum": list(CRITERION_IDS)}},
    )
    acknowledgements: list[str] = Field(
        min_length=1,
        description="What the customer says when a reply meets this goal (offline mode), "
        "instead of a generic line: they heard what was done.",
    )
    reminders: list[str] = Field(
        min_length=1,
        description="What the customer says, calm but with this goal unmet (offline mode); "
        "two or more keep them from repeating themselves.",
    )

    @field_validator("evidence")
    @classmethod
    def _evidence_has_words(cls, lines: list[str]) -> list[str]:
        if not lines:
            raise ValueError(
                "evidence is empty: list the words the trainee would say or offer to meet this goal"
            )
        for number, line in enumerate(lines, start=1):
            if parse_phrase(line) is None:
                raise ValueError(
                    f"evidence line {number} ({line!r}) has no word to match; write the "
                    "words the trainee would say"
                )
        return lines

    @field_validator("needs")
    @classmethod
    def _known_criteria(cls, needs: list[str]) -> list[str]:
        unknown = [c for c in needs if c not in CRITERION_IDS]
        if unknown:
            raise ValueError(
                f"unknown criterion '{unknown[0]}'; use rubric ids such as "
                "concrete_timeline or propose_solution (`coach personas schema` lists them)"
            )
        return needs


class GoalResult(BaseModel):
    """Whether a session reached one goal, and where."""

    id: str
    label: str
    met: bool
    #: The first trainee turn that met it.
    turn: int | None = None
    #: The trainee's words that met it, as typed.
    evidence: str | None = None


def duplicate_ids(goals: Sequence[Goal]) -> list[str]:
    ids = [g.id for g in goals]
    return sorted({i for i in ids if ids.count(i) > 1})


def met_in_turn(
    goals: Sequence[Goal],
    language: Language,
    text: str,
    grade: Grade | None,
    report: CheckReport | None = None,
) -> dict[str, str]:
    """The goals one trainee turn meets, each with the words that show it.

    A goal's ``needs`` are read from the turn's grade, or, before the grade
    is in (the LLM customer does not wait for it), from the checks' report.
    """
    said = _said(text, language, tuple(line for g in goals for line in g.evidence))
    met: dict[str, str] = {}
    for goal in goals:
        found = next((said[line] for line in goal.evidence if line in said), None)
        if found is not None and all(_need_met(c, grade, report) for c in goal.needs):
            met[goal.id] = found
    return met


def _need_met(criterion: str, grade: Grade | None, report: CheckReport | None) -> bool:
    if grade is not None:
        return grade.verdict(criterion) == "met"
    finding = report.findings.get(criterion) if report is not None else None
    return finding is not None and finding.verdict == "met"


@lru_cache(maxsize=4096)
def _said(text: str, language: Language, lines: tuple[str, ...]) -> dict[str, str]:
    # Progress is derived from every turn at every turn: each text is read once.
    return said_persona_phrases(text, language, lines)


def progress(goals: Sequence[Goal], language: Language, turns: Sequence[Turn]) -> list[GoalResult]:
    """Every goal, with the first turn that met it (if one did)."""
    first: dict[str, tuple[int, str]] = {}
    for number, (text, grade, _) in enumerate(turns, start=1):
        for goal_id, evidence in met_in_turn(goals, language, text, grade).items():
            first.setdefault(goal_id, (number, evidence))
    return [
        GoalResult(
            id=g.id,
            label=g.label,
            met=g.id in first,
            turn=first[g.id][0] if g.id in first else None,
            evidence=first[g.id][1] if g.id in first else None,
        )
        for g in goals
    ]


def reached(goals: Sequence[Goal], language: Language, turns: Sequence[Turn]) -> frozenset[str]:
    """The ids of the goals the turns met."""
    return frozenset(r.id for r in progress(goals, language, turns) if r.met)


def open_goals(goals: Sequence[Goal], met: Collection[str]) -> list[Goal]:
    """The goals not met yet, in the persona's order (the first is the one to remind of)."""
    return [g for g in goals if g.id not in met]
