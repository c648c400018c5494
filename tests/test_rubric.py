from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot import prompts
from bot.checks import CODED_CRITERIA
from bot.errors import RubricError
from bot.lexicon import LIST_NAMES, load_lexicon
from bot.mood import INFLAMING, SOOTHING
from bot.rubric import (
    CHECK_CRITERIA,
    CRITERIA,
    CRITERIA_BY_ID,
    CRITERION_IDS,
    DEFINITIONS,
    RUBRIC_FILE,
    CriterionResult,
    Grade,
    compute_score,
    load_rubric,
)

ROOT = Path(__file__).resolve().parent.parent

RUBRIC_IDS = [
    "acknowledge_emotion",
    "reformulate",
    "explore",
    "prioritize",
    "apologize",
    "personal_language",
    "positive_opening",
    "plain_register",
    "no_filler",
    "no_blocking_phrase",
    "no_blame",
    "ownership",
    "narrate_action",
    "concrete_timeline",
    "propose_solution",
    "simplify",
    "no_hold",
    "check_other_concerns",
    "thank_close",
    "set_boundaries",
]


def results(**verdicts: str) -> dict[str, CriterionResult]:
    out = {c: CriterionResult(verdict="na", source="check") for c in CRITERION_IDS}
    for cid, verdict in verdicts.items():
        out[cid] = CriterionResult(verdict=verdict, source="check")  # type: ignore[arg-type]
    return out


def test_ids_are_the_rubric_contract() -> None:
    assert list(CRITERION_IDS) == RUBRIC_IDS
    assert set(CHECK_CRITERIA) == {
        "reformulate",
        "apologize",
        "personal_language",
        "positive_opening",
        "no_filler",
        "no_blocking_phrase",
        "narrate_action",
        "concrete_timeline",
        "no_hold",
        "check_other_concerns",
        "thank_close",
    }
    assert all(1 <= c.weight <= 3 and c.label["fr"] and c.tip["en"] for c in CRITERIA)


def test_score_is_the_weighted_share_of_applicable_criteria_met() -> None:
    # apologize (2) met, no_blocking_phrase (3) missed, no_filler (1) met: 3 / 6.
    assert (
        compute_score(results(apologize="met", no_blocking_phrase="missed", no_filler="met")) == 50
    )
    assert compute_score(results(apologize="met")) == 100
    assert compute_score(results()) is None


def test_grade_requires_every_criterion_and_keeps_rubric_order() -> None:
    criteria = dict(reversed(list(results().items())))
    grade = Grade(criteria=criteria, score=None)
    assert list(grade.criteria) == RUBRIC_IDS
    partial = dict(criteria)
    partial.pop("thank_close")
    try:
        Grade(criteria=partial)
    except ValueError as exc:
        assert "thank_close" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a grade without every criterion must not validate")


# --- the rubric data: complete, and agreed on by the prompt, the checks and the lists ----


def test_every_criterion_is_complete() -> None:
    for c in CRITERIA:
        assert c.label["fr"] and c.label["en"] and c.tip["fr"] and c.tip["en"], c.id
        assert len(c.definition) >= 20, c.id
    # What moves the mood says why, in both languages.
    for cid in INFLAMING:
        mood = CRITERIA_BY_ID[cid].mood
        assert mood and mood.when_missed, cid
    for cid in SOOTHING:
        mood = CRITERIA_BY_ID[cid].mood
        assert mood and mood.when_met, cid


def test_the_grader_prompt_renders_every_definition() -> None:
    system = prompts.render(
        "grader_system", language_name="French", judge=list(CRITERION_IDS), definitions=DEFINITIONS
    )
    for cid, definition in DEFINITIONS.items():
        assert f"- `{cid}`: {definition}" in system


def test_the_checks_and_the_phrase_lists_agree_with_the_rubric() -> None:
    # Each "check"/"both" criterion is decided by a rule in checks.py or by a
    # phrase list named in the rubric; never both, never neither.
    for c in CRITERIA:
        coded = c.id in CODED_CRITERIA
        if c.checked:
            assert coded != (c.check is not None), c.id
        else:
            assert not coded and c.check is None, c.id
    assert set(CODED_CRITERIA) <= set(CHECK_CRITERIA)
    named = {c.check.list_name for c in CRITERIA if c.check}
    assert named <= set(LIST_NAMES)
    for language in ("fr", "en"):
        assert set(LIST_NAMES) <= set(load_lexicon(language).lists)


