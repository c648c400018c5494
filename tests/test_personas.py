from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.errors import PersonaError
from bot.mood import mood_band
from bot.personas import (
    load_catalog,
    load_persona_file,
    parse_persona,
    persona_json_schema_text,
)

PERSONAS = Path(__file__).resolve().parent.parent / "personas"
EXAMPLE = PERSONAS / "fr-deuil-chien.yaml"


def test_every_committed_persona_is_valid() -> None:
    catalog = load_catalog(PERSONAS)
    assert catalog.errors == []
    languages = Counter(p.language for p in catalog.personas.values())
    assert len(catalog.personas) >= 10
    assert languages["fr"] >= 5
    assert languages["en"] >= 4


def test_required_scenarios_are_covered() -> None:
    ids = set(load_catalog(PERSONAS).personas)
    for expected in (
        "fr-panne-entreprise",
        "fr-deuil-chien",
        "en-defective-blender",
        "fr-double-prelevement",
        "en-late-parcel",
        "fr-smartphone-casse",
        "en-account-manager",
        "en-parent-internet",
        "fr-ordinateur-multi",
        "en-abusive-caller",
        "fr-rappel-superviseur",
    ):
        assert expected in ids
    assert load_catalog(PERSONAS).personas["en-abusive-caller"].abusive


def test_personas_have_enough_authored_lines_for_offline_mode() -> None:
    for persona in load_catalog(PERSONAS).personas.values():
        lines = persona.lines
        for band in ("furious", "angry", "upset", "uneasy", "calm", "inflamed", "soothed"):
            assert len(getattr(lines, band)) >= 2, (persona.id, band)
        assert persona.hidden_facts, persona.id


def test_committed_schema_is_current() -> None:
    committed = (PERSONAS / "persona.schema.json").read_text(encoding="utf-8")
    assert committed == persona_json_schema_text(), (
        "personas/persona.schema.json is stale: run coach personas schema -o "
        "personas/persona.schema.json"
    )


def broken(tmp_path: Path, name: str, edit: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert edit in text
    path = tmp_path / name
    path.write_text(text.replace(edit, new, 1), encoding="utf-8")
    return path


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = broken(tmp_path, "fr-deuil-chien.yaml", "  start: 7", "  start: 12")
    with pytest.raises(PersonaError) as exc:
        load_persona_file(path)
    message = str(exc.value)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "start: 12" in text)
    assert message.startswith(f"{path.name}:{line}: mood.start:")  # relative to the cwd
    assert "\n" not in message


def test_unknown_field_is_reported_before_the_missing_one(tmp_path: Path) -> None:
    path = broken(tmp_path, "fr-deuil-chien.yaml", "\nstyle:", "\nstile:")
    with pytest.raises(PersonaError, match=r":\d+: stile: unknown field"):
        load_persona_file(path)


def test_yaml_syntax_and_id_mismatch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\n  name: [\n", encoding="utf-8")
    with pytest.raises(PersonaError, match=r"bad.yaml:2: not valid YAML"):
        load_persona_file(bad)
    other = broken(tmp_path, "other-name.yaml", "id: fr-deuil-chien", "id: fr-deuil-chien")
    with pytest.raises(PersonaError, match="must match the file name 'other-name'"):
        load_persona_file(other)


def test_mood_thresholds_must_be_ordered(tmp_path: Path) -> None:
    path = broken(tmp_path, "fr-deuil-chien.yaml", "  calm_at: 2", "  calm_at: 8")
    with pytest.raises(PersonaError, match=r"mood: needs calm_at < start < walkout_at"):
        load_persona_file(path)


def test_the_starting_mood_must_fit_the_difficulty(tmp_path: Path) -> None:
    path = broken(tmp_path, "fr-deuil-chien.yaml", "difficulty: medium", "difficulty: easy")
    with pytest.raises(PersonaError) as exc:
        load_persona_file(path)
    assert "mood.start 7 does not fit difficulty easy (it starts between 3 and 6" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_persona_states_its_temperament(tmp_path: Path) -> None:
    path = broken(tmp_path, "fr-deuil-chien.yaml", "temperament: distressed", "temperament: sad")
    with pytest.raises(PersonaError, match=r":\d+: temperament: Input should be 'angry'"):
        load_persona_file(path)


def test_catalog_skips_and_reports_bad_files(tmp_path: Path) -> None:
    (tmp_path / "fr-deuil-chien.yaml").write_text(EXAMPLE.read_text(), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [", encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert list(catalog.personas) == ["fr-deuil-chien"]
    assert len(catalog.errors) == 1 and "broken.yaml" in str(catalog.errors[0])
    with pytest.raises(PersonaError, match="unknown persona 'nope'; known: fr-deuil-chien"):
        catalog.get("nope")


def test_scaffold_validates_and_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACH_PERSONAS_DIR", str(tmp_path))
    from bot.settings import get_settings

    get_settings.cache_clear()
    result = subprocess.run(
        ["coach", "personas", "new", "en-test-case", "--language", "en"],
        capture_output=True,
        text=True,
        env=None,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    created = tmp_path / "en-test-case.yaml"
    persona = load_persona_file(created)
    assert persona.language == "en" and persona.id == "en-test-case"
    again = subprocess.run(
        ["coach", "personas", "new", "en-test-case"], capture_output=True, text=True, check=False
    )
    assert again.returncode == 1 and "already exists" in again.stderr


def test_mood_bands() -> None:
    assert [mood_band(m) for m in range(11)] == [
        "calm",
        "calm",
        "calm",
        "uneasy",
        "uneasy",
        "upset",
        "upset",
        "angry",
        "angry",
        "furious",
        "furious",
    ]


def test_parse_persona_rejects_non_mappings(tmp_path: Path) -> None:
    with pytest.raises(PersonaError, match="expected a mapping"):
        parse_persona(yaml.safe_dump(["a"]), tmp_path / "x.yaml")


def test_one_bad_file_never_takes_the_others_down(tmp_path: Path) -> None:
    """Deep nesting, a dangling link, a huge file and a non-UTF-8 file are each
    that file's one-line error; every good persona still loads."""
    folder = tmp_path / "personas"
    shutil.copytree(PERSONAS, folder)
    good = len(load_catalog(PERSONAS).personas)
    (folder / "deep.yaml").write_text("a: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    (folder / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (folder / "huge.yaml").write_text("# " + "x" * (300 * 1024) + "\n", encoding="utf-8")
    (folder / "latin1.yaml").write_bytes("name: Hélène\n".encode("latin-1"))
    catalog = load_catalog(folder)
    assert len(catalog.personas) == good
    messages = sorted(str(e) for e in catalog.errors)
    assert len(messages) == 4 and all("\n" not in m for m in messages)
    by_file = {m.split(":", 1)[0].rsplit("/", 1)[-1]: m for m in messages}
    assert "nested" in by_file["deep.yaml"]
    assert "points to nothing" in by_file["dangling.yaml"]
    assert "limit is 256 KiB" in by_file["huge.yaml"]
    assert "cannot read" in by_file["latin1.yaml"]
    run = subprocess.run(
        ["coach", "personas", "validate", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "dangling.yaml" in run.stderr + run.stdout
