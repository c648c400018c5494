"""Phrases a persona file writes in plain words, for the checks to find in a turn.

A persona's goal evidence is written by trainers, not by regex authors: each
line is the words the trainee would say, matched like the phrase lists match
(folded: no case, no accents, one kind of apostrophe). Two rules make a line
cover the ways people say it:

- the words come in order within one sentence, with up to
  :data:`MAX_GAP` other words between two of them ("cancel order" matches
  "cancelled your whole order" with ``~``, "cancel the order" without);
- a line starting with ``~`` matches the words' lemmas, so every inflection
  counts (« ~ annuler commande » matches « j'ai annulé votre commande »,
  « la commande est annulée » needs « ~ commande annuler »).

Where a line counts (not quoted, not denied, not asked, not a reformulation)
is the checks' rule: ``checks.said_persona_phrases``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.text import fold

#: How many other words may stand between two words of a phrase.
MAX_GAP = 3
#: A word of a phrase, as folded: apostrophes and hyphens separate words, as
#: they do for the lemmas ("j'annule" is "j" and "annule", "e-mail" two words).
_WORD = re.compile(r"[a-z0-9]+")
#: What separates two words inside a sentence (not a sentence's end).
_SEP = r"[^\w.!?;\n]+"
_GAP_WORD = r"[\w']+"


@dataclass(frozen=True)
class Phrase:
    """One compiled line: its words, whether they are lemmas, and the expression."""

    line: str
    words: tuple[str, ...]
    lemmas: bool
    regex: re.Pattern[str]


@lru_cache(maxsize=4096)
def parse_phrase(line: str) -> Phrase | None:
    """The compiled phrase, or ``None`` when the line has no word to match."""
    body = line.strip()
    lemmas = body.startswith("~")
    words = tuple(_WORD.findall(fold(body[1:] if lemmas else body).text))
    if not words:
        return None
    gap = rf"(?:{_SEP}{_GAP_WORD}){{0,{MAX_GAP}}}{_SEP}"
    expression = gap.join(re.escape(w) for w in words)
    regex = re.compile(rf"(?<!\w){expression}(?!\w)")
    return Phrase(line, words, lemmas, regex)
