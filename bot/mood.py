"""How the customer's mood moves: the scale, its bands, what a grade does to it,
the reason shown for each move, and when the mood ends a session.

Change how mood moves here. What each criterion does to the mood (calms,
inflames, and the reason given) is data in ``bot/rubric.yaml``; this module
holds the rules that combine them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.i18n import t
from bot.rubric import CRITERIA, CriterionResult, Deescalation, Grade, Language

#: The scale: 0 is perfectly calm, 10 is past all patience.
MOOD_MIN, MOOD_MAX = 0, 10
MoodBand = Literal["calm", "uneasy", "upset", "angry", "furious"]
BANDS: tuple[MoodBand, ...] = ("calm", "uneasy", "upset", "angry", "furious")
#: How the mood can end a session (the trainee may also end it).
MoodEnd = Literal["calm", "walkout"]
#: How patient a persona is (``bot/difficulty.yaml``).
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = get_args(Difficulty)
DIFFICULTY_FILE = Path(__file__).resolve().parent / "difficulty.yaml"

#: How a customer's upset shows: it names the bands (a grieving customer is
#: hurt, not furious) and colours them (``mood.label.*`` in ``bot/i18n``).
Temperament = Literal["angry", "distressed", "anxious"]
TEMPERAMENTS: tuple[Temperament, ...] = get_args(Temperament)

#: The colour of each band, per temperament: green when calm, amber while
#: uneasy or upset, and only the two highest bands (7 and up) in the
#: temperament's alarm colour: red for anger, violet for hurt, rust for worry.
#: Each carries white text legibly (contrast 4.5:1 or more).
BAND_COLOURS: dict[Temperament, dict[MoodBand, str]] = {
    "angry": {
        "calm": "#1a7f37",
        "uneasy": "#7d6000",
        "upset": "#bc4c00",
        "angry": "#cf222e",
        "furious": "#82071e",
    },
    "distressed": {
        "calm": "#1a7f37",
        "uneasy": "#7d6000",
        "upset": "#9a4f00",
        "angry": "#8250df",
        "furious": "#512a97",
    },
    "anxious": {
        "calm": "#1a7f37",
        "uneasy": "#7d6000",
        "upset": "#bc4c00",
        "angry": "#a0401a",
        "furious": "#7a2e0e",
    },
}

#: Criteria whose "met" calms the customer in the checks-only estimate.
SOOTHING: tuple[str, ...] = tuple(c.id for c in CRITERIA if c.mood and c.mood.calms)
#: Criteria whose "missed" inflames, with how much.
INFLAMING: dict[str, int] = {c.id: c.mood.inflames for c in CRITERIA if c.mood and c.mood.inflames}
#: Criteria with a mood reason, in the order the reasons are told.
_BY_RANK = sorted((c for c in CRITERIA if c.mood), key=lambda c: c.mood.rank if c.mood else 0)
#: The violations that inflame when a check found them.
_NEVER_CALMS = ("no_blocking_phrase", "no_blame")
#: Violations of the heaviest weight: whoever found them, the turn cannot calm.
_HEAVIEST = frozenset(c.id for c in CRITERIA if c.id in INFLAMING and c.weight == 3)


class Patience(BaseModel):
    """One difficulty's row of ``bot/difficulty.yaml``."""

    model_config = ConfigDict(extra="forbid")

    #: The starting moods a persona of this difficulty may have (inclusive).
    start: tuple[int, int]
    #: How far the mood falls after a de-escalation of +1, of +2.
    soothe: tuple[int, int]
    #: How far the mood rises after a de-escalation of -1, of -2.
    inflame: tuple[int, int]

    @model_validator(mode="after")
    def _sensible(self) -> Patience:
        low, high = self.start
        if not MOOD_MIN <= low <= high <= MOOD_MAX:
            raise ValueError(f"start needs {MOOD_MIN} <= low <= high <= {MOOD_MAX}")
        for name, (one, two) in (("soothe", self.soothe), ("inflame", self.inflame)):
            if not 1 <= one <= two <= MOOD_MAX:
                raise ValueError(f"{name} needs 1 <= the move for 1 <= the move for 2")
        return self

    def move(self, deescalation: int) -> int:
        """How far a grade's de-escalation (-2..+2) moves the mood (positive: calmer)."""
        if deescalation == 0:
            return 0
        step = min(2, abs(deescalation)) - 1
        return self.soothe[step] if deescalation > 0 else -self.inflame[step]


class _DifficultyTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    easy: Patience
    medium: Patience
    hard: Patience = Field()


def _load_patience() -> dict[Difficulty, Patience]:
    table = _DifficultyTable.model_validate(yaml.safe_load(DIFFICULTY_FILE.read_text("utf-8")))
    return {d: getattr(table, d) for d in DIFFICULTIES}


#: Each difficulty's patience, read once at import (a broken table is a bug to fix).
PATIENCE: dict[Difficulty, Patience] = _load_patience()


def mood_band(mood: int) -> MoodBand:
    if mood <= 2:
        return "calm"
    if mood <= 4:
        return "uneasy"
    if mood <= 6:
        return "upset"
    if mood <= 8:
        return "angry"
    return "furious"


