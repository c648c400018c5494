"""The rubric: criterion ids (a stable contract), their weights, and the grade shape.

RUBRIC.md (in the team's shared folder) is the source of truth for what each
criterion means; this module holds what the code needs: ids, which layer
decides each one, the weights the score is computed from, and short labels
and tips in both languages for feedback and hints.

Scoring (documented in the README too): each criterion has an integer weight
from 1 to 3. The score of a turn is ``100 * sum(weights of met) / sum(weights
of met and missed)``, rounded; ``na`` criteria are left out. A turn where
nothing applies, or that could not be graded, has no score (``None``), never
an invented one. A turn that tries to instruct the grader scores 0 (see
``bot/grader.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["fr", "en"]
Verdict = Literal["met", "missed", "na"]
Source = Literal["check", "llm"]
#: How a grade was made: checks and the LLM, checks alone (offline or
#: --checks-only), or the LLM failed and only the checks' findings remain.
GradeMode = Literal["hybrid", "checks_only", "ungraded"]
Deescalation = Literal[-2, -1, 0, 1, 2]

LANGUAGE_NAMES: dict[Language, str] = {"fr": "French", "en": "English"}


@dataclass(frozen=True)
class Criterion:
    id: str
    group: str
    #: "check": a deterministic check decides it; "judgement": the LLM does,
    #: possibly with lexical hints from the checks.
    kind: Literal["check", "judgement"]
    weight: int
    label: dict[str, str]
    #: One-line advice, used for hints and offline feedback.
    tip: dict[str, str]
    #: "check + judgement" in RUBRIC.md: when the check finds no words either
    #: way, the LLM decides (a paraphrased restatement, an impossible promise).
    refined_by_llm: bool = False


def _c(
    id: str,
    group: str,
    kind: Literal["check", "judgement"],
    weight: int,
    label_fr: str,
    label_en: str,
    tip_fr: str,
    tip_en: str,
) -> Criterion:
    return Criterion(
        id,
        group,
        kind,
        weight,
        {"fr": label_fr, "en": label_en},
        {"fr": tip_fr, "en": tip_en},
        refined_by_llm=id in _REFINED_BY_LLM,
    )


#: RUBRIC.md's "check + judgement" criteria.
_REFINED_BY_LLM = ("reformulate", "narrate_action", "concrete_timeline")


CRITERIA: tuple[Criterion, ...] = (
    # Listen and understand
    _c(
        "acknowledge_emotion",
        "listen",
        "judgement",
        2,
        "Reconnaître l'émotion",
        "Acknowledge the emotion",
        "Nommez ce que ressent le client avant de passer à la procédure.",
        "Name what the customer feels before you move on to the procedure.",
    ),
    _c(
        "reformulate",
        "listen",
        "check",
        2,
        "Reformuler",
        "Reformulate",
        "Redites le problème avec vos mots et demandez si vous avez bien compris.",
        "Restate the problem in your own words and ask whether you got it right.",
    ),
    _c(
        "explore",
        "listen",
        "judgement",
        1,
        "Explorer",
        "Explore",
        "Posez une question ouverte pour trouver les faits et la cause.",
        "Ask an open question to get the facts and the cause.",
    ),
    _c(
        "prioritize",
        "listen",
        "judgement",
        2,
        "Prioriser",
        "Prioritize",
        "Traitez d'abord ce qui compte le plus maintenant : les faits ou l'émotion.",
        "Deal first with what matters most right now: the facts or the feeling.",
    ),
    # Tone and empathy
    _c(
        "apologize",
        "tone",
        "check",
        2,
        "S'excuser",
        "Apologize",
        "Présentez des excuses personnelles pour le désagrément, quelle qu'en soit la cause.",
        "Offer a personal apology for the trouble, whoever caused it.",
    ),
    _c(
        "personal_language",
        "tone",
        "check",
        1,
        "Parler en « je »",
        'Speak as "I"',
        "Parlez en « je » au client plutôt qu'au nom de « nous » ou « on ».",
        'Speak as "I" to "you" rather than as a faceless "we".',
    ),
    _c(
        "positive_opening",
        "tone",
        "check",
        1,
        "Ouverture positive",
        "Positive opening",
        "Commencez par remercier le client de vous avoir signalé le problème.",
        "Open by thanking the customer for raising the problem.",
    ),
    _c(
        "plain_register",
        "tone",
        "judgement",
        1,
        "Registre clair",
        "Plain register",
        "Écrivez simplement, avec chaleur et respect, sans jargon.",
        "Write plainly, warm and respectful, without jargon.",
    ),
    _c(
        "no_filler",
        "tone",
        "check",
        1,
        "Sans tics verbaux",
        "No fillers",
        "Supprimez les interjections (« euh », « oups »...) : dites plutôt ce que vous faites.",
        'Drop the fillers ("um", "oops"...): say what you are doing instead.',
    ),
    # What never to say
    _c(
        "no_blocking_phrase",
        "never",
        "check",
        3,
        "Aucune phrase bloquante",
        "No blocking phrase",
        "Évitez les phrases qui ferment la porte (« calmez-vous », « je ne peux rien faire »).",
        'Avoid phrases that shut the door ("calm down", "there\'s nothing I can do").',
    ),
    _c(
        "no_blame",
        "never",
        "judgement",
        3,
        "Ne pas blâmer",
        "No blame",
        "Ne reprochez rien au client et ne prenez pas sa colère pour vous.",
        "Don't blame or lecture the customer, and don't take the anger personally.",
    ),
    # Own it and solve it
    _c(
        "ownership",
        "own",
        "judgement",
        2,
        "Prendre en charge",
        "Ownership",
        "Prenez le problème en main et restez l'interlocuteur du client.",
        "Take charge of the problem and stay the customer's contact.",
    ),
    _c(
        "narrate_action",
        "own",
        "check",
        1,
        "Dire ce que l'on fait",
        "Narrate the action",
        "Dites ce que vous faites en ce moment (« je consulte votre dossier »).",
        'Say what you are doing right now ("I\'m pulling up your account").',
    ),
    _c(
        "concrete_timeline",
        "own",
        "check",
        2,
        "Délai concret",
        "Concrete timeline",
        "Donnez un délai précis et honnête plutôt que « bientôt ».",
        'Give a precise, honest timeframe rather than "soon".',
    ),
    _c(
        "propose_solution",
        "own",
        "judgement",
        2,
        "Proposer une solution",
        "Propose a solution",
        "Proposez une solution concrète ou des options au choix du client.",
        "Offer a concrete solution, or options for the customer to choose from.",
    ),
    _c(
        "simplify",
        "own",
        "judgement",
        1,
        "Simplifier",
        "Simplify",
        "Découpez un problème complexe en étapes, en commençant par le plus grave.",
        "Break a tangled problem into steps, starting with the worst part.",
    ),
    _c(
        "no_hold",
        "own",
        "check",
        2,
        "Pas de mise en attente",
        "No hold",
        "Gardez le client avec vous : expliquez l'attente au lieu de le mettre en attente.",
        "Keep the customer with you: explain the wait instead of parking them on hold.",
    ),
    # Close well
    _c(
        "check_other_concerns",
        "close",
        "check",
        1,
        "Autres demandes",
        "Other concerns",
        "Avant de conclure, demandez s'il y a autre chose à régler.",
        "Before closing, ask whether there is anything else to sort out.",
    ),
    _c(
        "thank_close",
        "close",
        "check",
        1,
        "Remercier en concluant",
        "Thank when closing",
        "Remerciez sincèrement le client en fin d'échange.",
        "Thank the customer sincerely as you close.",
    ),
    # Limits
    _c(
        "set_boundaries",
        "limits",
        "judgement",
        3,
        "Poser des limites",
        "Set boundaries",
        "Face aux insultes, posez calmement la limite et proposez de continuer ou un responsable.",
        "When abused, calmly state the limit and offer to go on or to bring in a supervisor.",
    ),
)

CRITERIA_BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}
CRITERION_IDS: tuple[str, ...] = tuple(c.id for c in CRITERIA)
CHECK_CRITERIA: tuple[str, ...] = tuple(c.id for c in CRITERIA if c.kind == "check")
JUDGEMENT_CRITERIA: tuple[str, ...] = tuple(c.id for c in CRITERIA if c.kind == "judgement")


class CriterionResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    evidence: str | None = None
    source: Source


class Grade(BaseModel):
    """One trainee turn's grade. Serialises to the JSON shape RUBRIC.md shows."""

    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, CriterionResult]
    score: int | None = Field(default=None, ge=0, le=100)
    deescalation: Deescalation = 0
    feedback: str = ""
    better_reply: str | None = None
    mode: GradeMode = "hybrid"
    #: Why a grade is checks-only or ungraded, in plain words.
    note: str | None = None

    @model_validator(mode="after")
    def _every_criterion_present(self) -> Grade:
        missing = [c for c in CRITERION_IDS if c not in self.criteria]
        unknown = [c for c in self.criteria if c not in CRITERIA_BY_ID]
        if missing or unknown:
            raise ValueError(f"grade criteria mismatch: missing {missing}, unknown {unknown}")
        # Keep the rubric's order whatever order the layers produced.
        self.criteria = {c: self.criteria[c] for c in CRITERION_IDS}
        return self

    def verdict(self, criterion: str) -> Verdict:
        return self.criteria[criterion].verdict

    def missed(self) -> list[str]:
        return [c for c, r in self.criteria.items() if r.verdict == "missed"]

    def met(self) -> list[str]:
        return [c for c, r in self.criteria.items() if r.verdict == "met"]


