"""The persona suite: each persona against a scripted good and bad trainee,
and offline a polite one who solves nothing and one who solves the case.

Pass conditions, per persona and script: the mood ends lower than it started
with the good trainee and higher (or walks out) with the bad one; the polite
trainee never leaves the customer satisfied (their goals stay unmet); the
trainee who solves the case (a script per persona) meets every goal and
ends calm and satisfied; and no customer line steps out of character,
reveals its instructions or coaches the trainee. Offline, every persona also
plays a mediocre trainee at each difficulty (``bot/difficulty.yaml``): the
harder the difficulty, the worse it must end, and the hard personas, as
written, must end worse than the easy ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import guard
from bot.errors import EvalError
from bot.events import CustomerSaid, Event, Failure, GradeReady
from bot.mood import DIFFICULTIES, MOOD_MAX
from bot.personas import Persona
from bot.rubric import Language
from bot.session import SessionEngine

ScriptKind = Literal["good", "bad", "polite", "solved", "mediocre"]
#: The scripts every suite plays; offline adds the polite one (the LLM suite
#: replays recordings, which a new script would need first).
MOOD_KINDS: tuple[ScriptKind, ...] = ("good", "bad")
OFFLINE_KINDS: tuple[ScriptKind, ...] = (*MOOD_KINDS, "polite", "solved", "mediocre")


class LanguageScripts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    boundary: list[str]
    good: list[str]
    bad: list[str]
    polite: list[str]
    mediocre: list[str]


class PersonaScripts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fr: LanguageScripts
    en: LanguageScripts
    #: Per persona id: a trainee who reaches that persona's goals.
    solved: dict[str, list[str]] = Field(default_factory=dict)

    def lines(self, persona: Persona, kind: ScriptKind) -> list[str]:
        scripts: LanguageScripts = getattr(self, persona.language)
        if kind in ("bad", "polite", "mediocre"):
            return list(getattr(scripts, kind))
        if kind == "solved" and persona.id not in self.solved:
            raise EvalError(
                f"persona scripts: no `solved` script for {persona.id}; add the lines of a "
                "trainee who reaches its goals under solved: in evals/persona_scripts.yaml"
            )
        lines = self.solved[persona.id] if kind == "solved" else scripts.good
        return [*(scripts.boundary if persona.abusive else []), *lines]


def load_scripts(path: Path) -> PersonaScripts:
    try:
        return PersonaScripts.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise EvalError(f"{path}: persona scripts not found") from None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise EvalError(f"{path}: invalid persona scripts: {first}") from None


@dataclass
class PersonaRun:
    persona: str
    language: Language
    script: ScriptKind
    moods: list[int]
    end: str | None
    customer_lines: list[str]
    #: Lines that broke character and still reached the trainee (must stay empty).
    violations: list[dict[str, str]] = field(default_factory=list)
    #: Model lines the character guard replaced before the trainee saw them.
    guarded: list[str] = field(default_factory=list)
    #: The persona's goals the trainee reached.
    goals: list[str] = field(default_factory=list)
    #: Model calls that failed (a customer reply that never came, a grade left
    #: ungraded): a run with any proves nothing, and a recording is incomplete.
    model_failures: list[str] = field(default_factory=list)
    #: Set when the run itself could not complete.
    error: str | None = None
    #: The difficulty played (the persona's own, or another for the mediocre script).
    difficulty: str = ""
    #: The persona's difficulty as its file writes it.
    written_difficulty: str = ""
    #: How many script lines were left when the session ended.
    unplayed: int = 0

    @property
    def severity(self) -> int:
        """How badly it ended: the last mood, and past the scale for a walk-out
        (the earlier, the worse)."""
        if self.end == "walkout":
            return MOOD_MAX + 1 + self.unplayed
        return self.moods[-1]

    @property
    def mood_ok(self) -> bool:
        start, final = self.moods[0], self.moods[-1]
        if self.script == "good":
            return final < start
        if self.script in ("polite", "solved", "mediocre"):
            return True  # judged by how the session ends, not by the mood
        return final > start or self.end == "walkout"

    @property
    def satisfied_unsolved(self) -> bool:
        """A polite trainee who solved nothing left the customer satisfied."""
        return self.script == "polite" and self.end == "calm"

    @property
    def solved_unsatisfied(self) -> bool:
        """A trainee who solved the case did not leave the customer satisfied."""
        return self.script == "solved" and self.end != "calm"

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and self.mood_ok
            and not self.satisfied_unsolved
            and not self.solved_unsatisfied
            and not self.violations
            and not self.model_failures
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "persona": self.persona,
            "language": self.language,
            "script": self.script,
            "difficulty": self.difficulty,
            "moods": self.moods,
            "end": self.end,
            "mood_ok": self.mood_ok,
            "satisfied_unsolved": self.satisfied_unsolved,
            "solved_unsatisfied": self.solved_unsatisfied,
            "goals": self.goals,
            "violations": self.violations,
            "model_failures": self.model_failures,
            "guarded": self.guarded,
            "passed": self.passed,
            "error": self.error,
        }


async def play_persona(
    engine: SessionEngine,
    persona: Persona,
    kind: ScriptKind,
    scripts: PersonaScripts,
    lexicon_dir: Path,
) -> PersonaRun:
    run = PersonaRun(persona.id, persona.language, kind, [persona.mood.start], None, [])
    run.difficulty = persona.difficulty

    def observe(event: Event, *, reply: bool = True) -> None:
        match event:
            case CustomerSaid(content=content, guarded=guarded):
                run.customer_lines.append(content)
                if not reply:  # the authored opening line
                    return
                run.guarded += guarded
                # What the trainee saw, after the guard: it must never break character.
                run.violations += [
                    {"kind": v.kind, "matched": v.matched, "line": content}
                    for v in guard.violations(content, persona, lexicon_dir)
                ]
            case Failure(message=message):
                run.model_failures.append(message)
            case GradeReady(grade=grade) if grade.mode == "ungraded":
                run.model_failures.append(grade.note or "ungraded")
            case _:
                return  # grades, moods and chunks: the suite reads them from the engine

    for event in await engine.start():
        observe(event, reply=False)
    lines = scripts.lines(persona, kind)
    for number, line in enumerate(lines):
        if engine.ended:
            run.unplayed = len(lines) - number
            break
        async for event in engine.turn(line):
            observe(event)
        run.moods.append(engine.mood)
    run.end = engine.ended
    run.goals = sorted(engine.goals_reached)
    return run


async def run_personas(
    personas: Sequence[Persona],
    make_engine: Callable[[Persona], SessionEngine],
    scripts: PersonaScripts,
    lexicon_dir: Path,
    *,
    concurrency: int = 4,
    on_done: Callable[[], None] | None = None,
    kinds: Sequence[ScriptKind] = MOOD_KINDS,
) -> list[PersonaRun]:
    limit = asyncio.Semaphore(concurrency)

    async def one(persona: Persona, kind: ScriptKind, written: str) -> PersonaRun:
        async with limit:
            try:
                run = await play_persona(make_engine(persona), persona, kind, scripts, lexicon_dir)
                run.written_difficulty = written
                return run
            finally:
                if on_done:
                    on_done()

    def played(persona: Persona, kind: ScriptKind) -> list[Persona]:
        if kind != "mediocre":
            return [persona]
        # The same persona at every difficulty: what changes is its patience alone.
        return [persona.model_copy(update={"difficulty": d}) for d in DIFFICULTIES]

    jobs = [one(q, kind, p.difficulty) for p in personas for kind in kinds for q in played(p, kind)]
    return list(await asyncio.gather(*jobs))


def difficulty_metrics(runs: Sequence[PersonaRun]) -> dict[str, Any] | None:
    """How the mediocre trainee fared by difficulty, or None if it did not play.

    ``ordered``: the share of personas for which each harder difficulty ended
    at least as badly and hard strictly worse than easy; ``by_difficulty``:
    the mean severity of the personas as written, per their own difficulty.
    """
    mediocre = [r for r in runs if r.script == "mediocre" and r.error is None]
    if not mediocre:
        return None
    by_persona: dict[str, dict[str, int]] = {}
    for r in mediocre:
        by_persona.setdefault(r.persona, {})[r.difficulty] = r.severity
    ordered = [
        s["easy"] <= s["medium"] <= s["hard"] and s["easy"] < s["hard"]
        for s in by_persona.values()
        if set(DIFFICULTIES) <= s.keys()
    ]
    own: dict[str, list[int]] = {}
    for persona, severities in by_persona.items():
        written = next(r for r in mediocre if r.persona == persona).written_difficulty
        own.setdefault(written, []).append(severities[written])
    return {
        "ordered": round(sum(ordered) / len(ordered), 4) if ordered else None,
        "severity": by_persona,
        "by_difficulty": {d: round(sum(v) / len(v), 2) for d, v in sorted(own.items())},
    }


def persona_metrics(runs: Sequence[PersonaRun]) -> dict[str, Any]:
    moved = [r for r in runs if r.script in MOOD_KINDS]
    return {
        "runs": len(runs),
        "passed": sum(r.passed for r in runs),
        "mood_direction": (round(sum(r.mood_ok for r in moved) / len(moved), 4) if moved else None),
        "satisfied_unsolved": sum(r.satisfied_unsolved for r in runs),
        "solved_unsatisfied": sum(r.solved_unsatisfied for r in runs),
        "violations": sum(len(r.violations) for r in runs),
        "model_failures": sum(len(r.model_failures) for r in runs),
        "guarded": sum(len(r.guarded) for r in runs),
        "by_kind": {
            kind: sum(1 for r in runs for v in r.violations if v["kind"] == kind)
            for kind in guard.KINDS
        },
        "difficulty": difficulty_metrics(runs),
    }
