"""Text normalisation for matching, with a map back to the original text.

Phrase lists are written against a folded form of the text: lower case, no
accents, one kind of apostrophe, hyphens as spaces, single spaces. So
« Désolée », "DESOLEE" and "desolee" are the same, and « calmez-vous »,
« CALMEZ VOUS » and « calmez‑vous » match one pattern. Every folded character
remembers where it came from, so evidence is quoted as the trainee typed it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_APOSTROPHES = "\u2019\u2018\u02bc\u0060\u00b4\u2032\u02b9"
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}
#: Quotation pairs whose content is reported speech, not the trainee's own words.
_QUOTE_PAIRS = {"«": "»", "“": "”", "„": "“", '"': '"'}
_SENTENCE_END = re.compile(r"[.!?;\n]+")


@dataclass(frozen=True)
class Folded:
    """A folded copy of ``original`` and, per folded character, its source index."""

    original: str
    text: str
    index: tuple[int, ...] = field(repr=False)

    def source(self, start: int, end: int) -> str:
        """The original text behind the folded span ``[start, end)``."""
        if start >= end:
            return ""
        return self.original[self.index[start] : self.index[end - 1] + 1].strip()

    def quoted_spans(self) -> list[tuple[int, int]]:
        """Spans (in folded coordinates) inside quotation marks."""
        spans: list[tuple[int, int]] = []
        i, text = 0, self.text
        while i < len(text):
            closer = _QUOTE_PAIRS.get(text[i])
            if closer is not None:
                end = text.find(closer, i + 1)
                if end != -1:
                    spans.append((i, end + 1))
                    i = end + 1
                    continue
            i += 1
        return spans

    def sentence_bounds(self, position: int) -> tuple[int, int]:
        """The span of the sentence (or clause ended by ; or a line break) around a position."""
        start = 0
        for match in _SENTENCE_END.finditer(self.text):
            if match.end() <= position:
                start = match.end()
            elif match.start() >= position:
                return start, match.start()
        return start, len(self.text)


def fold(original: str) -> Folded:
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(original):
        if ch in _LIGATURES:
            pieces = _LIGATURES[ch]
        elif ch in _APOSTROPHES:
            pieces = "'"
        elif ch in _HYPHENS or ch == "_":
            pieces = " "
        elif ch.isspace():
            pieces = "\n" if ch == "\n" else " "
        else:
            decomposed = unicodedata.normalize("NFKD", ch)
            pieces = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
        for piece in pieces:
            if piece == " " and (not chars or chars[-1] in " \n"):
                continue  # collapse runs of spaces
            if piece == "\n" and chars and chars[-1] == " ":
                chars[-1], index[-1] = "\n", i
                continue
            chars.append(piece)
            index.append(i)
    return Folded(original, "".join(chars), tuple(index))
