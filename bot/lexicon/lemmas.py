"""Lemmas for the phrase lists: one dictionary look-up per word.

A pattern written over lemmas (a line starting with ``~`` in ``fr.txt`` or
``en.txt``) matches every inflection of its words: « ~ calmer vous » matches
« calmez-vous », « calmer vous » and « calmez vous » alike, "~ relax" matches
"relaxing" and "relaxed". The inflections come from simplemma's dictionaries
(their data is inside the wheel), folded the way the checks fold text (no
accents, lower case), so « enervez » typed without its accents is still a form
of « énerver ».

Only the lemmas the lists name are kept: the table maps a folded form to its
folded lemma when that lemma appears in a lemma pattern, and every other word
stays as it is. It is built once per language and word set, the first time a
lemma pattern is used.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from bot.text import Folded

#: A word of the folded text (elisions such as "t'" end before the apostrophe).
_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


#: The infinitive ending of regular verbs and their present-tense endings.
_REGULAR_VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fr": ("er", ("e", "es", "ent", "ez", "ons"))
}


def _ascii(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower().translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def lemma_table(language: str, words: frozenset[str]) -> dict[str, str]:
    """Folded form → folded lemma, for the lemmas in ``words``."""
    from simplemma.strategies.dictionaries.dictionary_factory import (
        DefaultDictionaryFactory,
    )

    dictionary = DefaultDictionaryFactory().get_dictionary(language)
    table: dict[str, str] = {}
    # Far fewer lemmas than forms: each lemma is folded once (a third of the time).
    folded_lemmas: dict[str, str] = {}
    for form, lemma in dictionary.items():
        folded_lemma = folded_lemmas.get(lemma)
        if folded_lemma is None:
            folded_lemma = folded_lemmas[lemma] = _ascii(lemma)
        if folded_lemma not in words:
            continue
        folded_form = _ascii(form)
        if _WORD.fullmatch(folded_form):
            table.setdefault(folded_form, folded_lemma)
    # Regular verbs whose present forms the dictionary files under a noun of
    # the same spelling (« relève », « calme »): their endings, per language.
    suffix, endings = _REGULAR_VERBS.get(language, ("", ()))
    for word in words if suffix else ():
        if word.endswith(suffix) and len(word) > 4:
            for ending in endings:
                table.setdefault(word[: -len(suffix)] + ending, word)
    for word in words:
        table[word] = word  # a lemma the lists name is its own lemma
    # Only the words that change are kept: most texts then need no rewrite.
    return {form: lemma for form, lemma in table.items() if form != lemma}


def lemma_view(folded: Folded, table: dict[str, str]) -> Folded:
    """``folded`` with each word the table knows replaced by its lemma.

    The view's ``original`` is the folded text and its ``index`` points into
    it, so a match in the view maps back to folded coordinates.
    """
    if table.keys().isdisjoint(_WORD.findall(folded.text)):
        return Folded(folded.text, folded.text, tuple(range(len(folded.text))))
    return _replace_words(folded, table, Folded(folded.text, folded.text, ()), through=None)


def respelled(folded: Folded, spellings: dict[str, str]) -> Folded:
    """``folded`` with common misspellings, texting forms and contractions
    typed without their apostrophe written out ("cant" → "can't", "u" → "you",
    « dsl » → « désolé »), still mapped to the original text."""
    if not spellings or spellings.keys().isdisjoint(_WORD.findall(folded.text)):
        return folded
    return _replace_words(folded, spellings, folded, through=folded.index)


def _replace_words(
    folded: Folded, table: dict[str, str], base: Folded, *, through: tuple[int, ...] | None
) -> Folded:
    """Replace the words ``table`` knows; the index maps into ``folded.text``
    (``through=None``) or, through ``folded.index``, into the original."""
    text = folded.text
    parts: list[str] = []
    index: list[int] = []
    last = 0
    for m in _WORD.finditer(text):
        word = m.group()
        lemma = table.get(word)
        if lemma is None or lemma == word or text.startswith("'", m.end()):
            continue  # an elision (« d' », « l' ») is not the word it shortens
        start, end = m.span()
        parts.append(text[last:start])
        index.extend(range(last, start))
        parts.append(lemma)
        # The replacement's last character stands for the word's last, so a
        # match ending on it quotes the whole word as typed.
        index.extend(min(start + i, end - 1) for i in range(len(lemma) - 1))
        index.append(end - 1)
        last = end
    if not parts:
        if through is not None:
            return folded
        return Folded(text, text, tuple(range(len(text))))
    parts.append(text[last:])
    index.extend(range(last, len(text)))
    if through is not None:
        return Folded(base.original, "".join(parts), tuple(through[i] for i in index))
    return Folded(text, "".join(parts), tuple(index))


def parse_spellings(text: str, filename: str) -> dict[str, str]:
    """``form = replacement`` lines (``#`` comments); errors name the line."""
    from bot.errors import LexiconError

    table: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        form, sep, replacement = (part.strip() for part in line.partition("="))
        if not sep or not _WORD.fullmatch(form) or not replacement:
            raise LexiconError(
                f"{filename}:{number}: write one 'form = replacement' per line, "
                "the form a single folded word (lower case, no accents)"
            )
        table[form] = replacement
    return table
