from __future__ import annotations

import pytest

from bot.errors import LexiconError
from bot.lexicon import LIST_NAMES, load_lexicon, parse_lexicon
from bot.text import fold


def test_fold_removes_case_accents_and_typographic_marks() -> None:
    folded = fold("« Désolée », CALMEZ‑VOUS, l’œuvre  Oh là là")
    assert folded.text == "« desolee », calmez vous, l'oeuvre oh la la"


def test_fold_maps_back_to_the_original_text() -> None:
    original = "Bon, CALMEZ‑VOUS, s’il vous plaît"
    folded = fold(original)
    start = folded.text.index("calmez vous")
    assert folded.source(start, start + len("calmez vous")) == "CALMEZ‑VOUS"
    start = folded.text.index("s'il")
    assert folded.source(start, start + 4) == "s’il"


def test_quoted_spans_cover_guillemets_and_double_quotes() -> None:
    folded = fold('Il a dit « calmez-vous » puis "hold on".')
    quoted = [folded.text[a:b] for a, b in folded.quoted_spans()]
    assert quoted == ["« calmez vous »", '"hold on"']


@pytest.mark.parametrize("language", ["fr", "en"])
def test_both_languages_define_every_list(language: str) -> None:
    lexicon = load_lexicon(language)  # type: ignore[arg-type]
    assert set(lexicon.lists) == set(LIST_NAMES)
    assert all(lexicon.lists[name] for name in LIST_NAMES), "an empty list is a forgotten list"


def test_lexicon_errors_name_the_file_and_line() -> None:
    with pytest.raises(LexiconError, match=r"^x.txt:2: \[apology\] is not a valid pattern"):
        parse_lexicon("[apology]\n(unclosed\n", "x.txt")
    with pytest.raises(LexiconError, match=r"^x.txt:1: unknown list \[apologies\]"):
        parse_lexicon("[apologies]\n", "x.txt")
    with pytest.raises(LexiconError, match=r"^x.txt:2: unknown macro \{NOPE\}"):
        parse_lexicon("[apology]\n{NOPE} sorry\n", "x.txt")
    with pytest.raises(LexiconError, match=r"^x.txt:1: pattern before any \[list\]"):
        parse_lexicon("sorry\n", "x.txt")
    with pytest.raises(LexiconError, match="missing lists"):
        parse_lexicon("[apology]\nsorry\n", "x.txt")


def test_patterns_match_whole_words_only() -> None:
    lexicon = load_lexicon("en")
    assert lexicon.find("filler", fold("um")) != []
    assert lexicon.find("filler", fold("umbrella")) == []
    assert lexicon.find("filler", fold("summer")) == []
    # An elision ends a word: "j'" is a first-person marker before "ai".
    assert load_lexicon("fr").find("first_person", fold("J'ai vérifié."))[0].evidence == "J'"


@pytest.mark.parametrize(
    ("expression", "needles"),
    [
        (r"calm(?:ez)? down", (" down",)),  # the longest required run
        (r"(?:i'm |i am )?so sorry", ("so sorry",)),
        (r"(?:relax|chill out|take it easy)", ("chill out", "relax", "take it easy")),
        (r"(?:ok )?(?:relax|no)", ("no", "relax")),
        (r"(?:ok )?(?:relax|x)", None),  # a single letter is in every text
        (r"x(?!yz)", None),  # nothing in a lookahead is required
        (r"(?:foo)?bar", ("bar",)),
    ],
)
def test_required_literals_are_what_every_match_contains(
    expression: str, needles: tuple[str, ...] | None
) -> None:
    from bot.lexicon import required_literals

    assert required_literals(expression) == needles


@pytest.mark.parametrize("language", ["fr", "en"])
def test_screened_lists_find_exactly_what_the_patterns_find(language: str) -> None:
    # The screen only skips patterns that cannot match: every list finds what
    # running each pattern would find, on every line of the team datasets.
    import json
    from pathlib import Path

    lexicon = load_lexicon(language)
    root = Path(__file__).resolve().parent.parent / "evals" / "datasets"
    for line in (root / f"grader_{language}.jsonl").read_text(encoding="utf-8").splitlines():
        folded = fold(json.loads(line)["turn"])
        for name, patterns in lexicon.lists.items():
            unscreened = [
                (m.start(), m.end())
                for p in patterns
                for m in p.regex.finditer(folded.text)
                if m.end() > m.start()
            ]
            found = lexicon.find(name, folded, include_quoted=True)
            assert bool(found) == bool(unscreened), (name, folded.text)
