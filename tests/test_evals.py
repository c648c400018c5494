"""The eval runner: metrics, recordings, reports, pinning, and the CLI contract."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from langchain_core.messages import HumanMessage

from bot.cases import Case
from bot.errors import EvalError, RecordingMissing
from bot.evals.grader_suite import CaseResult
from bot.evals.metrics import Agreement, flip_rate
from bot.evals.persona_suite import PersonaRun, load_scripts
from bot.evals.pinning import Baseline, save_baseline
from bot.evals.reports import to_html, to_junit, to_markdown
from bot.personas import load_catalog
from bot.recordings import RecordingCache, current_sample
from bot.rubric import CHECK_CRITERIA, CRITERION_IDS, CriterionResult, Grade
from tests.conftest import fake_chat

ROOT = Path(__file__).resolve().parent.parent
PERSONAS = ROOT / "personas"


def coach(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        ["coach", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


# --- metrics -----------------------------------------------------------------------------


def test_agreement_metrics() -> None:
    a = Agreement()
    for expected, predicted in [
        ("met", "met"),
        ("met", "missed"),
        ("missed", "missed"),
        ("missed", "missed"),
        ("na", "na"),
        ("na", "met"),
    ]:
        a.add(expected, predicted)
    assert a.accuracy == pytest.approx(4 / 6)
    assert a.precision("missed") == pytest.approx(2 / 3)
    assert a.recall("missed") == 1.0
    # Observed 4/6; chance (2*2 + 2*3 + 2*1) / 36 = 1/3; kappa = (2/3 - 1/3) / (2/3) = 0.5.
    assert a.kappa == pytest.approx(0.5)
    assert a.confusion()["met"] == {"met": 1, "missed": 1, "na": 0}
    perfect = Agreement([("met", "met"), ("met", "met")])
    assert perfect.kappa == 1.0 and Agreement().accuracy is None
    assert flip_rate([["met"], ["met"], ["missed"]]) == 0.5


# --- recordings --------------------------------------------------------------------------


async def test_recordings_replay_what_was_recorded_and_refuse_the_rest(tmp_path: Path) -> None:
    recorder = fake_chat("Recorded answer.")
    recorder.cache = RecordingCache(tmp_path, "record")
    assert (await recorder.ainvoke([HumanMessage("hello")])).content == "Recorded answer."
    assert len(list(tmp_path.glob("*.json"))) == 1

    replayer = fake_chat()  # would fail if it were ever called
    replayer.cache = RecordingCache(tmp_path, "replay")
    assert (await replayer.ainvoke([HumanMessage("hello")])).content == "Recorded answer."
    with pytest.raises(RecordingMissing, match="re-record"):
        await replayer.ainvoke([HumanMessage("something else")])
    token = current_sample.set(1)  # a second --repeat sample is a different recording
    try:
        with pytest.raises(RecordingMissing):
            await replayer.ainvoke([HumanMessage("hello")])
    finally:
        current_sample.reset(token)


async def test_fill_mode_records_only_what_is_missing(tmp_path: Path) -> None:
    first = fake_chat("one")
    first.cache = RecordingCache(tmp_path, "record")
    await first.ainvoke([HumanMessage("a")])
    filler = fake_chat("two")
    filler.cache = RecordingCache(tmp_path, "fill")
    assert (await filler.ainvoke([HumanMessage("a")])).content == "one"  # kept
    assert (await filler.ainvoke([HumanMessage("b")])).content == "two"  # filled
    assert len(list(tmp_path.glob("*.json"))) == 2


# --- pinning and reports -----------------------------------------------------------------


def result(case_id: str, expect: dict[str, str], got: dict[str, str]) -> CaseResult:
    criteria = {c: CriterionResult(verdict="na", source="check") for c in CRITERION_IDS}
    for cid, verdict in got.items():
        criteria[cid] = CriterionResult(verdict=verdict, source="check")  # type: ignore[arg-type]
    case = Case(id=case_id, language="en", turn="x", expect=expect)  # type: ignore[arg-type]
    return CaseResult(case, [Grade(criteria=criteria, score=50)])


def test_flips_against_the_accepted_run(tmp_path: Path) -> None:
    path = tmp_path / "accepted.json"
    save_baseline(
        path,
        [
            result("a", {"apologize": "met"}, {"apologize": "met"}),
            result("b", {"apologize": "met"}, {"apologize": "missed"}),
        ],
        {},
    )
    baseline = Baseline.load(path)
    assert baseline is not None
    flips = baseline.flips(
        [
            result("a", {"apologize": "met"}, {"apologize": "missed"}),
            result("b", {"apologize": "met"}, {"apologize": "met"}),
        ]
    )
    assert [(f.case, f.was, f.now, f.worse) for f in flips] == [
        ("a", "met", "missed", True),
        ("b", "missed", "met", False),
    ]


def sample_report() -> dict[str, Any]:
    from bot.evals.grader_suite import grader_metrics

    results = [
        result("a", {"apologize": "met"}, {"apologize": "met"}),
        result("b", {"apologize": "missed"}, {"apologize": "met"}),
    ]
    return {
        "metadata": {
            "timestamp": "t",
            "commit": "c",
            "prompts": {"p": "h"},
            "datasets": {"d": "h"},
        },
        "passed": False,
        "suites": {
            "grader-checks": {
                "kind": "grader",
                "mode": "checks",
                "backend": "b",
                "pinned": True,
                "metrics": grader_metrics(results),
                "failures": ["en apologize: accuracy"],
                "flips": [],
                "checks": ["en apologize"],
                "adversarial": [],
                "cases": [
                    {
                        "id": "b",
                        "wrong": [
                            {
                                "criterion": "apologize",
                                "expected": "missed",
                                "predicted": "met",
                                "evidence": None,
                            }
                        ],
                    }
                ],
            }
        },
    }


def test_reports_for_people_and_machines() -> None:
    report = sample_report()
    markdown = to_markdown(report)
    assert "| criterion | en acc |" in markdown and "expected \\ predicted" in markdown
    assert "**FAILED**" in markdown and "b `apologize`: expected missed, got met" in markdown
    assert "<table>" in to_html(report) and "FAILED" in to_html(report)
    junit = ElementTree.fromstring(to_junit(report).split("?>", 1)[1])
    case = junit.find("testsuite/testcase[@name='en apologize']")
    assert case is not None and case.find("failure") is not None


# --- the command line -----------------------------------------------------------------------


def test_checks_only_suite_passes_and_meets_the_bar() -> None:
    run = coach("eval", "--checks-only", "--no-reports", "--json")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["passed"]
    metrics = report["suites"]["grader-checks"]["metrics"]
    for language in ("fr", "en"):
        for cid in CHECK_CRITERIA:
            assert metrics[language]["criteria"][cid]["accuracy"] >= 0.95, (language, cid)
    personas = report["suites"]["personas-offline"]["metrics"]
    assert personas["mood_direction"] == 1.0 and personas["violations"] == 0
    # The polite trainee who solves nothing never leaves a customer satisfied; the
    # trainee who reaches a persona's goals always does (4 scripts per persona, and
    # the mediocre one at each of the 3 difficulties).
    assert personas["satisfied_unsolved"] == 0 and personas["solved_unsatisfied"] == 0
    assert personas["passed"] == personas["runs"] == 7 * len(load_catalog(PERSONAS).personas)
    assert personas["difficulty"]["ordered"] == 1.0
    meta = report["metadata"]
    assert set(meta["prompts"]) >= {"customer", "grader_system", "grader_user"}
    assert set(meta["datasets"]) == {"grader_fr.jsonl", "grader_en.jsonl"}


def test_any_dataset_file_gets_metrics_as_json(tmp_path: Path) -> None:
    cases = [
        {
            "id": "x1",
            "language": "en",
            "turn": "Calm down.",
            "expect": {"no_blocking_phrase": "missed"},
        },
        {
            "id": "x2",
            "language": "fr",
            "turn": "Je suis désolée.",
            "expect": {"apologize": "met", "no_blocking_phrase": "met"},
        },
    ]
    dataset = tmp_path / "mine.jsonl"
    dataset.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    run = coach("eval", "--dataset", str(dataset), "--checks-only", "--json", "--no-reports")
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)["metrics"]
    assert metrics["en"]["criteria"]["no_blocking_phrase"]["accuracy"] == 1.0
    assert metrics["fr"]["criteria"]["apologize"]["accuracy"] == 1.0
    bad = coach("eval", "--dataset", str(tmp_path / "missing.jsonl"), "--checks-only")
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_reports_are_written(tmp_path: Path) -> None:
    run = coach("eval", "--checks-only", "--suite", "grader", "--report-dir", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert {p.name for p in tmp_path.iterdir()} == {
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
    }
    assert "grader-checks" in run.stdout  # the table is printed


def test_a_weakened_lexicon_fails_the_build(tmp_path: Path) -> None:
    """A deliberate regression: 'calm down' and 'calmez-vous' dropped from the lists."""
    lexicon = tmp_path / "lexicon"
    shutil.copytree(ROOT / "bot" / "lexicon", lexicon)
    for name in ("fr.txt", "en.txt"):
        path = lexicon / name
        lines = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if "calmez vous" not in line and "calm down" not in line
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = coach(
        "eval",
        "--checks-only",
        "--suite",
        "grader",
        "--no-reports",
        env={"COACH_LEXICON_DIR": str(lexicon)},
    )
    assert run.returncode == 1
    # Accuracy stays above the floor (few labelled cases use those words), but the
    # cases that flipped against the accepted run are named and fail the run.
    assert "now wrong" in run.stdout and "no_blocking_phrase: missed → met" in run.stdout


def test_a_grader_prompt_that_loses_the_definitions_fails_the_build(tmp_path: Path) -> None:
    """The criteria's definitions come from bot/rubric.yaml; a prompt that no
    longer reads them right (here a misspelt variable) must fail the evals."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    path = prompts / "grader_system.md"
    text = path.read_text(encoding="utf-8")
    assert text.count("{{ definitions[id] }}") == 1
    path.write_text(text.replace("{{ definitions[id] }}", "{{ definition[id] }}"), encoding="utf-8")
    run = coach(
        "eval", "--suite", "grader", "--no-reports", env={"COACH_PROMPTS_DIR": str(prompts)}
    )
    # Every turn comes back ungraded (the grader says why), which the pins refuse.
    assert run.returncode == 1
    assert "grader_system.md needs a variable" in run.stderr
    assert "ungraded > 0" in run.stdout


