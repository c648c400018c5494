"""Grading cases: the input of ``coach grade`` and the lines of eval datasets.

A case is a trainee turn to grade, in context::

    {"id": "fr-01", "language": "fr", "persona": "optional-id",
     "history": [{"role": "customer", "content": "..."}],
     "turn": "the trainee turn to grade",
     "expect": {"no_blocking_phrase": "missed"}}

A file holds one case (a JSON object), a JSON array of cases, or JSON Lines.
Every problem is one line naming the file, the line and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.conversation import MAX_MESSAGE_CHARS, Message
from bot.errors import CaseError
from bot.files import read_text
from bot.personas import PersonaCatalog
from bot.rubric import CRITERIA_BY_ID, Language, Verdict


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = None
    language: Language | None = None
    persona: str | None = None
    history: list[Message] = Field(default_factory=list)
    turn: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    expect: dict[str, Verdict] = Field(default_factory=dict)
    #: Free labels for evals: conversation phase, "adversarial", "negation"...
    tags: list[str] = Field(default_factory=list)
    #: For an adversarial case: the id of the same turn without the attack.
    twin: str | None = None
    #: Why the labels are what they are (for reviewers).
    note: str | None = None

    @field_validator("expect")
    @classmethod
    def _known_criteria(cls, expect: dict[str, Verdict]) -> dict[str, Verdict]:
        unknown = [c for c in expect if c not in CRITERIA_BY_ID]
        if unknown:
            raise ValueError(
                f"unknown criterion {', '.join(unknown)}; use one of the ids in bot/rubric.yaml"
            )
        return expect

    @model_validator(mode="after")
    def _language_given(self) -> Case:
        if self.language is None and self.persona is None:
            raise ValueError("needs a language (fr or en) or a persona")
        return self


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        message = f"longer than {limit} characters; a trainee reply is shorter, so cut it"
    return f"{loc}: {message}" if loc else message


def parse_case(data: Any, where: str, catalog: PersonaCatalog | None) -> Case:
    if not isinstance(data, dict):
        raise CaseError(
            f"{where}: a case must be a JSON object with at least 'turn' and 'language'"
        )
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise CaseError(f"{where}: {_describe(exc.errors()[0])}") from None
    if case.persona is not None:
        if catalog is None:
            raise CaseError(f"{where}: persona '{case.persona}' given but no personas are loaded")
        if case.persona not in catalog.personas:
            known = ", ".join(sorted(catalog.personas)) or "none"
            raise CaseError(f"{where}: persona: unknown persona '{case.persona}'; known: {known}")
        persona_language = catalog.personas[case.persona].language
        if case.language is None:
            case.language = persona_language
        elif case.language != persona_language:
            raise CaseError(
                f"{where}: language: '{case.language}' but persona '{case.persona}' "
                f"speaks '{persona_language}'"
            )
    return case


def parse_cases(text: str, source: str, catalog: PersonaCatalog | None) -> list[Case]:
    """Cases from a JSON object, a JSON array, or JSON Lines."""
    stripped = text.strip()
    if not stripped:
        raise CaseError(f"{source}: no cases (the input is empty)")
    cases: list[Case] = []
    if stripped[0] in "[{":
        try:
            whole = _loads(stripped, source)
        except json.JSONDecodeError:
            whole = None  # maybe JSON Lines; parsed line by line below
        else:
            items = whole if isinstance(whole, list) else [whole]
            for i, item in enumerate(items):
                where = f"{source}: case {i + 1}" if isinstance(whole, list) else source
                cases.append(parse_case(item, where, catalog))
            return _numbered(cases, source)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = _loads(line, f"{source}:{number}")
        except json.JSONDecodeError as exc:
            raise CaseError(
                f"{source}:{number}: not JSON ({exc.msg} at column {exc.colno}); "
                "give one JSON object per line, or one JSON document"
            ) from None
        cases.append(parse_case(data, f"{source}:{number}", catalog))
    return _numbered(cases, source)


def _loads(text: str, where: str) -> Any:
    """``json.loads``, with nesting past what a case can hold as one line
    (Python's parser recurses, so 100,000 brackets would be a RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise CaseError(
            f"{where}: the JSON is nested too deep to be a case; a case is one object "
            "with 'turn' and 'language'"
        ) from None


def _numbered(cases: list[Case], source: str) -> list[Case]:
    seen: set[str] = set()
    for i, case in enumerate(cases, start=1):
        if case.id is None:
            case.id = f"case-{i}"
        if case.id in seen:
            raise CaseError(f"{source}: duplicate case id '{case.id}'; ids must be unique")
        seen.add(case.id)
    return cases


def load_cases(path: Path, catalog: PersonaCatalog | None) -> list[Case]:
    return parse_cases(read_text(path, CaseError), str(path), catalog)
