"""The end-of-session debrief: outcome, trajectory, strengths and what to improve."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from bot.goals import GoalResult
from bot.i18n import t
from bot.rubric import CRITERIA_BY_ID, CRITERION_IDS, Grade, Language

EndReason = Literal["calm", "walkout", "trainee"]


class TurnSummary(BaseModel):
    turn: int
    text: str
    score: int | None
    mode: str
    mood_after: int


class CriterionTally(BaseModel):
    criterion: str
    label: str
    met: int
    missed: int


class Improvement(BaseModel):
    criterion: str
    label: str
    tip: str
    turn: int
    quote: str
    evidence: str | None
    better_reply: str | None


class Debrief(BaseModel):
    outcome: EndReason
    outcome_text: str
    language: Language
    turns: int
    average_score: int | None
    mood_start: int
    mood_end: int
    #: Mood at the start and after every graded turn.
    mood_trajectory: list[int]
    scores: list[int | None]
    per_turn: list[TurnSummary]
    criteria: list[CriterionTally]
    strengths: list[CriterionTally]
    improvements: list[Improvement]
    #: The scenario's goals, each with the reply that reached it (if one did).
    goals: list[GoalResult] = []

    @property
    def goals_met(self) -> int:
        return sum(g.met for g in self.goals)


def build_debrief(
    *,
    outcome: EndReason,
    language: Language,
    mood_start: int,
    turns: Sequence[tuple[str, Grade | None, int]],
    goals: Sequence[GoalResult] = (),
) -> Debrief:
    """``turns``: each trainee message with its grade and the mood after it;
    ``goals``: the scenario's goals and which turn reached each."""
    met: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    first_missed: dict[str, tuple[int, str, Grade]] = {}
    trajectory = [mood_start]
    per_turn: list[TurnSummary] = []
    for number, (text, grade, mood_after) in enumerate(turns, start=1):
        trajectory.append(mood_after)
        per_turn.append(
            TurnSummary(
                turn=number,
                text=text,
                mode=grade.mode if grade else "ungraded",
                score=grade.score if grade else None,
                mood_after=mood_after,
            )
        )
        if grade is None:
            continue
        for cid, result in grade.criteria.items():
            if result.verdict == "met":
                met[cid] += 1
            elif result.verdict == "missed":
                missed[cid] += 1
                # The worst example is the first time it went wrong with words to quote.
                if cid not in first_missed or (
                    result.evidence and not first_missed[cid][2].criteria[cid].evidence
                ):
                    first_missed[cid] = (number, text, grade)
    scores = [t.score for t in per_turn]
    graded = [s for s in scores if s is not None]
    tallies = [
        CriterionTally(
            criterion=cid,
            label=CRITERIA_BY_ID[cid].label[language],
            met=met[cid],
            missed=missed[cid],
        )
        for cid in CRITERION_IDS
        if met[cid] or missed[cid]
    ]

    def weight(cid: str) -> int:
        return CRITERIA_BY_ID[cid].weight

    strengths = sorted(
        (t for t in tallies if t.met > t.missed),
        key=lambda t: (-(t.met - t.missed) * weight(t.criterion), t.criterion),
    )[:3]
    worst = sorted(
        (t for t in tallies if t.missed),
        key=lambda t: (-t.missed * weight(t.criterion), t.criterion),
    )[:3]
    improvements = []
    for tally in worst:
        number, text, grade = first_missed[tally.criterion]
        improvements.append(
            Improvement(
                criterion=tally.criterion,
                label=tally.label,
                tip=CRITERIA_BY_ID[tally.criterion].tip[language],
                turn=number,
                quote=text,
                evidence=grade.criteria[tally.criterion].evidence,
                better_reply=grade.better_reply,
            )
        )
    return Debrief(
        outcome=outcome,
        outcome_text=t(f"outcome.{outcome}", language),
        language=language,
        turns=len(per_turn),
        average_score=round(sum(graded) / len(graded)) if graded else None,
        mood_start=mood_start,
        mood_end=trajectory[-1],
        mood_trajectory=trajectory,
        scores=scores,
        per_turn=per_turn,
        criteria=tallies,
        strengths=strengths,
        improvements=improvements,
        goals=list(goals),
    )


def goal_line(goal: GoalResult, language: Language, label: str | None = None) -> str:
    """One line of the debrief's goal checklist, in ``language``; ``label`` is
    the goal's label as the surface shows it (made inert for Markdown)."""
    shown = goal.label if label is None else label
    if goal.met:
        return t("debrief.goal_met", language, label=shown, turn=goal.turn)
    return t("debrief.goal_open", language, label=shown)
