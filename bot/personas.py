"""Personas: the simulated customers, one YAML file each in ``personas/``.

A persona is validated by :class:`Persona` (unknown fields rejected). Loading
errors are one line each that names the file, the line and the field, e.g.
``personas/fr-deuil.yaml:14: mood.start: must be at most 10``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import PersonaError
from bot.files import read_text
from bot.goals import Goal, duplicate_ids
from bot.mood import MOOD_MAX, MOOD_MIN, PATIENCE, Difficulty, MoodBand, Temperament
from bot.rubric import Language, Priority

Channel = Literal["phone", "chat", "in_person"]

SCHEMA_FILE = "persona.schema.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Line = str
Lines = list[Line]


class Fact(_Strict):
    """Something the customer knows. Hidden facts are told only when asked."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="Short key, e.g. order_number.")
    text: str = Field(min_length=1, description="The fact, for the LLM customer.")
    reveal: Literal["upfront", "when_asked"] = Field(
        default="when_asked",
        description="upfront: the customer may say it unprompted; when_asked: only "
        "when the trainee asks for it.",
    )
    ask: list[str] = Field(
        min_length=1,
        description="Words that mean the trainee asks for this fact (offline mode); "
        "matched without case or accents, e.g. ['numéro de commande', 'commande'].",
    )
    answer: Line = Field(min_length=1, description="What the offline customer says when asked.")