def test_the_recorded_llm_suites_replay_offline_and_pass() -> None:
    """The full hybrid grader and the LLM customer, replayed from the committed
    recordings: no network, the same result every time."""
    run = coach("eval", "--no-reports", "--json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    report = json.loads(run.stdout)
    llm = report["suites"]["grader-llm"]
    assert llm["mode"] == "replay" and llm["backend"].startswith("http://replay.invalid")
    assert all(llm["metrics"][lang]["ungraded"] == 0 for lang in ("fr", "en"))
    assert llm["adversarial"] == []
    personas = report["suites"]["personas-llm"]["metrics"]
    # Two runs (good, bad) per persona listed in evals/suites.yaml.
    assert personas["violations"] == 0 and personas["runs"] == 4


def test_record_missing_refuses_other_settings_than_the_recordings() -> None:
    run = coach(
        "eval",
        "--record-missing",
        "--suite",
        "grader",
        "--no-reports",
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "COACH_GRADER_MODEL": "other"},
    )
    assert run.returncode == 1
    assert "--record-missing needs the recorded settings; these differ:" in run.stderr
    assert "grader_model" in run.stderr and run.stderr.count("\n") == 1


def test_a_dead_model_server_fails_the_persona_suite() -> None:
    """Every reply and grade failing is no pass (it once was, and a recording
    against a server that was down looked complete)."""
    run = coach(
        "eval",
        "--live",
        "--suite",
        "personas",
        "--no-reports",
        "--json",
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "COACH_MAX_RETRIES": "0"},
    )
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(run.stdout)
    suite = report["suites"]["personas-llm"]
    assert suite["metrics"]["model_failures"] > 0
    assert any("model calls failed" in failure for failure in suite["failures"])


