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


class RetriedTurn(BaseModel):
    """A reply the trainee took back and replaced with another."""

    turn: int
    text: str
    score: int | None


class CriterionTally(BaseModel):
    criterion: str
    label: str
    met: int
    missed: int


class Strength(CriterionTally):
    """A criterion the trainee met, said as a thing done, with where."""

    #: The trainee turns that met it.
    turns: list[int]
    #: In the conversation's language: "you apologised in replies 2 and 4".
    text: str


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
    strengths: list[Strength]
    improvements: list[Improvement]
    #: The scenario's goals, each with the reply that reached it (if one did).
    goals: list[GoalResult] = []
    #: For each hint asked for: how many replies the trainee had sent by then.
    hints: list[int] = []
    #: Replies taken back (each replaced by the reply of the same number).
    retries: list[RetriedTurn] = []

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
    hints: Sequence[int] = (),
    retracted: Sequence[tuple[int, str, Grade | None]] = (),
) -> Debrief:
    """``turns``: each trainee message with its grade and the mood after it;
    ``goals``: the scenario's goals and which turn reached each; ``hints``:
    how many replies had been sent when each hint was asked for."""
    met: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    met_in: dict[str, list[int]] = {}
    #: Per criterion, the turn where it went worst and how bad it was.
    worst_missed: dict[str, tuple[tuple[int, int, int], int, str, Grade]] = {}
    trajectory = [mood_start]
    per_turn: list[TurnSummary] = []
    for number, (text, grade, mood_after) in enumerate(turns, start=1):
        mood_before = trajectory[-1]
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
                met_in.setdefault(cid, []).append(number)
            elif result.verdict == "missed":
                missed[cid] += 1
                # Worst: the words that show it, then the mood it cost, then the score.
                badness = (
                    1 if result.evidence else 0,
                    mood_after - mood_before,
                    -(grade.score if grade.score is not None else 100),
                )
                if cid not in worst_missed or badness > worst_missed[cid][0]:
                    worst_missed[cid] = (badness, number, text, grade)
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

    worst = sorted(
        (t for t in tallies if t.missed),
        key=lambda t: (-t.missed * weight(t.criterion), t.criterion),
    )[:3]
    improvements = []
    for tally in worst:
        _, number, text, grade = worst_missed[tally.criterion]
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
    # Strengths are things done (a criterion with a `done` phrase), not harms
    # avoided, and never what is also on the list to improve.
    to_improve = {i.criterion for i in improvements}
    done = sorted(
        (
            t
            for t in tallies
            if t.met and CRITERIA_BY_ID[t.criterion].done and t.criterion not in to_improve
        ),
        key=lambda t: (-t.met * weight(t.criterion), t.criterion),
    )[:3]
    strengths = [
        Strength(
            **tally.model_dump(),
            turns=met_in[tally.criterion],
            text=strength_text(tally.criterion, met_in[tally.criterion], language),
        )
        for tally in done
    ]
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
        hints=list(hints),
        retries=[
            RetriedTurn(turn=number, text=text, score=grade.score if grade else None)
            for number, text, grade in retracted
        ],
    )


def hints_line(hints: Sequence[int], language: Language) -> str:
    """How many hints the trainee asked for, and before which replies."""
    if not hints:
        return t("hints_used.none", language)
    replies = ", ".join(str(after + 1) for after in hints)
    return t("hints_used.some", language, count=len(hints), replies=replies)


def goal_line(goal: GoalResult, language: Language, label: str | None = None) -> str:
    """One line of the debrief's goal checklist, in ``language``; ``label`` is
    the goal's label as the surface shows it (made inert for Markdown)."""
    shown = goal.label if label is None else label
    if goal.met:
        return t("debrief.goal_met", language, label=shown, turn=goal.turn)
    return t("debrief.goal_open", language, label=shown)


def strength_text(criterion: str, turns: Sequence[int], language: Language) -> str:
    """A strength as a thing done, with the replies that did it, in ``language``:
    "You apologised in replies 2 and 4"."""
    done = CRITERIA_BY_ID[criterion].done
    assert done is not None, criterion  # only criteria with a `done` phrase are strengths
    if len(turns) == 1:
        text = t("debrief.strength_one", language, done=done[language], turn=turns[0])
    else:
        listed = t("debrief.and", language, first=", ".join(map(str, turns[:-1])), last=turns[-1])
        text = t("debrief.strength_many", language, done=done[language], turns=listed)
    return text[:1].upper() + text[1:]