def test_a_broken_rubric_is_one_line_naming_the_criterion_and_field(tmp_path: Path) -> None:
    broken = RUBRIC_FILE.read_text(encoding="utf-8").replace("weight: 3", "weight: 7", 1)
    path = tmp_path / "rubric.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("rubric.yaml: no_blocking_phrase.weight:")
    undefined = RUBRIC_FILE.read_text(encoding="utf-8").replace("definition:", "defined:", 1)
    path.write_text(undefined, encoding="utf-8")
    with pytest.raises(RubricError, match=r"rubric.yaml: acknowledge_emotion\.definition: Field"):
        load_rubric(path)
    path.write_text("criteria: [", encoding="utf-8")
    with pytest.raises(RubricError, match="not valid YAML"):
        load_rubric(path)


# --- adding a criterion touches the data, the lists and the tests, nothing else ------------

TOY = """
  - id: no_rudeness
    group: tone
    kind: both
    weight: 2
    label: {fr: "Sans grossièreté", en: "No rudeness"}
    tip:
      fr: "Restez courtois, même quand le client ne l'est pas."
      en: "Stay courteous, even when the customer is not."
    definition: >-
      The agent stays courteous: no "make it quick", no "get to the point", nothing curt or rude.
    check: {missed_when: rudeness}
    mood:
      inflames: 1
      rank: 12
      when_missed: {fr: "vous avez été grossier", en: "you were rude"}
"""

TOY_RUN = """
import asyncio, json
from bot import mood, prompts
from bot.grader import Grader
from bot.rubric import CRITERION_IDS, DEFINITIONS
from bot.runtime import Runtime
from bot.settings import get_settings

grade = Grader(get_settings()).grade_checks_only("Make it quick. Get to the point.", "en")
system = prompts.render(
    "grader_system", language_name="English", judge=["no_rudeness"], definitions=DEFINITIONS
)

async def session():
    runtime = Runtime.create()
    await runtime.store.init()
    engine = runtime.engine(runtime.catalog.get("en-late-parcel"))
    await engine.start()
    events = [e async for e in engine.turn("Make it quick. Get to the point.")]
    await runtime.store.close()
    return next(e for e in events if e.type == "mood")

moved = asyncio.run(session())
from bot.web.chat_view import grade_markdown
print(json.dumps({
    "rendered": {lang: grade_markdown(grade, lang) for lang in ("fr", "en")},
    "ids": list(CRITERION_IDS),
    "grade": grade.model_dump(),
    "prompt_has_definition": "- `no_rudeness`: The agent stays courteous" in system,
    "mood": moved.model_dump(),
}))
"""


def test_a_toy_criterion_is_graded_scored_reasoned_and_rendered(tmp_path: Path) -> None:
    """A criterion added to the rubric data and one phrase list, in a temporary
    copy of the package, is graded, weighted, moves the mood and is shown."""
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("bot", "prompts", "personas"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    with (copy / "bot" / "rubric.yaml").open("a", encoding="utf-8") as f:
        f.write(TOY)
    for language, words in (
        ("en", "make it quick|get to the point"),
        ("fr", "faites vite|abregez"),
    ):
        with (copy / "bot" / "lexicon" / f"{language}.txt").open("a", encoding="utf-8") as f:
            f.write(f"\n[rudeness]\n{words}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COACH_", "OPENAI_"))}
    env |= {"PYTHONPATH": str(copy), "COACH_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TOY_RUN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["ids"][-1] == "no_rudeness" and len(out["ids"]) == len(CRITERION_IDS) + 1
    toy = out["grade"]["criteria"]["no_rudeness"]
    assert toy == {
        "verdict": "missed",
        "evidence": "Make it quick; Get to the point",
        "source": "check",
        "basis": "found",
    }
    # Weighted in the score with its weight (2), beside the other applicable criteria.
    criteria = out["grade"]["criteria"]
    earned = sum(CRITERIA_BY_ID[c].weight for c, r in criteria.items() if r["verdict"] == "met")
    possible = (
        earned
        + 2
        + sum(
            CRITERIA_BY_ID[c].weight
            for c, r in criteria.items()
            if r["verdict"] == "missed" and c != "no_rudeness"
        )
    )
    assert out["grade"]["score"] == round(100 * earned / possible)
    assert out["prompt_has_definition"]
    assert out["mood"]["delta"] > 0
    assert out["mood"]["reason"] == 'you were rude: "Make it quick; Get to the point"'
    # The web app's grade step names it, in the UI's language, with the words found.
    assert "No rudeness" in out["rendered"]["en"] and "Make it quick" in out["rendered"]["en"]
    assert "Sans grossièreté" in out["rendered"]["fr"]