def compute_score(criteria: dict[str, CriterionResult]) -> int | None:
    """Weighted share of applicable criteria met, 0..100; None if nothing applies."""
    earned = possible = 0
    for cid, result in criteria.items():
        if result.verdict == "na":
            continue
        weight = CRITERIA_BY_ID[cid].weight
        possible += weight
        if result.verdict == "met":
            earned += weight
    if possible == 0:
        return None
    return round(100 * earned / possible)


#: Criteria whose "met" calms the customer in the checks-only estimate.
SOOTHING = (
    "acknowledge_emotion",
    "apologize",
    "reformulate",
    "propose_solution",
    "concrete_timeline",
    "ownership",
    "set_boundaries",
)
#: Criteria whose "missed" inflames, with how much.
INFLAMING = {"no_blocking_phrase": 2, "no_blame": 2, "no_hold": 1, "no_filler": 1}


def estimate_deescalation(criteria: dict[str, CriterionResult]) -> Deescalation:
    """The checks-only estimate of how a turn moves the customer (-2..+2).

    Each soothing criterion met counts +1 (at most +2); each violation counts
    against it (a blocking phrase or blame -2, a hold or a filler -1). A turn
    with a blocking phrase never calms, whatever else it does.
    """
    calm = min(2, sum(1 for c in SOOTHING if criteria[c].verdict == "met"))
    heat = sum(w for c, w in INFLAMING.items() if criteria[c].verdict == "missed")
    value = max(-2, min(2, calm - heat))
    if criteria["no_blocking_phrase"].verdict == "missed":
        value = min(value, -1)
    return value  # type: ignore[return-value]  # clamped to -2..2 above


def cap_deescalation(value: int, criteria: dict[str, CriterionResult]) -> Deescalation:
    """Apply the check layer's authority to a de-escalation value from the LLM:
    a blocking phrase, blame found by a check or a hold cannot calm the customer."""
    value = max(-2, min(2, value))
    violations = [
        c for c in INFLAMING if criteria[c].verdict == "missed" and criteria[c].source == "check"
    ]
    if "no_blocking_phrase" in violations or "no_blame" in violations:
        value = min(value, -1)
    elif violations:
        value = min(value, 0)
    return value  # type: ignore[return-value]
