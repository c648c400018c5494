"""The rubric: criteria (loaded from ``rubric.yaml``), the grade shape and the score.

``bot/rubric.yaml`` is the one home of a criterion: its id (a stable contract),
group, kind, weight, labels and tips in both languages, the definition the
LLM grader is given, how it moves the customer's mood and why, what the LLM
customer is told about it, and where hints place it. This module loads and
validates that file once, at import, and exposes it as typed constants; the
checks, the grader prompt, the mood, the customer and the hints all read it
from here.

Scoring: each criterion has an integer weight from 1 to 3. The score of a
turn is ``100 * sum(weights of met) / sum(weights of met and missed)``,
rounded; ``na`` criteria are left out. A turn where nothing applies, or that
could not be graded, has no score (``None``), never an invented one. A turn
that tries to instruct the grader scores 0 (see ``bot/grader.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import RubricError

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
Verdict = Literal["met", "missed", "na"]
Source = Literal["check", "llm"]
#: How a grade was made: checks and the LLM, checks alone (offline or
#: --checks-only), or the LLM failed and only the checks' findings remain.
GradeMode = Literal["hybrid", "checks_only", "ungraded"]
Deescalation = Literal[-2, -1, 0, 1, 2]
Group = Literal["listen", "tone", "never", "own", "close", "limits"]
#: check: the deterministic checks decide it; judgement: the LLM does (the
#: checks may give hints); both: words the checks find decide, the LLM the rest.
Kind = Literal["check", "judgement", "both"]
Priority = Literal["facts", "emotion", "both"]

LANGUAGE_NAMES: dict[Language, str] = {"fr": "French", "en": "English"}

RUBRIC_FILE = Path(__file__).resolve().parent / "rubric.yaml"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Bilingual(_Data):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __getitem__(self, language: Language) -> str:
        text: str = getattr(self, language)
        return text


class CheckRule(_Data):
    """A deterministic rule that needs no code: one phrase list decides."""

    #: Words of this list are a violation (``missed``); none found is ``met``.
    missed_when: str | None = None
    #: Words of this list are ``met``; none found is ``na``.
    met_when: str | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> CheckRule:
        if (self.missed_when is None) == (self.met_when is None):
            raise ValueError("give exactly one of missed_when or met_when")
        return self

    @property
    def list_name(self) -> str:
        name = self.missed_when or self.met_when
        assert name is not None
        return name


class MoodEffect(_Data):
    #: Met counts +1 toward calming in the checks-only estimate.
    calms: bool = False
    #: Missed counts this much toward inflaming (a violation).
    inflames: int = Field(default=0, ge=0, le=2)
    #: Which reason the mood panel gives first when several apply (1 first).
    rank: int = Field(ge=1)
    when_met: Bilingual | None = None
    when_missed: Bilingual | None = None


class CustomerCue(_Data):
    """What the LLM customer is told the agent just did (English: the prompt's language)."""

    rank: int = Field(ge=1)
    #: ``{evidence}`` is replaced by the words the checks found.
    when_met: str | None = None
    when_missed: str | None = None


class HintPlace(_Data):
    #: The order a conversation usually needs it in (1 first).
    arc: int | None = Field(default=None, ge=1)
    #: Its place in the very first hint, per persona priority.
    first_reply: dict[Priority, int] = Field(default_factory=dict)


class Criterion(_Data):
    id: str = Field(pattern=r"^[a-z][a-z_]*$")
    group: Group
    kind: Kind
    weight: int = Field(ge=1, le=3)
    label: Bilingual
    tip: Bilingual
    #: What the trainee did when it is met, said as a thing done ("you apologised"):
    #: the debrief's strengths. None for the harms avoided (no filler, no blame),
    #: which are never a strength.
    done: Bilingual | None = None
    #: What the LLM grader is told the criterion means.
    definition: str = Field(min_length=20)
    check: CheckRule | None = None
    mood: MoodEffect | None = None
    customer: CustomerCue | None = None
    hint: HintPlace | None = None

    @property
    def checked(self) -> bool:
        """A deterministic check gives a verdict for it (kind check or both)."""
        return self.kind != "judgement"

    @property
    def refined_by_llm(self) -> bool:
        """Words the checks find decide; when they find none, the LLM does."""
        return self.kind == "both"

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.check is not None and self.kind == "judgement":
            raise ValueError("a judgement criterion has no check rule; make its kind check or both")
        return self


class Rubric(_Data):
    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"criterion ids defined twice: {', '.join(twice)}")
        for what in ("mood", "customer"):
            ranks = [getattr(c, what).rank for c in self.criteria if getattr(c, what)]
            if len(ranks) != len(set(ranks)):
                raise ValueError(f"two criteria share a {what}.rank; give each its own")
        return self


def load_rubric(path: Path = RUBRIC_FILE) -> Rubric:
    """Read and validate the rubric file; errors are one line naming the field."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise RubricError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RubricError(f"{path.name}: not valid YAML: {exc}".splitlines()[0]) from None
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        if error["loc"][:1] == ("criteria",) and len(error["loc"]) > 1:
            index = error["loc"][1]
            if isinstance(index, int) and isinstance(data, dict):
                cid = (data.get("criteria") or [{}])[index].get("id", index)
                where = ".".join([str(cid), *(str(p) for p in error["loc"][2:])])
        raise RubricError(
            f"{path.name}: {where}: {error['msg']}; fix that entry (see the field list at the top)"
        ) from None


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

RUBRIC = load_rubric()
CRITERIA: tuple[Criterion, ...] = RUBRIC.criteria
CRITERIA_BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}
CRITERION_IDS: tuple[str, ...] = tuple(c.id for c in CRITERIA)
#: Criteria a deterministic check gives a verdict for (kind check or both).
CHECK_CRITERIA: tuple[str, ...] = tuple(c.id for c in CRITERIA if c.checked)
JUDGEMENT_CRITERIA: tuple[str, ...] = tuple(c.id for c in CRITERIA if not c.checked)
#: What the LLM grader is told each criterion means.
DEFINITIONS: dict[str, str] = {c.id: c.definition for c in CRITERIA}


#: What a check's verdict rests on: words (or the conversation's structure)
#: it found, or words it did not find, which proves less.
Basis = Literal["found", "not_found"]


class CriterionResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    evidence: str | None = None
    source: Source
    #: For a check's verdict: "found" when words (or the structure of the
    #: conversation) prove it, "not_found" when it rests on words not found.
    #: With a model configured the LLM decides the latter.
    basis: Basis | None = None


class Grade(BaseModel):
    """One trainee turn's grade: every criterion's verdict, the score, the mood move."""

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
