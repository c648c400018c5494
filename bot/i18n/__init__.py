"""Every string the trainee and the trainer read (UI and feedback), in French and English.

The strings live in one data file per language (``fr.yaml``, ``en.yaml``
beside this module), so a translator edits text, not code. They are read
once, checked (both languages have the same keys and the same placeholders,
every value is text), and typeset for their language before first use:
French gets its no-break spaces here, in :func:`typeset`, and nowhere else.

Only the catalogue's own templates are typeset; the values put into them
(a customer's line, a trainee's reply, a persona summary) are shown as
written.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from bot.rubric import Language

__all__ = [
    "LANGUAGES",
    "CatalogueError",
    "Language",
    "TranslationError",
    "catalogue",
    "catalogue_problems",
    "date_ticks",
    "format_date",
    "format_datetime",
    "format_number",
    "placeholders",
    "t",
    "typeset",
    "ui_language",
]

LANGUAGES: tuple[Language, ...] = get_args(Language)
FALLBACK: Language = "en"
HERE = Path(__file__).resolve().parent

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"

#: Each language's typography, as (pattern, replacement) pairs applied in order.
#: French: a narrow no-break space before ; ! ? and a no-break space before :
#: and inside « », whatever space (or none) was typed. A mark only counts as
#: punctuation when it ends a word and is followed by a space or the end, so
#: "%H:%M", "http://" or "`/hint`" are left alone.
_TYPOGRAPHY: dict[Language, tuple[tuple[re.Pattern[str], str], ...]] = {
    "fr": (
        (re.compile(r"(?<=\S)[ \u00a0\u202f]?([;!?]+)(?=\s|$)"), NARROW_NBSP + r"\1"),
        (re.compile(r"(?<=\S)[ \u00a0\u202f]?:(?=\s|$)"), NBSP + ":"),
        (re.compile(r"«[ \u00a0\u202f]?"), "«" + NBSP),
        (re.compile(r"[ \u00a0\u202f]?»"), NBSP + "»"),
    ),
    "en": (),
}


class CatalogueError(ValueError):
    """The string catalogue on disk is inconsistent (a bug to fix before release)."""


class TranslationError(LookupError):
    """A string was asked for with an unknown key or the wrong values."""


def typeset(text: str, lang: Language) -> str:
    """``text`` with ``lang``'s typographic rules applied (idempotent)."""
    for pattern, replacement in _TYPOGRAPHY[lang]:
        text = pattern.sub(replacement, text)
    return text


def placeholders(template: str) -> frozenset[str]:
    """The names a template needs, e.g. ``{"name"}`` for ``"Hello {name}"``."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _flatten(tree: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, name + ".", out)
        else:
            out[name] = value


def catalogue_problems(messages: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What is wrong with a catalogue (language -> key -> template), empty if nothing.

    Every language must have the same keys, every value must be text, the same
    key must need the same placeholders in every language, and placeholders
    must be plain names (no attribute or index lookups into the values).
    """
    problems: list[str] = []
    all_keys = set().union(*(set(m) for m in messages.values())) if messages else set()
    for lang, strings in messages.items():
        for key in sorted(all_keys - set(strings)):
            problems.append(f"{lang}: missing key {key!r}")
        for key, value in strings.items():
            if not isinstance(value, str):
                problems.append(f"{lang}: {key!r} is not text")
                continue
            try:
                names = placeholders(value)
            except ValueError as exc:
                problems.append(f"{lang}: {key!r} is not a valid template ({exc})")
                continue
            problems += [
                f"{lang}: {key!r} has a placeholder {{{n}}} that is not a plain name"
                for n in sorted(names)
                if not n.isidentifier()
            ]
    langs = list(messages)
    for key in sorted(all_keys):
        found = {
            lang: placeholders(messages[lang][key])
            for lang in langs
            if isinstance(messages[lang].get(key), str)
        }
        if len(set(found.values())) > 1:
            detail = "; ".join(f"{lang}: {sorted(names)}" for lang, names in found.items())
            problems.append(f"{key!r} has different placeholders ({detail})")
    return problems


