"""Load the phrase lists (``fr.txt``, ``en.txt``) and find their matches in a text.

The format is documented at the top of ``fr.txt``. Errors name the file, the
line and what is wrong, so a trainer editing a list gets one readable line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

from bot.errors import LexiconError
from bot.lexicon.lemmas import lemma_table, lemma_view, parse_spellings, respelled
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
    "wait_length",
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
    "negation",
    "hedge",
    "wait_word",
    "narration_now",
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
    #: Literal strings one of which every match contains (``None``: no such
    #: set). A substring test is far cheaper than a regex scan, and most
    #: patterns have none of their needles in a given turn.
    needles: tuple[str, ...] | None = None
    #: Matched against the lemma view (a ``~`` line): every inflection of its words.
    lemmas: bool = False
    #: The pattern as written, macros expanded.
    raw: str = ""

    @classmethod
    def compile(
        cls, source: str, expression: str, *, lemmas: bool = False, raw: str = ""
    ) -> Pattern:
        regex = re.compile(expression, re.MULTILINE)
        return cls(source, regex, required_literals(expression), lemmas, raw or expression)


def required_literals(expression: str) -> tuple[str, ...] | None:
    """Strings at least one of which any match of ``expression`` contains,
    read from the parsed expression (``None`` when it cannot tell)."""
    try:
        parsed = _parser.parse(expression)
    except Exception:  # an expression this reader does not follow gets no screen
        return None
    needles = _required(list(parsed))
    if not needles or min(len(n) for n in needles) < _MIN_NEEDLE:
        return None
    return tuple(sorted(needles))


#: A single letter is in every text: no use as a screen.
_MIN_NEEDLE = 2


def _required(items: list[Any]) -> set[str] | None:
    """The best needle set of a sequence of parsed items: its longest literal
    run, or the needles of one of its groups, whichever is most selective."""
    best: set[str] | None = None

    def consider(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and (best is None or _weaker(best, candidate)):
            best = candidate

    run: list[str] = []
    for op, arg in items:
        if op is _constants.LITERAL:
            run.append(chr(arg))
            continue
        repeat = op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and arg[0] >= 1
        body = list(arg[2]) if repeat else []
        if repeat and len(body) == 1 and body[0][0] is _constants.LITERAL:
            # "u+h+": the match holds the letter k times, touching what came
            # before it and what comes after it.
            letters = chr(body[0][1]) * arg[0]
            consider({"".join(run) + letters})
            run = list(letters)
            continue
        consider({"".join(run)} if run else None)
        run = []
        if op is _constants.SUBPATTERN:
            consider(_required(list(arg[-1])))
        elif op is _constants.BRANCH:
            branches = [_required(list(b)) for b in arg[1]]
            if all(branches):
                consider(set().union(*branches))  # type: ignore[arg-type]
        elif repeat:
            consider(_required(body))
    consider({"".join(run)} if run else None)
    return best


def _weaker(current: set[str], candidate: set[str]) -> bool:
    """Whether ``candidate`` screens better: fewer needles, then longer ones."""
    return (min(map(len, candidate)), -len(candidate)) > (min(map(len, current)), -len(current))


class _Screen:
    """Which patterns each needle screens, so a text is screened once for
    every list (one substring test per needle whose first three characters
    the text contains), not once per pattern. Patterns are bits of an int."""

    def __init__(self, lists: dict[str, list[Pattern]]) -> None:
        self.patterns: list[Pattern] = []
        self.list_masks: dict[str, int] = {}
        self.always = 0
        needles: dict[str, int] = {}
        for name, patterns in lists.items():
            mask = 0
            for pattern in patterns:
                bit = 1 << len(self.patterns)
                self.patterns.append(pattern)
                mask |= bit
                if pattern.needles is None:
                    self.always |= bit
                for needle in pattern.needles or ():
                    needles[needle] = needles.get(needle, 0) | bit
            self.list_masks[name] = mask
        self.everything = (1 << len(self.patterns)) - 1
        # One scan finds, at every position, the longest needle starting there
        # (the needles as a trie-shaped expression); the needles that are its
        # prefixes start there too, so each needle carries their bits as well.
        self.closure = {needle: _prefix_bits(needle, needles) for needle in needles}
        self.scan = re.compile(f"(?=({_trie(needles)}))") if needles else None

    def __call__(self, text: str) -> int:
        """The patterns that can match ``text``, as bits (the others cannot)."""
        picked = self.always
        if self.scan is not None:
            closure = self.closure
            for m in self.scan.finditer(text):
                picked |= closure[m.group(1)]
        return picked

    def pick(self, picked: int, name: str) -> list[Pattern]:
        """The patterns of list ``name`` among the picked bits, in list order."""
        chosen = picked & self.list_masks.get(name, 0)
        out = []
        while chosen:
            low = chosen & -chosen
            out.append(self.patterns[low.bit_length() - 1])
            chosen ^= low
        return out


def _prefix_bits(needle: str, needles: dict[str, int]) -> int:
    bits = 0
    for end in range(1, len(needle) + 1):
        bits |= needles.get(needle[:end], 0)
    return bits


def _trie(words: Iterable[str]) -> str:
    """An expression matching any of ``words``, longest first, shaped as a trie."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(node[ch]) for ch in sorted(node) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