@dataclass(frozen=True)
class MoodLook:
    """How a mood is shown to the trainee: its band, the band's name for this
    temperament in the conversation's language, and its colour."""

    mood: int
    band: MoodBand
    label: str
    colour: str


def mood_label(mood: int, temperament: Temperament, language: Language) -> str:
    """The band's name for this temperament (« blessure », "irritated")."""
    return t(f"mood.label.{temperament}.{mood_band(mood)}", language)


def mood_colour(mood: int, temperament: Temperament) -> str:
    return BAND_COLOURS[temperament][mood_band(mood)]


def mood_look(mood: int, temperament: Temperament, language: Language) -> MoodLook:
    """What every surface shows for ``mood`` (the web panel, the terminal)."""
    return MoodLook(
        mood=mood,
        band=mood_band(mood),
        label=mood_label(mood, temperament, language),
        colour=mood_colour(mood, temperament),
    )


def mood_colours(moods: Sequence[int], temperament: Temperament) -> list[str]:
    """The colour of each mood of a trajectory (the panel's history bars)."""
    return [mood_colour(m, temperament) for m in moods]


def clamp(mood: int) -> int:
    return max(MOOD_MIN, min(MOOD_MAX, mood))


def apply(mood: int, deescalation: int, difficulty: Difficulty = "medium") -> int:
    """The mood after a turn: a positive de-escalation lowers it, by as much as
    the persona's difficulty lets it (``bot/difficulty.yaml``)."""
    return clamp(mood - PATIENCE[difficulty].move(deescalation))


def estimate_deescalation(criteria: Mapping[str, CriterionResult]) -> Deescalation:
    """The checks-only estimate of how a turn moves the customer (-2..+2).

    Each soothing criterion met counts +1 (at most +2); each violation counts
    against it by its weight. A turn with a blocking phrase never calms,
    whatever else it does.
    """
    calm = min(2, sum(1 for c in SOOTHING if criteria[c].verdict == "met"))
    heat = sum(w for c, w in INFLAMING.items() if criteria[c].verdict == "missed")
    value = max(-2, min(2, calm - heat))
    if criteria["no_blocking_phrase"].verdict == "missed":
        value = min(value, -1)
    return value  # type: ignore[return-value]  # clamped to -2..2 above


def cap_deescalation(value: int, criteria: Mapping[str, CriterionResult]) -> Deescalation:
    """Make the LLM's de-escalation agree with the grade, whatever it says: a
    turn with no violation cannot inflame; a violation of the heaviest weight
    cannot calm; a blocking phrase or blame found by a check inflames, and
    another violation found by a check cannot calm."""
    value = max(-2, min(2, value))
    missed = [c for c in INFLAMING if criteria[c].verdict == "missed"]
    if not missed:
        value = max(value, 0)
        return value  # type: ignore[return-value]
    if any(c in _HEAVIEST for c in missed):
        value = min(value, 0)
    found = [c for c in missed if criteria[c].source == "check"]
    if any(c in found for c in _NEVER_CALMS):
        value = min(value, -1)
    elif found:
        value = min(value, 0)
    return value  # type: ignore[return-value]


#: Past this many characters, the words quoted in a mood reason are cut.
_QUOTE_MAX = 60


def _quoted(cause: str, evidence: str | None, language: Language) -> str:
    """``cause`` with the trainee's own words that showed it, when there are some."""
    if not evidence:
        return cause
    words = " ".join(evidence.split())
    if len(words) > _QUOTE_MAX:
        words = words[: _QUOTE_MAX - 1].rstrip() + "…"
    return t("feedback.mood_cause", language, cause=cause, evidence=words)


def _first_cause(grade: Grade, verdict: Literal["met", "missed"], language: Language) -> str | None:
    """The highest-ranked criterion with a mood reason for ``verdict``, with its evidence."""
    for c in _BY_RANK:
        said = c.mood and (c.mood.when_missed if verdict == "missed" else c.mood.when_met)
        if said and grade.verdict(c.id) == verdict:
            return _quoted(said[language], grade.criteria[c.id].evidence, language)
    return None


def reason(grade: Grade, delta: int, language: Language) -> str:
    """Why the mood moved by ``delta`` (positive: angrier), in the conversation's
    language, naming what did it and quoting the words that showed it: « phrase
    bloquante : « je ne peux rien faire » ». No move names what cancelled the
    good the reply did, when something did."""
    if delta > 0:
        return _first_cause(grade, "missed", language) or t("feedback.mood_worse", language)
    if delta < 0:
        return _first_cause(grade, "met", language) or t("feedback.mood_better", language)
    good, bad = _first_cause(grade, "met", language), _first_cause(grade, "missed", language)
    if good and bad:
        return t("feedback.mood_cancelled", language, good=good, bad=bad)
    if bad:
        return t("feedback.mood_held", language, bad=bad)
    return t("feedback.mood_same", language)


def end_by_mood(mood: int, *, calm_at: int, walkout_at: int, goals_met: bool) -> MoodEnd | None:
    """Whether the mood ends the session: past the walk-out limit, or calm with
    every scenario goal met (``bot/goals.py``). A calm customer whose goal is
    still open stays and says so."""
    if mood >= walkout_at:
        return "walkout"
    if mood <= calm_at and goals_met:
        return "calm"
    return None
