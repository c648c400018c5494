"""The UI string catalogue: both languages complete and alike, lookups strict,
French typography applied in one place."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from bot.i18n import (
    HERE,
    LANGUAGES,
    NARROW_NBSP,
    NBSP,
    CatalogueError,
    TranslationError,
    catalogue,
    catalogue_problems,
    format_date,
    format_datetime,
    format_number,
    load_catalogue,
    placeholders,
    t,
    typeset,
    ui_language,
)
from bot.mood import BANDS, TEMPERAMENTS


def _flat(tree: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _raw(lang: str) -> dict[str, object]:
    return _flat(yaml.safe_load((HERE / f"{lang}.yaml").read_text(encoding="utf-8")))


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    fr, en = _raw("fr"), _raw("en")
    assert set(fr) == set(en)
    assert all(isinstance(v, str) for v in [*fr.values(), *en.values()])
    different = {
        k: (placeholders(str(fr[k])), placeholders(str(en[k])))
        for k in fr
        if placeholders(str(fr[k])) != placeholders(str(en[k]))
    }
    assert different == {}
    assert catalogue_problems({"fr": fr, "en": en}) == []
    assert set(LANGUAGES) == {"fr", "en"} and set(catalogue()) == set(LANGUAGES)


def test_the_outcome_and_band_keys_cover_every_code() -> None:
    # Keys built from codes (f"outcome.{reason}") must exist for every code.
    for lang in LANGUAGES:
        for reason in ("calm", "walkout", "trainee"):
            assert t(f"outcome.{reason}", lang) and t(f"outcome_short.{reason}", lang)
        for temperament in TEMPERAMENTS:
            for band in BANDS:
                assert t(f"mood.label.{temperament}.{band}", lang)
        for channel in ("phone", "chat", "in_person"):
            assert t(f"scenario.channel.{channel}", lang)
        for difficulty in ("easy", "medium", "hard"):
            assert t(f"scenario.difficulty.{difficulty}", lang)


def test_lookups_fill_placeholders() -> None:
    assert t("session.resumed", "en", name="Monique") == (
        "Session resumed: Monique is waiting for your reply."
    )
    assert t("session.resumed", "fr", name="Monique") == (
        f"Session reprise{NBSP}: Monique attend votre réponse."
    )


def test_a_missing_key_is_an_error_naming_it() -> None:
    with pytest.raises(TranslationError, match=r"no\.such\.key"):
        t("no.such.key", "fr")


def test_a_missing_or_unused_value_is_an_error_naming_the_key() -> None:
    with pytest.raises(TranslationError, match=r"'session\.resumed' needs name"):
        t("session.resumed", "en")
    with pytest.raises(TranslationError, match=r"'actions\.hint' does not use extra"):
        t("actions.hint", "en", extra=1)


def test_values_are_shown_as_written() -> None:
    # Only the catalogue's own text is typeset, never what is put into it.
    text = t("hint", "fr", text="Vraiment ? Oui : non")
    assert text == f"**Indice**{NBSP}: Vraiment ? Oui : non"


def _chainlit_strings(tree: object) -> list[str]:
    if isinstance(tree, dict):
        return [s for value in tree.values() for s in _chainlit_strings(value)]
    return [tree] if isinstance(tree, str) else []


def test_no_emoji_in_what_the_page_shows() -> None:
    """The installed fonts (DejaVu, Liberation) have no emoji: one showed as a box.
    Nothing outside the Basic Multilingual Plane, no emoji presentation selector."""
    import json

    translations = Path(__file__).resolve().parent.parent / ".chainlit" / "translations"
    texts = [v for lang in LANGUAGES for v in catalogue()[lang].values()]
    for name in ("en-US", "fr-FR"):
        texts += _chainlit_strings(json.loads((translations / f"{name}.json").read_text()))
    bad = sorted({c for text in texts for c in text if ord(c) > 0xFFFF or c in "\ufe0f\u200d"})
    assert not bad, [f"U+{ord(c):04X}" for c in bad]


@pytest.mark.parametrize("browser", ["fr", "fr-FR", "fr-CA", "en", "en-US", "en-GB"])
def test_chainlit_says_user_name_and_keeps_the_history(
    browser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Chainlit's page reads for a browser language (its own lookup, on the
    project's files): accounts are names, not e-mail addresses, and starting
    another session erases nothing."""
    import chainlit.config

    translations = Path(__file__).resolve().parent.parent / ".chainlit" / "translations"
    monkeypatch.setattr(chainlit.config, "config_translation_dir", str(translations))
    strings = chainlit.config.config.load_translation(browser)
    login = strings["auth"]["login"]["form"]["email"]
    assert login["label"] in ("User name", "Nom d'utilisateur")
    assert not any("mail" in text.lower() for text in login.values())
    dialog = strings["navigation"]["newChat"]["dialog"]["description"]
    assert ("historique" if browser.startswith("fr") else "history") in dialog
    assert not any(word in dialog for word in ("clear", "efface", "erase", "supprim"))


