from __future__ import annotations

from pathlib import Path

import pytest

from bot.cases import parse_cases
from bot.errors import CaseError
from bot.personas import load_catalog

CATALOG = load_catalog(Path(__file__).resolve().parent.parent / "personas")


def test_json_object_array_and_lines() -> None:
    one = parse_cases('{"language": "fr", "turn": "Bonjour"}', "x", CATALOG)
    assert [c.id for c in one] == ["case-1"]
    many = parse_cases(
        '[{"language": "fr", "turn": "a"}, {"language": "en", "turn": "b"}]', "x", CATALOG
    )
    assert [c.language for c in many] == ["fr", "en"]
    lines = parse_cases(
        '{"id": "a", "persona": "en-late-parcel", "turn": "Hi"}\n\n'
        '{"id": "b", "language": "fr", "turn": "Salut"}\n',
        "x",
        CATALOG,
    )
    assert [(c.id, c.language) for c in lines] == [("a", "en"), ("b", "fr")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", r"^f.jsonl:1: not JSON"),
        ('{"language": "fr"}', r"^f.jsonl: turn: required field is missing"),
        ('{"language": "de", "turn": "x"}', r"^f.jsonl: language: "),
        ('{"turn": "x"}', r"needs a language \(fr or en\) or a persona"),
        (
            '{"language": "fr", "turn": "x", "expect": {"empathy": "met"}}',
            r"expect: unknown criterion empathy",
        ),
        ('{"language": "fr", "turn": "x", "expect": {"apologize": "yes"}}', r"expect.apologize"),
        ('{"persona": "nope", "turn": "x"}', r"unknown persona 'nope'"),
        ('{"persona": "en-late-parcel", "language": "fr", "turn": "x"}', r"speaks 'en'"),
        ('{"language": "fr", "turn": "x", "colour": 1}', r"colour: unknown field"),
        (
            '{"language": "fr", "turn": "x", "history": [{"role": "boss", "content": "x"}]}',
            r"history.0.role",
        ),
        (
            '{"id": "a", "language": "fr", "turn": "x"}\n'
            '{"id": "a", "language": "fr", "turn": "y"}',
            r"duplicate case id 'a'",
        ),
        ("", r"no cases"),
    ],
)
def test_bad_cases_get_one_line(text: str, message: str) -> None:
    with pytest.raises(CaseError, match=message) as exc:
        parse_cases(text, "f.jsonl", CATALOG)
    assert "\n" not in str(exc.value)


def test_jsonl_errors_name_the_line() -> None:
    text = '{"language": "fr", "turn": "a"}\n{"language": "fr"}\n'
    with pytest.raises(CaseError, match=r"^f.jsonl:2: turn: required field is missing"):
        parse_cases(text, "f.jsonl", CATALOG)
