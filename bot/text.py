"""Text normalisation for matching, with a map back to the original text.

Phrase lists are written against a folded form of the text, the one step
every check goes through:

- Unicode compatibility forms are unified (NFKC: full-width letters,
  ligatures), invisible characters (zero-width spaces and joiners, soft
  hyphens, bidirectional marks) are dropped, and letters of other scripts
  that look like Latin ones (a Cyrillic "а" or "С", a Greek "ο") are read as
  the Latin letter, using Unicode's confusables data;
- lower case, no accents, one kind of apostrophe, hyphens as spaces, single
  spaces;
- letters typed one by one ("c a l m  d o w n") are joined into words.

So « Désolée », "DESOLEE" and "desolee" are the same, and « calmez-vous »,
« CALMEZ VOUS », « calmez‑vous » and « cаlmez-vous » (with a Cyrillic а)
match one pattern. Every folded character remembers where it came from, so
evidence is quoted as the trainee typed it.

A second, *loose* view (:meth:`Folded.loose`) also reads punctuation between
words as a space, so "That's... just... how... it is" or "Calm. Down." match
the phrase they spell; the checks look for violations in both views.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache

_APOSTROPHES = "\u2019\u2018\u02bc\u0060\u00b4\u2032\u02b9"
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}
#: Quotation pairs whose content is reported speech, not the trainee's own words.
_QUOTE_PAIRS = {"«": "»", "“": "”", "„": "“", '"': '"'}
_QUOTE_OPENERS = re.compile("[" + re.escape("".join(_QUOTE_PAIRS)) + "]")
_SENTENCE_END = re.compile(r"[.!?;\n]+")
#: A single-quoted span: the quote opens after a space or a bracket and closes
#: before a space or punctuation, so the apostrophe of "that's" is neither.
_SINGLE_QUOTED = re.compile(r"(?:^|(?<=[\s(\[]))'(?=\w)[^\n]*?(?<=[\w.!?,])'(?=[\s.,;:!?)\]]|$)")
#: Abbreviations whose period does not end a sentence ("Mr.", « M. », "e.g.").
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "approx"),
        *("e.g", "i.e", "cf", "inc", "ltd", "dept", "ref", "ext"),
        *("m", "mme", "mlle", "mm", "pr", "p.ex", "bd", "env"),
    }
)
_ABBREVIATION_BEFORE = re.compile(r"(?:^|(?<=[\s(]))([a-z]+(?:\.[a-z]+)*)$")
#: Punctuation or a line break between two words, which the loose view reads as a space.
_BETWEEN_WORDS = re.compile(r"(?<=\w)(?:[ ]?(?:\.{2,}|…|[.,;:!?*_~/\\|-])+[ ]?|[ ]?\n+[ ]?)(?=\w)")


def _is_invisible(ch: str) -> bool:
    # Format characters (zero-width space and joiners, soft hyphen, bidi marks)
    # carry no letter; a trainee or an attacker can hide them inside a phrase.
    return unicodedata.category(ch) == "Cf"


@cache
def _latin_lookalike(ch: str) -> str | None:
    """The Latin letter a Cyrillic, Greek or Armenian letter is confusable with."""
    name = unicodedata.name(ch, "")
    if not name.startswith(("CYRILLIC", "GREEK", "ARMENIAN")):
        return None
    from confusable_homoglyphs import confusables  # loaded only when needed

    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True)
    for glyph in found[0]["homoglyphs"] if found else ():
        latin = glyph["c"]
        if isinstance(latin, str) and len(latin) == 1 and latin.isascii() and latin.isalpha():
            return latin.lower()
    return None


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

    @cached_property
    def _quoted(self) -> tuple[tuple[int, int], ...]:
        spans: list[tuple[int, int]] = []
        text = self.text
        i = 0
        while (opener := _QUOTE_OPENERS.search(text, i)) is not None:
            i = opener.start()
            end = text.find(_QUOTE_PAIRS[opener.group()], i + 1)
            if end == -1:
                i += 1
                continue
            spans.append((i, end + 1))
            i = end + 1
        for m in _SINGLE_QUOTED.finditer(text):
            if not any(s <= m.start() < e for s, e in spans):
                spans.append((m.start(), m.end()))
        return tuple(sorted(spans))

    def quoted_spans(self) -> list[tuple[int, int]]:
        """Spans (in folded coordinates) inside quotation marks."""
        return list(self._quoted)

    @cached_property
    def _sentence_ends(self) -> tuple[tuple[int, int], ...]:
        ends: list[tuple[int, int]] = []
        for match in _SENTENCE_END.finditer(self.text):
            if match.group() == "." and self._abbreviation_at(match.start()):
                continue
            ends.append((match.start(), match.end()))
        return tuple(ends)

    def _abbreviation_at(self, dot: int) -> bool:
        before = _ABBREVIATION_BEFORE.search(self.text, 0, dot)
        return before is not None and before.group(1) in _ABBREVIATIONS

    def sentence_bounds(self, position: int) -> tuple[int, int]:
        """The span of the sentence (or clause ended by ; or a line break) around a position."""
        start = 0
        for end_start, end_end in self._sentence_ends:
            if end_end <= position:
                start = end_end
            elif end_start >= position:
                return start, end_start
        return start, len(self.text)

    @cached_property
    def _loose(self) -> Folded:
        chars: list[str] = []
        index: list[int] = []
        last = 0
        for m in _BETWEEN_WORDS.finditer(self.text):
            chars.extend(self.text[last : m.start()])
            index.extend(self.index[last : m.start()])
            chars.append(" ")
            index.append(self.index[m.start()])
            last = m.end()
        chars.extend(self.text[last:])
        index.extend(self.index[last:])
        return Folded(self.original, "".join(chars), tuple(index))

    def loose(self) -> Folded:
        """This text with punctuation between words read as a space."""
        return self._loose if _BETWEEN_WORDS.search(self.text) else self


@cache
def _pieces(ch: str) -> str:
    """What one original character becomes in the folded text (memoised: a
    text is folded with one dictionary look-up per character)."""
    if ch in _LIGATURES:
        return _LIGATURES[ch]
    if ch in _APOSTROPHES:
        return "'"
    if ch in _HYPHENS or ch == "_":
        return " "
    if ch.isspace():
        return "\n" if ch == "\n" else " "
    if ch.isascii():
        return ch.lower()
    if _is_invisible(ch):
        return ""
    lookalike = _latin_lookalike(ch)
    if lookalike is not None:
        return lookalike
    out = []
    for compatible in unicodedata.normalize("NFKC", ch):
        if compatible in _APOSTROPHES or compatible in _HYPHENS:
            out.append(_pieces(compatible))
            continue
        decomposed = unicodedata.normalize("NFKD", compatible)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)).lower())
    return "".join(out)


@lru_cache(maxsize=4096)
def fold(original: str) -> Folded:
    """The folded text of ``original`` (cached: earlier turns are folded once)."""
    pieces = list(map(_pieces, original))
    joined = "".join(pieces)
    if len(joined) == len(original) and not _NEEDS_COLLAPSE.search(joined):
        # Every character became one character and no spaces collapse (most
        # turns): the folded text lines up with the original as it is.
        chars, index = list(joined), list(range(len(original)))
        _join_spelled_letters(original, chars, index)
        return Folded(original, "".join(chars), tuple(index))
    chars = []
    index = []
    for i, folded in enumerate(pieces):
        for piece in folded:
            if piece == " " and (not chars or chars[-1] in " \n"):
                continue  # collapse runs of spaces
            if piece == "\n" and chars and chars[-1] == " ":
                chars[-1], index[-1] = "\n", i
                continue
            chars.append(piece)
            index.append(i)
    _join_spelled_letters(original, chars, index)
    return Folded(original, "".join(chars), tuple(index))


#: Where the slow path of :func:`fold` must collapse spaces.
_NEEDS_COLLAPSE = re.compile(r"^ |  | \n|\n ")
_SPELLED = re.compile(r"(?<![^\s])\w(?: \w){3,}(?![^\s])")


def _join_spelled_letters(original: str, chars: list[str], index: list[int]) -> None:
    """Join letters typed one by one ("c a l m  d o w n" → "calm down").

    Within a run of four or more single letters, a single space in the
    original separates letters and two or more separate words.
    """
    text = "".join(chars)
    if " " not in text:
        return
    drop: list[int] = []
    for m in _SPELLED.finditer(text):
        for pos in range(m.start() + 1, m.end(), 2):
            source = index[pos]
            if not original[source + 1 : source + 2].isspace():
                drop.append(pos)
    for pos in reversed(drop):
        del chars[pos]
        del index[pos]