def test_french_typography() -> None:
    assert typeset("Vraiment ? Oui ! Bon ; enfin : « fini »", "fr") == (
        f"Vraiment{NARROW_NBSP}? Oui{NARROW_NBSP}! Bon{NARROW_NBSP}; enfin{NBSP}: "
        f"«{NBSP}fini{NBSP}»"
    )
    # A missing space is added; doubled marks stay together.
    assert typeset("Quoi?! Date: «x»", "fr") == f"Quoi{NARROW_NBSP}?! Date{NBSP}: «{NBSP}x{NBSP}»"
    # Not punctuation: times, URLs, commands, placeholders' format specs.
    for text in ("%H:%M", "http://x.org", "`/hint`", "{score:d}", "a:b"):
        assert typeset(text, "fr") == text
    once = typeset("Note : 80 ? « x »", "fr")
    assert typeset(once, "fr") == once


def test_english_typography_changes_nothing() -> None:
    text = 'Grade: 80/100 ! "quoted" « kept » ?'
    assert typeset(text, "en") == text


def test_french_strings_come_typeset() -> None:
    assert t("grade.title", "fr", score=80) == f"Note{NBSP}: 80/100"
    assert t("grade.title", "en", score=80) == "Grade: 80/100"
    for key, text in catalogue()["fr"].items():
        assert " :" not in text and " ?" not in text and "« " not in text, key


def test_an_inconsistent_catalogue_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text("a: 'Bonjour {name}'\nb: 'seul'\n", encoding="utf-8")
    (tmp_path / "en.yaml").write_text("a: 'Hello {who}'\nc: [not, text]\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    message = str(caught.value)
    assert "fr: missing key 'c'" in message and "en: missing key 'b'" in message
    assert "'a' has different placeholders" in message and "'c' is not text" in message


def test_placeholders_must_be_plain_names() -> None:
    problems = catalogue_problems({"fr": {"a": "{x.y}"}, "en": {"a": "{x.y}"}})
    assert problems and "not a plain name" in problems[0]


def test_ui_language_follows_accept_language() -> None:
    assert ui_language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert ui_language("en-GB,fr;q=0.5") == "en"
    assert ui_language("de-DE,fr;q=0.7") == "fr"
    assert ui_language("de-DE") == "en"
    assert ui_language(None) == "en"


def test_dates_and_numbers_follow_the_language() -> None:
    when = datetime(2026, 12, 2, 2, 13)
    assert format_datetime(when, "fr") == "2 déc. 2026, 02:13"
    assert format_datetime(when, "en") == "2 Dec 2026, 02:13"
    assert format_datetime(when, "fr", "short") == "2 déc., 02:13"
    assert format_datetime(when, "en", "short") == "2 Dec, 02:13"
    assert format_date(when.date(), "fr") == "2 déc. 2026"
    assert format_number(1149.5, "fr") == f"1{NARROW_NBSP}149,5"
    assert format_number(1149.5, "en") == "1,149.5"


def test_one_date_format_wherever_a_person_reads_one() -> None:
    """The dashboard chart (Plotly would say "Dec 2, 2026"), a transcript and a
    thread's name all write a moment the same way in each language."""
    from bot.personas import load_catalog
    from bot.settings import PROJECT_ROOT
    from bot.web import chat_view, dashboard, transcripts

    when = datetime(2026, 12, 2, 2, 13)
    figure = dashboard.progress_figure({"alice": [(when, 60)]}, "fr")
    assert figure.layout.xaxis.ticktext == ("2 déc. 2026",)
    assert figure.data[0].customdata == ("2 déc. 2026, 02:13",)
    assert "Dec" not in figure.data[0].hovertemplate
    persona = next(iter(load_catalog(PROJECT_ROOT / "personas").personas.values()))
    assert chat_view.thread_name(persona, when, "fr").endswith(" · 2 déc., 02:13")
    assert transcripts.when(when.isoformat(timespec="seconds"), "en") == "2 Dec 2026, 02:13"


def test_no_hand_written_date_formats_in_what_people_read() -> None:
    """Dates for people go through bot.i18n; the formats left are for machines."""
    import re

    machine = {
        # File names sort by date; the JSON, CSV and eval cases keep ISO dates.
        "transcript-{stem}-{when:%Y%m%d-%H%M}",
        "dashboard-{when:%Y%m%d-%H%M}",
        "{row.created_at:%Y-%m-%d}",
    }
    root = Path(__file__).resolve().parent.parent / "bot"
    found = []
    for path in root.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"strftime|\{[^}]*:%[a-zA-Z]", line) and not any(
                m in line for m in machine
            ):
                found.append(f"{path.relative_to(root)}: {line.strip()}")
    assert found == []


def test_no_module_branches_on_the_language() -> None:
    # Wording and typography per language live in bot/i18n (and the rubric's
    # labels and tips in bot/rubric.yaml), never in an `if language == "fr"`.
    package = HERE.parent
    for path in package.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for branch in ('== "fr"', "== 'fr'", '== "en"', "== 'en'"):
            assert branch not in source, f"{path.relative_to(package)}: {branch}"