class Mood(_Strict):
    start: int = Field(ge=MOOD_MIN, le=MOOD_MAX, description="Mood at the start (0 calm .. 10).")
    calm_at: int = Field(
        ge=MOOD_MIN,
        le=MOOD_MAX,
        description="At or below this the customer is calm enough to be satisfied.",
    )
    walkout_at: int = Field(
        ge=MOOD_MIN + 1, le=MOOD_MAX, description="At or above this the customer leaves."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Mood:
        if not self.calm_at < self.start < self.walkout_at:
            raise ValueError(
                f"needs calm_at < start < walkout_at, got {self.calm_at} < {self.start} "
                f"< {self.walkout_at}"
            )
        return self


class AuthoredLines(_Strict):
    """What the customer says in offline mode, by mood and by reaction.

    Each list needs at least one line; two or more keep the customer from
    repeating itself.
    """

    furious: Lines = Field(min_length=1, description="Mood 9-10.")
    angry: Lines = Field(min_length=1, description="Mood 7-8.")
    upset: Lines = Field(min_length=1, description="Mood 5-6.")
    uneasy: Lines = Field(min_length=1, description="Mood 3-4.")
    calm: Lines = Field(min_length=1, description="Mood 0-2.")
    inflamed: Lines = Field(
        min_length=1, description="Reaction to a blocking phrase, blame or an insult."
    )
    soothed: Lines = Field(min_length=1, description="Reaction to a turn that clearly helps.")
    satisfied: Lines = Field(min_length=1, description="Closing line when calm and satisfied.")
    walkout: Lines = Field(min_length=1, description="Last line before leaving.")

    def for_band(self, band: MoodBand) -> Lines:
        lines: Lines = getattr(self, band)
        return lines


class Persona(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Same as the file name.")
    name: str = Field(min_length=1)
    language: Language
    channel: Channel
    difficulty: Difficulty
    summary: str = Field(
        min_length=1,
        max_length=200,
        description="One line shown to trainees in the scenario picker.",
    )
    situation: str = Field(min_length=1, description="What happened, from the customer's side.")
    background: str = Field(
        default="",
        description="Hidden notes for the LLM customer only: personality, motives, "
        "what they will not say unless asked. Never shown to the grader or the trainee.",
    )
    facts: list[Fact] = Field(default_factory=list)
    wants: str = Field(min_length=1, description="What would satisfy them.")
    goals: list[Goal] = Field(
        description="What must happen for them to leave satisfied, as checkable conditions: "
        "the session ends calm only when every goal is met.",
        json_schema_extra={"minItems": 1},
    )
    priority: Priority = Field(
        default="both",
        description="What a good agent handles first: the facts (an outage), the emotion "
        "(a bereavement), or both. The grader uses it for 'prioritize'.",
    )
    abusive: bool = Field(
        default=False, description="Insults or threatens: the trainee must set boundaries."
    )
    temperament: Temperament = Field(
        description="How their upset shows: angry (irritated, angry, furious), distressed "
        "(upset, hurt, heartbroken: grief, fear for someone) or anxious (worried, anxious, "
        "panicking: a deadline, confusion). It names and colours the mood the trainee sees."
    )
    mood: Mood
    inflamed_by: list[str] = Field(min_length=1)
    triggers: list[str] = Field(
        default_factory=list,
        description="Literal phrases that hurt this customer like contempt (e.g. « ce n'est "
        "qu'un chien »): the checks mark them as a harm, weighted like a blocking phrase. "
        "Matched without case, accents or punctuation.",
    )
    soothed_by: list[str] = Field(min_length=1)
    style: str = Field(min_length=1, description="How they speak or write.")
    opening: Line = Field(min_length=1, description="The customer's first message.")
    lines: AuthoredLines
    tags: list[str] = Field(default_factory=list)

    @field_validator("facts")
    @classmethod
    def _unique_fact_ids(cls, facts: list[Fact]) -> list[Fact]:
        ids = [f.id for f in facts]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate fact ids: {', '.join(duplicates)}")
        return facts

    @field_validator("goals")
    @classmethod
    def _unique_goal_ids(cls, goals: list[Goal]) -> list[Goal]:
        if not goals:
            raise ValueError("no goals: list what must happen for this customer to leave satisfied")
        if duplicates := duplicate_ids(goals):
            raise ValueError(f"duplicate goal ids: {', '.join(duplicates)}; give each its own")
        return goals

    @model_validator(mode="after")
    def _start_fits_the_difficulty(self) -> Persona:
        low, high = PATIENCE[self.difficulty].start
        if not low <= self.mood.start <= high:
            raise ValueError(
                f"mood.start {self.mood.start} does not fit difficulty {self.difficulty} "
                f"(it starts between {low} and {high}, bot/difficulty.yaml); change one of them"
            )
        return self

    @property
    def hidden_facts(self) -> list[Fact]:
        return [f for f in self.facts if f.reveal == "when_asked"]

    def label(self) -> str:
        return f"{self.name} ({self.language}, {self.channel}, {self.difficulty})"


def persona_json_schema() -> dict[str, Any]:
    schema = Persona.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "De-escalation coach persona"
    return schema


def persona_json_schema_text() -> str:
    return json.dumps(persona_json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- loading with readable errors --------------------------------------------------


def _line_of(node: yaml.Node | None, loc: Iterable[int | str]) -> tuple[int | None, bool]:
    """The 1-based line of the YAML node at ``loc`` (pydantic's error location), and
    whether the exact node was found (else the line is its nearest parent's)."""
    if node is None:
        return None, False
    current = node
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == part:
                    # Unknown keys point at the key itself; values at their value.
                    nxt = value if not isinstance(value, yaml.ScalarNode) or value.value else key
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            nxt = current.value[part]
        if nxt is None:
            return current.start_mark.line + 1, False
        current = nxt
    return current.start_mark.line + 1, True


def _describe(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; `coach personas schema` lists the fields)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return message.removeprefix("Value error, ")


#: A persona is a page of text: past this size, a file is refused unread.
MAX_PERSONA_BYTES = 256 * 1024
#: Persona fields nest three or four levels; far deeper is a broken or hostile file.
MAX_PERSONA_DEPTH = 20


def _depth(node: yaml.Node | None) -> int:
    """How deep the YAML nodes nest (iteratively: a hostile file cannot blow the stack)."""
    deepest, stack = 0, [(node, 1)] if node is not None else []
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_PERSONA_DEPTH:
            break
        if isinstance(current, yaml.SequenceNode):
            stack.extend((child, level + 1) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend((value, level + 1) for _, value in current.value)
    return deepest


def parse_persona(text: str, path: Path) -> Persona:
    """Validate one persona file's text; raise one-line :class:`PersonaError`."""
    shown = _display(path)
    try:
        node = yaml.compose(text)
        if _depth(node) > MAX_PERSONA_DEPTH:
            raise PersonaError(
                f"{shown}: nested deeper than {MAX_PERSONA_DEPTH} levels; a persona needs 4"
            )
        data = yaml.safe_load(text)
    except RecursionError:
        raise PersonaError(
            f"{shown}: nested far too deep to read; a persona needs 4 levels"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PersonaError(f"{shown}{at}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{shown}: expected a mapping of fields (id: ..., name: ...)")
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        # A misspelt field also shows up as a missing one: report the typo first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = first["loc"]
        line, _ = _line_of(node, loc)
        field = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        where = f"{shown}:{line}" if line else shown
        raise PersonaError(f"{where}: {field}: {_describe(first)}{more}") from None
    if persona.id != path.stem:
        line, _ = _line_of(node, ["id"])
        raise PersonaError(
            f"{shown}:{line}: id: '{persona.id}' must match the file name '{path.stem}'"
        )
    return persona


def load_persona_file(path: Path) -> Persona:
    text = read_text(path, PersonaError, "persona file", max_bytes=MAX_PERSONA_BYTES)
    return parse_persona(text, path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class PersonaCatalog:
    """Every persona in a folder; files with errors are reported, not fatal."""

    personas: dict[str, Persona]
    errors: list[PersonaError]

    def get(self, persona_id: str) -> Persona:
        try:
            return self.personas[persona_id]
        except KeyError:
            known = ", ".join(sorted(self.personas)) or "none"
            raise PersonaError(
                f"unknown persona '{persona_id}'; known: {known} (see `coach personas list`)"
            ) from None


def persona_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))


def load_catalog(directory: Path) -> PersonaCatalog:
    if not directory.is_dir():
        raise PersonaError(f"{directory}: persona folder not found; set COACH_PERSONAS_DIR")
    personas: dict[str, Persona] = {}
    errors: list[PersonaError] = []
    for path in persona_files(directory):
        try:
            persona = load_persona_file(path)
        except PersonaError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # one bad file never takes the others down
            errors.append(PersonaError(f"{_display(path)}: cannot be read: {type(exc).__name__}"))
            continue
        personas[persona.id] = persona
    return PersonaCatalog(personas, errors)


_CATALOG_CACHE: dict[Path, tuple[tuple[tuple[str, float], ...], PersonaCatalog]] = {}


def _mtime(path: Path) -> float:
    # A dangling link has no time of its own: it is reported when loaded.
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def cached_catalog(directory: Path) -> PersonaCatalog:
    """The catalog, re-read only when a file in the folder was added, removed or changed."""
    directory = directory.resolve()
    stamp = (
        tuple((p.name, _mtime(p)) for p in persona_files(directory)) if directory.is_dir() else ()
    )
    cached = _CATALOG_CACHE.get(directory)
    if cached and cached[0] == stamp:
        return cached[1]
    catalog = load_catalog(directory)
    _CATALOG_CACHE[directory] = (stamp, catalog)
    return catalog