def load_catalogue(directory: Path) -> dict[Language, dict[str, str]]:
    """Read, check and typeset ``<lang>.yaml`` for every language in ``directory``."""
    raw: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        path = directory / f"{lang}.yaml"
        try:
            tree = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogueError(f"cannot read the {lang} strings ({path}): {exc}") from None
        if not isinstance(tree, Mapping):
            raise CatalogueError(f"{path} must be a mapping of keys to strings")
        flat: dict[str, Any] = {}
        _flatten(tree, "", flat)
        raw[lang] = flat
    problems = catalogue_problems(raw)
    if problems:
        raise CatalogueError("the UI strings are inconsistent: " + "; ".join(problems))
    return {lang: {k: typeset(v, lang) for k, v in raw[lang].items()} for lang in LANGUAGES}


@cache
def catalogue() -> dict[Language, dict[str, str]]:
    """The project's strings, read and checked on first use."""
    return load_catalogue(HERE)


def t(key: str, lang: Language, **values: Any) -> str:
    """The string ``key`` in ``lang``, its placeholders filled from ``values``.

    An unknown key, a missing value or a value the string does not use is an
    error naming the key: a UI string must never silently come out wrong.
    """
    try:
        template = catalogue()[lang][key]
    except KeyError:
        raise TranslationError(f"no UI string {key!r} in {lang!r}") from None
    needed = placeholders(template)
    if missing := needed - values.keys():
        raise TranslationError(f"UI string {key!r} needs {', '.join(sorted(missing))}")
    if extra := values.keys() - needed:
        raise TranslationError(f"UI string {key!r} does not use {', '.join(sorted(extra))}")
    return template.format_map(values) if needed else template


def ui_language(accept_language: str | None) -> Language:
    """The UI language from the browser's Accept-Language: the first of French
    or English it names, in its order; English when it names neither."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()
        for lang in LANGUAGES:
            if code.startswith(lang):
                return lang
    return FALLBACK


DateStyle = Literal["full", "short"]

#: The locale each UI language writes its dates and numbers in (Babel's CLDR data).
LOCALES: dict[Language, str] = {"fr": "fr_FR", "en": "en_GB"}

#: CLDR skeletons of the day: with the year (tables, transcripts), without (labels, names).
_DAY_SKELETONS: dict[DateStyle, str] = {"full": "yMMMd", "short": "MMMd"}


def format_datetime(value: datetime, lang: Language, style: DateStyle = "full") -> str:
    """A date and time as ``lang`` writes it: « 2 déc. 2026, 02:13 », "2 Dec 2026, 02:13"
    (``short``: without the year). The one way the app writes a moment to a person."""
    from babel.dates import format_skeleton, format_time, get_datetime_format

    locale = LOCALES[lang]
    day = format_skeleton(_DAY_SKELETONS[style], value, locale=locale)
    time = format_time(value, "short", locale=locale)
    return str(get_datetime_format("medium", locale=locale)).format(time, day)


def format_date(value: date | datetime, lang: Language) -> str:
    """A day as ``lang`` writes it: « 2 déc. 2026 », "2 Dec 2026"."""
    from babel.dates import format_skeleton

    day = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    return str(format_skeleton("yMMMd", day, locale=LOCALES[lang]))


def format_number(value: float, lang: Language) -> str:
    """A number as ``lang`` writes it: « 1 149,5 », "1,149.5"."""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=LOCALES[lang]))


#: The most date labels an axis gets.
MAX_TICKS = 8


def date_ticks(values: Sequence[datetime], lang: Language) -> dict[str, list[Any]]:
    """A Plotly date axis labelled in ``lang`` (``tickvals``/``ticktext``): Plotly
    writes dates in US English ("Dec 2, 2026") whatever the page's language, and
    its locale files are not loaded in Chainlit's page."""
    days = sorted({v.replace(hour=0, minute=0, second=0, microsecond=0) for v in values})
    days = days[:: -(-len(days) // MAX_TICKS) or 1]  # at most MAX_TICKS labels
    return {"tickvals": days, "ticktext": [format_date(d, lang) for d in days]}
