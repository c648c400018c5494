"""Load the phrase lists (``fr.txt``, ``en.txt``) and find their matches in a text.

The format is documented at the top of ``fr.txt``. Errors name the file, the
line and what is wrong, so a trainer editing a list gets one readable line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.errors import LexiconError
from bot.rubric import CRITERIA, Language
from bot.text import Folded

#: The lists the code's rules use (checks, grader, customer).
CODE_LISTS: tuple[str, ...] = (
    "apology",
    "non_apology",
    "reformulation",
    "first_person",
    "company_voice",
    "opening_thanks",
    "filler",
    "blocking",
    "speech_negation",
    "blame",
    "emotion",
    "narration",
    "wait",
    "hold",
    "duration",
    "hold_reason",
    "timeline",
    "vague_time",
    "other_concerns",
    "thanks",
    "farewell",
    "boundary",
    "insult",
    "pass_ball",
    "own",
    "solution",
    "open_question",
    "steps",
    "injection",
    "request",
    "contempt",
    "contrast",
)
#: The lists criteria name in ``bot/rubric.yaml`` (``check: missed_when/met_when``).
RUBRIC_LISTS: tuple[str, ...] = tuple(
    dict.fromkeys(
        c.check.list_name for c in CRITERIA if c.check and c.check.list_name not in CODE_LISTS
    )
)
#: Every list; both languages must define each one.
LIST_NAMES: tuple[str, ...] = CODE_LISTS + RUBRIC_LISTS

_MACRO = re.compile(r"^@([A-Z_]+)\s*=\s*(.+)$")
_SECTION = re.compile(r"^\[([a-z_]+)\]$")
_USE = re.compile(r"\{([A-Z_]+)\}")


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    #: The words as the trainee typed them.
    evidence: str


@dataclass(frozen=True)
class Pattern:
    source: str  # "fr.txt:123"
    regex: re.Pattern[str]


class Lexicon:
    def __init__(self, language: Language, lists: dict[str, tuple[Pattern, ...]]) -> None:
        self.language = language
        self.lists = lists

    def find(self, name: str, folded: Folded, *, include_quoted: bool = False) -> list[Match]:
        """Matches of list ``name`` in the text, left to right, without overlaps."""
        quoted = [] if include_quoted else folded.quoted_spans()
        found: list[Match] = []
        for pattern in self.lists[name]:
            for m in pattern.regex.finditer(folded.text):
                if m.end() == m.start():
                    continue
                if any(qs <= m.start() < qe for qs, qe in quoted):
                    continue
                found.append(Match(m.start(), m.end(), folded.source(m.start(), m.end())))
        found.sort(key=lambda x: (x.start, -x.end))
        merged: list[Match] = []
        for match in found:
            if merged and match.start < merged[-1].end:
                continue
            merged.append(match)
        return merged


def _wrap(pattern: str) -> str:
    # Whole words: nothing word-like just before; just after, nothing
    # word-like unless the match ended on an elision ("j'", "l'").
    return rf"(?<!\w)(?:{pattern})(?:(?<=')|(?!\w))"


def parse_lexicon(
    text: str, filename: str, names: tuple[str, ...] = LIST_NAMES
) -> dict[str, tuple[Pattern, ...]]:
    macros: dict[str, str] = {}
    lists: dict[str, list[Pattern]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{filename}:{number}"
        if not line or line.startswith("#"):
            continue
        if m := _MACRO.match(line):
            macros[m.group(1)] = m.group(2).strip()
            continue
        if m := _SECTION.match(line):
            current = m.group(1)
            if current not in names:
                raise LexiconError(
                    f"{where}: unknown list [{current}]; known lists: {', '.join(names)}"
                )
            if current in lists:
                raise LexiconError(f"{where}: list [{current}] is defined twice; merge them")
            lists[current] = []
            continue
        if current is None:
            raise LexiconError(f"{where}: pattern before any [list] header; add one above it")

        def expand(m: re.Match[str], where: str = where) -> str:
            name = m.group(1)
            if name not in macros:
                raise LexiconError(
                    f"{where}: unknown macro {{{name}}}; define it with @{name} = ..."
                )
            return macros[name]

        expanded = _USE.sub(expand, line)
        try:
            regex = re.compile(_wrap(expanded), re.MULTILINE)
        except re.error as exc:
            raise LexiconError(f"{where}: [{current}] is not a valid pattern: {exc}") from None
        lists[current].append(Pattern(where, regex))
    missing = [n for n in names if n not in lists]
    if missing:
        raise LexiconError(
            f"{filename}: missing lists {', '.join(missing)}; add them (may be empty)"
        )
    return {name: tuple(patterns) for name, patterns in lists.items()}


def load_lexicon(language: Language, directory: Path | None = None) -> Lexicon:
    """The phrase lists for ``language``, from COACH_LEXICON_DIR (default: here)."""
    if directory is None:
        from bot.settings import get_settings

        directory = get_settings().lexicon_dir
    return _load(language, directory.resolve())


@cache
def _load(language: Language, directory: Path) -> Lexicon:
    path = directory / f"{language}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"cannot read {path}: {exc.strerror}") from None
    return Lexicon(language, parse_lexicon(text, path.name))