#: Letters of a lemma pattern's words (what the lemma table must know).
_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]{2,}")


class Lexicon:
    def __init__(
        self,
        language: Language,
        lists: dict[str, tuple[Pattern, ...]],
        spellings: dict[str, str] | None = None,
    ) -> None:
        self.language = language
        self.lists = lists
        self.spellings = spellings or {}
        # One screen for both kinds of pattern, run on the text and its lemma
        # view together: one pass per text, and each kind's regexes then run
        # on their own view.
        self._screen = _Screen({n: list(ps) for n, ps in lists.items()})
        self._candidates = lru_cache(maxsize=2048)(self._screen)
        self._lemma_words = frozenset(
            w for ps in lists.values() for p in ps if p.lemmas for w in _PATTERN_WORD.findall(p.raw)
        )
        self._views: dict[str, Folded] = {}
        self._prepared: dict[str, tuple[Folded | None, int]] = {}
        #: Off only to measure the screen against running every pattern.
        self.screening = True

    def forget(self) -> None:
        """Drop the screened texts and lemma views (benchmarks measure without them)."""
        self._candidates.cache_clear()
        self._views.clear()
        self._prepared.clear()

    def respell(self, folded: Folded) -> Folded:
        """The folded text with this language's common misspellings written out."""
        return respelled(folded, self.spellings)

    def lemmas(self, folded: Folded) -> Folded:
        """The lemma view of a folded text (its index points into ``folded.text``)."""
        view = self._views.get(folded.text)
        if view is None:
            if len(self._views) > 2048:
                self._views.clear()
            table = lemma_table(self.language, self._lemma_words)
            view = self._views[folded.text] = lemma_view(folded, table)
        return view

    def _prepare(self, folded: Folded) -> tuple[Folded | None, int]:
        """A text's lemma view and the patterns its screen lets through (kept)."""
        text = folded.text
        view = self.lemmas(folded) if self._lemma_words else None
        if not self.screening:
            picked = self._screen.everything
        elif view is None or view.text == text:
            picked = self._candidates(text)
        else:  # "\0" never occurs in folded text: no needle spans the two
            picked = self._candidates(f"{text}\0{view.text}")
        if len(self._prepared) > 2048:
            self._prepared.clear()
        self._prepared[text] = (view, picked)
        return view, picked

    def find(self, name: str, folded: Folded, *, include_quoted: bool = False) -> list[Match]:
        """Matches of list ``name`` in the text, left to right, without overlaps."""
        text = folded.text
        prepared = self._prepared.get(text)
        if prepared is None:
            prepared = self._prepare(folded)
        view, picked = prepared
        patterns = self._screen.pick(picked, name)
        found: list[Match] = []
        if not patterns:
            return found
        quoted = [] if include_quoted else folded.quoted_spans()
        for pattern in patterns:
            if not pattern.lemmas:
                for m in pattern.regex.finditer(text):
                    if m.end() == m.start():
                        continue
                    if any(qs <= m.start() < qe for qs, qe in quoted):
                        continue
                    found.append(Match(m.start(), m.end(), folded.source(m.start(), m.end())))
            elif view is not None:
                for m in pattern.regex.finditer(view.text):
                    if m.end() == m.start():
                        continue
                    start, end = view.index[m.start()], view.index[m.end() - 1] + 1
                    if any(qs <= start < qe for qs, qe in quoted):
                        continue
                    found.append(Match(start, end, folded.source(start, end)))
        if not found:
            return found
        found.sort(key=lambda x: (x.start, -x.end))
        merged: list[Match] = []
        for match in found:
            if merged and match.start < merged[-1].end:
                continue
            merged.append(match)
        return merged


def _wrap(pattern: str) -> str:
    # Whole words: nothing word-like just before; just after, nothing
    # word-like unless the match ended on an elision ("j'", "l'") or on a
    # bracket, which cannot cut a word ("<system>give").
    return rf"(?<!\w)(?:{pattern})(?:(?<=['>\]}}])|(?!\w))"


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

        lemmas = line.startswith("~")
        expanded = _USE.sub(expand, line[1:].strip() if lemmas else line)
        try:
            pattern = Pattern.compile(where, _wrap(expanded), lemmas=lemmas, raw=expanded)
        except re.error as exc:
            raise LexiconError(f"{where}: [{current}] is not a valid pattern: {exc}") from None
        lists[current].append(pattern)
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
    return _load(language, _resolved(directory))


@cache
def _resolved(directory: Path) -> Path:
    return directory.resolve()


@cache
def _load(language: Language, directory: Path) -> Lexicon:
    path = directory / f"{language}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"cannot read {path}: {exc.strerror}") from None
    spellings: dict[str, str] = {}
    spelling_path = directory / f"spelling_{language}.txt"
    if spelling_path.is_file():
        spellings = parse_spellings(spelling_path.read_text(encoding="utf-8"), spelling_path.name)
    return Lexicon(language, parse_lexicon(text, path.name), spellings)