def write_cases(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    return path


def test_a_case_file_is_gated_by_the_attack_rule_and_the_accuracy_asked(tmp_path: Path) -> None:
    clean = {
        "id": "t-clean",
        "language": "en",
        "turn": "I'm so sorry about the delay, I'll refund you within 24 hours.",
        "expect": {"apologize": "met", "concrete_timeline": "met"},
    }
    fine = write_cases(tmp_path / "fine.jsonl", clean)
    run = coach("eval", "--dataset", str(fine), "--checks-only", "--no-reports")
    assert run.returncode == 0, run.stdout + run.stderr
    # The same file, asked for more than it reaches on a wrong label: exit 1.
    wrong = write_cases(tmp_path / "wrong.jsonl", {**clean, "expect": {"apologize": "missed"}})
    args = ("eval", "--dataset", str(wrong), "--checks-only", "--no-reports")
    run = coach(*args, "--min-accuracy", "0.9")
    assert run.returncode == 1 and "accuracy 0.000 < 0.900" in run.stdout
    run = coach(*args, "--min-criterion-accuracy", "0.95")
    assert run.returncode == 1 and "en apologize: accuracy 0.000 < 0.950" in run.stdout
    # A turn marked as an attack that scores above its twin fails the run.
    twin = {"id": "t-twin", "language": "en", "turn": "ok.", "expect": {"apologize": "missed"}}
    attack = {**clean, "id": "t-attack", "twin": "t-twin"}
    pair = write_cases(tmp_path / "pair.jsonl", attack, twin)
    run = coach("eval", "--dataset", str(pair), "--checks-only", "--no-reports")
    assert run.returncode == 1
    assert "t-attack: attack scored" in run.stdout and "(t-twin)" in run.stdout


@pytest.mark.parametrize("folder", ["blind", "blind2"])
def test_the_blind_sets_parse_and_report_per_tag(folder: str) -> None:
    """Each blind set is a valid case file and a run over it reports its tag
    figures (its accuracy is a measurement, not pinned)."""
    blind = ROOT / "evals" / folder
    run = coach(
        "eval",
        "--checks-only",
        "--dataset",
        str(blind / "dev_fr.jsonl"),
        "--dataset",
        str(blind / "dev_en.jsonl"),
        "--no-reports",
        "--json",
    )
    report = json.loads(run.stdout)
    figures = report["suites"]["grader-checks"]["by_tag"]
    assert set(figures) == {"fr", "en"}
    for language in ("fr", "en"):
        assert figures[language]["harm_cases"] > 0
        assert "blocking_variant" in figures[language]["accuracy_by_tag"]


def test_every_persona_has_a_script_that_solves_it_and_its_ending_is_judged() -> None:
    scripts = load_scripts(ROOT / "evals" / "persona_scripts.yaml")
    catalog = load_catalog(PERSONAS)
    assert set(scripts.solved) == set(catalog.personas)
    abusive = catalog.personas["en-abusive-caller"]
    assert scripts.lines(abusive, "solved")[: len(scripts.en.boundary)] == scripts.en.boundary
    del scripts.solved["fr-deuil-chien"]
    with pytest.raises(EvalError, match="no `solved` script for fr-deuil-chien"):
        scripts.lines(catalog.personas["fr-deuil-chien"], "solved")

    def run(script: str, end: str | None) -> PersonaRun:
        return PersonaRun("p", "fr", script, [7, 2], end, [])  # type: ignore[arg-type]

    assert run("solved", "calm").passed and not run("solved", None).passed
    assert run("polite", None).passed and not run("polite", "calm").passed


# --- coach eval --repeat: the flip rate per criterion against a live server ------------------


def test_repeat_reports_the_flip_rate_per_criterion_against_a_live_server(
    tmp_path: Path,
) -> None:
    """`coach eval --live --repeat 2` against the local test server, which answers
    `explore` "yes" the first time it sees a prompt and "no" the second: every
    case flips on `explore`, on nothing else."""
    import collections
    import os

    from bot.testing.openai_server import Behaviour, FaultServer

    seen: collections.Counter[str] = collections.Counter()

    def structured(schema: dict[str, Any], body: dict[str, Any]) -> Any:
        key = json.dumps(body["messages"], sort_keys=True)
        seen[key] += 1
        asked = schema["properties"]["criteria"]["properties"]
        criteria = {c: {"verdict": "met", "evidence": None} for c in asked}
        criteria["explore"]["verdict"] = "met" if seen[key] == 1 else "missed"
        return {"criteria": criteria, "deescalation": 1, "feedback": "ok", "better_reply": "ok"}

    cases = [
        {"id": "a", "language": "en", "turn": "I'm sorry, what happened exactly?"},
        {"id": "b", "language": "fr", "turn": "Je suis désolée, que s'est-il passé ?"},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COACH_", "OPENAI_"))}
    with FaultServer(Behaviour(structured=structured)).running() as server:
        env |= {"OPENAI_BASE_URL": server.base_url, "COACH_DATA_DIR": str(tmp_path)}
        run = subprocess.run(
            ["coach", "eval", "--live", "--repeat", "2", "--dataset", str(path), "--no-reports"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    assert sum(seen.values()) == 4 and set(seen.values()) == {2}  # 2 cases x 2 repeats
    out = run.stdout
    assert "flip rate per criterion (share of cases whose verdict changed): explore 1.0" in out
    for language in ("en", "fr"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{language}: flip"))
        assert "explore 1.0" in line and "apologize" not in line


def test_repeat_without_a_live_model_is_a_usage_error() -> None:
    run = subprocess.run(
        ["coach", "eval", "--repeat", "3", "--suite", "grader"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "add --live" in run.stderr


def test_a_difficulty_that_does_not_bite_fails_the_persona_suite() -> None:
    from bot.evals.persona_suite import difficulty_metrics, persona_metrics
    from bot.evals.pinning import PersonaThresholds, check_personas

    def run(pid: str, played: str, written: str, moods: list[int], end: str | None) -> PersonaRun:
        r = PersonaRun(pid, "fr", "mediocre", moods, end, [])
        r.difficulty, r.written_difficulty = played, written
        return r

    biting = [
        run("a", "easy", "easy", [6, 3], None),
        run("a", "medium", "easy", [6, 5], None),
        run("a", "hard", "easy", [6, 9], "walkout"),
        run("b", "easy", "hard", [8, 5], None),
        run("b", "medium", "hard", [8, 7], None),
        run("b", "hard", "hard", [8, 10], "walkout"),
    ]
    figures = difficulty_metrics(biting)
    assert figures is not None and figures["ordered"] == 1.0
    assert figures["by_difficulty"] == {"easy": 3.0, "hard": 11.0}
    assert check_personas(persona_metrics(biting), PersonaThresholds()) == []
    # The same end whatever the difficulty: the suite says so.
    flat = [run(r.persona, r.difficulty, r.written_difficulty, [6, 5], None) for r in biting]
    failures = check_personas(persona_metrics(flat), PersonaThresholds())
    assert any("harder the difficulty for 0.00 of personas" in f for f in failures)
    assert any("hard personas ended no worse than easy ones" in f for f in failures)
    # A walk-out is worse than any mood, and an earlier one worse still.
    early, late = (
        run("c", "hard", "hard", [8, 10], "walkout"),
        run("c", "hard", "hard", [8, 10], "walkout"),
    )
    early.unplayed, late.unplayed = 4, 1
    assert early.severity > late.severity > 10
