"""The character guard: a model-written customer line never breaks character.

Prompts ask the customer model to stay in character, never reveal its
instructions and never coach the trainee, but a small or a jailbroken model
may still do it. Every customer line a model writes is checked against the
phrase lists in ``bot/lexicon/guard.txt`` and against the persona's hidden
notes (eight words in a row said out loud is a leak); a line that fails is
replaced by one of the persona's authored lines for the current mood.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.lexicon import Lexicon, parse_lexicon
from bot.personas import Persona
from bot.text import fold

KINDS: tuple[str, ...] = ("out_of_character", "reveals_instructions", "coaches")
#: Consecutive words of the hidden notes that count as a leak.
LEAK_WORDS = 8


@dataclass(frozen=True)
class Violation:
    kind: str
    matched: str


@cache
def _lists(directory: Path) -> Lexicon:
    path = directory / "guard.txt"
    return Lexicon("en", parse_lexicon(path.read_text(encoding="utf-8"), path.name, KINDS))


def violations(line: str, persona: Persona, lexicon_dir: Path) -> list[Violation]:
    lists = _lists(lexicon_dir.resolve())
    folded = fold(line)
    found = [
        Violation(kind, m.evidence)
        for kind in KINDS
        for m in lists.find(kind, folded, include_quoted=True)[:1]
    ]
    leak = _leaked_notes(folded.text, persona)
    if leak:
        found.append(Violation("reveals_instructions", leak))
    return found


def _leaked_notes(folded_line: str, persona: Persona) -> str | None:
    words = fold(persona.background).text.split()
    for i in range(len(words) - LEAK_WORDS + 1):
        chunk = " ".join(words[i : i + LEAK_WORDS])
        if chunk in folded_line:
            return chunk
    return None
