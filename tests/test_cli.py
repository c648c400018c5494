"""The `coach` command line, run as a real process.

The commands, their flags and their output are a contract that outside checks
call exactly as written; a user mistake is one line on stderr and a non-zero
exit, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def coach(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["coach", *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["chat"],
        ["grade"],
        ["personas"],
        ["personas", "list"],
        ["personas", "validate"],
        ["personas", "schema"],
        ["personas", "new"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = coach(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_grade_checks_only_decides_the_check_criteria(tmp_path: Path) -> None:
    cases = [
        {
            "id": "fr-bad",
            "language": "fr",
            "history": [{"role": "customer", "content": "Je suis débitée deux fois !"}],
            "turn": "Euh, calmez-vous, ce n'est pas notre politique.",
        },
        {
            "id": "en-good",
            "persona": "en-late-parcel",
            "turn": "Thank you for reaching out. I'm so sorry the parcel is stuck. I'm checking "
            "the tracking now and I'll call you back by 3 pm.",
        },
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    result = coach("grade", "--checks-only", str(path))
    assert result.returncode == 0, result.stderr
    grades = [json.loads(line) for line in result.stdout.splitlines()]
    assert [g["id"] for g in grades] == ["fr-bad", "en-good"]
    bad, good = (g["criteria"] for g in grades)
    assert bad["no_filler"] == {
        "verdict": "missed",
        "evidence": "Euh",
        "source": "check",
        "basis": "found",
    }
    assert bad["no_blocking_phrase"]["evidence"] == "calmez-vous; ce n'est pas notre politique"
    assert {
        good[c]["verdict"]
        for c in (
            "positive_opening",
            "apologize",
            "narrate_action",
            "concrete_timeline",
            "personal_language",
        )
    } == {"met"}
    assert all(g["mode"] == "checks_only" and len(g["criteria"]) == 20 for g in grades)
    assert grades[1]["score"] > grades[0]["score"]


def test_grade_reads_stdin_and_says_when_offline() -> None:
    result = coach("grade", "-", stdin='{"language": "en", "turn": "Calm down."}')
    assert result.returncode == 0
    assert json.loads(result.stdout)["criteria"]["no_blocking_phrase"]["verdict"] == "missed"
    assert "offline" in result.stderr


@pytest.mark.parametrize(
    ("stdin", "pattern"),
    [
        ("{not json", "not JSON"),
        ('{"language": "en"}', "turn: required field is missing"),
        ('{"language": "en", "turn": "x", "expect": {"kindness": "met"}}', "unknown criterion"),
        ('{"persona": "nobody", "turn": "x"}', "unknown persona 'nobody'"),
    ],
)
def test_grade_bad_input_gets_one_line(stdin: str, pattern: str) -> None:
    assert pattern in one_line_error(coach("grade", "--checks-only", "-", stdin=stdin))


def coach_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess[str]:
    """``coach`` fed raw bytes (invalid UTF-8 cannot be written as ``str``)."""
    result = subprocess.run(["coach", *args], input=stdin, capture_output=True, timeout=120)
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


@pytest.mark.parametrize(
    ("args", "stdin", "pattern"),
    [
        (["grade", "--checks-only", "-"], b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (["grade", "--checks-only", "-"], b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "too deep"),
        (
            ["grade", "--checks-only", "-"],
            b'{"language": "en", "turn": "' + b"a" * 2_000_000 + b'"}',
            "longer than 4000 characters",
        ),
        (
            ["grade", "--checks-only", "-"],
            b'{"language": "en", "turn": "\xff"}',
            "not UTF-8 text (byte 29)",
        ),
        (
            ["chat", "--persona", "fr-deuil-chien", "--script", "-"],
            b"Bonjour \xe9\xff\n",
            "not UTF-8",
        ),
        (["grade", "--checks-only", "-"], b" " * (20 * 1024 * 1024 + 1), "over 20.0 MiB"),
    ],
    ids=["deep-array", "deep-object", "2mb-turn", "grade-utf8", "script-utf8", "over-limit"],
)
def test_hostile_stdin_gets_one_line(args: list[str], stdin: bytes, pattern: str) -> None:
    """The limits a file has hold on stdin too: no traceback, no minutes of work."""
    assert pattern in one_line_error(coach_bytes(*args, stdin=stdin))


def test_grade_missing_file() -> None:
    assert "no such file" in one_line_error(coach("grade", "/nonexistent/cases.jsonl"))


def test_scripted_chat_runs_a_full_offline_session(tmp_path: Path) -> None:
    script = tmp_path / "trainee.txt"
    script.write_text(
        "# a comment line is skipped\n"
        "Calmez-vous madame, quel est votre numéro de commande ?\n\n"
        "Je suis sincèrement désolée pour Filou. Je comprends à quel point c'est dur.\n"
        "J'annule la commande maintenant, vous serez remboursée sous 3 jours ouvrés.\n",
        encoding="utf-8",
    )
    result = coach("chat", "--persona", "fr-deuil-chien", "--script", str(script), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[:2] == ["session", "customer"]
    assert types.count("trainee") == 3 and types.count("grade") == 3
    assert types.count("mood") == 3 and types[-1] == "end"
    assert "customer_chunk" not in types
    moods = [e["after"] for e in events if e["type"] == "mood"]
    assert moods[0] > 7 and moods[-1] < moods[0]
    end = events[-1]
    assert end["debrief"]["turns"] == 3 and len(end["debrief"]["mood_trajectory"]) == 4
    assert events[0]["backend"].startswith("offline")
    assert (tmp_path / "data" / "coach.db").exists()


def test_a_script_takes_a_reply_back(tmp_path: Path) -> None:
    script = tmp_path / "trainee.txt"
    script.write_text(
        "Je suis sincèrement désolée pour Filou.\n"
        "Ce n'est qu'un chien, madame.\n"
        "/back\n"
        "Je comprends, il comptait énormément pour vous.\n",
        encoding="utf-8",
    )
    result = coach("chat", "--persona", "fr-deuil-chien", "--script", str(script), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [back] = [e for e in events if e["type"] == "taken_back"]
    moods = [e["after"] for e in events if e["type"] == "mood"]
    assert back["turn"] == 2 and back["after"] == moods[0] and back["before"] == moods[1]
    assert [e["turn"] for e in events if e["type"] == "grade"] == [1, 2, 2]
    debrief = events[-1]["debrief"]
    assert debrief["turns"] == 2 and [r["turn"] for r in debrief["retries"]] == [2]
    text = coach("chat", "--persona", "fr-deuil-chien", "--script", str(script))
    assert "Réponse 2 reprise" in text.stdout and "Réponses reprises" in text.stdout
    first = tmp_path / "first.txt"
    first.write_text("/back\n", encoding="utf-8")
    bad = coach("chat", "--persona", "fr-deuil-chien", "--script", str(first), "--json")
    error = one_line_error(bad)
    assert "no reply to take back" in error


def test_chat_errors() -> None:
    assert "unknown persona" in one_line_error(
        coach("chat", "--persona", "nobody", "--script", "-", stdin="hi")
    )
    assert "no such script" in one_line_error(
        coach("chat", "--persona", "fr-deuil-chien", "--script", "/nope.txt")
    )
    assert "not a terminal" in one_line_error(
        coach("chat", "--persona", "fr-deuil-chien", stdin="Bonjour\n")
    )
    assert "Missing option" in one_line_error(coach("chat"), code=2)
    assert "No such option" in one_line_error(coach("grade", "--bogus"), code=2)


def test_personas_commands(tmp_path: Path) -> None:
    listed = coach("personas", "list", "--json", "--language", "en")
    assert listed.returncode == 0
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert ids and all(i.startswith("en-") for i in ids)
    valid = coach("personas", "validate")
    assert valid.returncode == 0 and valid.stdout.count("ok: ") >= 10
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nname: x\n", encoding="utf-8")
    result = coach("personas", "validate", str(ROOT / "personas" / "fr-deuil-chien.yaml"), str(bad))
    assert result.returncode == 1 and "ok: " in result.stdout
    assert result.stderr.startswith("error: bad.yaml:") or "bad.yaml" in result.stderr
    schema = json.loads(coach("personas", "schema").stdout)
    assert schema["additionalProperties"] is False and "opening" in schema["required"]


def test_bench_prints_figures() -> None:
    result = coach("bench", "--json", "--rounds", "1", "--turns", "4")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["checks"]["turns"] > 300 and figures["checks"]["median_ms_per_turn"] > 0
    assert figures["offline_turn"]["turns"] == 4
    assert figures["history_trim"]["kept"] < figures["history_trim"]["messages"]
    cold = figures["cold_start"]
    assert set(cold) == {"grade_checks_only", "personas_validate"}
    assert all(m["rounds"] == 1 and m["median_s"] > 0 for m in cold.values())
    assert cold["grade_checks_only"]["command"] == "coach grade --checks-only -"
    prompt = figures["customer_prompt"]
    assert prompt["layout"]["turns"] == prompt["naive"]["turns"] == 4
    assert prompt["layout"]["system_identical"] == 3 and prompt["naive"]["system_identical"] == 0
    assert prompt["server"]["turns_stored"] == 4
    printed = coach("bench", "--rounds", "1", "--turns", "2")
    assert "cold start" in printed.stdout and "coach personas validate" in printed.stdout
    assert "system prompt byte-identical turn to turn      1 of 1" in printed.stdout


#: What the quick commands must not load: the web app, the database layer,
#: the model SDKs, charts, the session engine and the runtime that wires them.
HEAVY = (
    "chainlit",
    "sqlalchemy",
    "openai",
    "langchain_openai",
    "langchain_core",
    "plotly",
    "bot.web.launch",
    "bot.web.handlers",
    "bot.app",
    "bot.runtime",
    "bot.storage",
    "bot.session",
    "bot.evals.runner",
)

LOADED = """
import sys
from bot.cli import main
try:
    main(sys.argv[1:])
finally:
    heavy = {heavy!r}
    print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)),
          file=sys.stderr)
"""


def loaded_by(*args: str, stdin: str | None = None) -> list[str]:
    """The heavy modules in memory after ``coach ARGS`` (the last stderr line)."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(heavy=HEAVY), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()[-1].split() if result.stderr.strip() else []


def test_quick_commands_load_no_heavy_module() -> None:
    assert loaded_by("personas", "validate") == []
    assert loaded_by("personas", "list") == []
    assert loaded_by("grade", "--checks-only", "-", stdin='{"language": "en", "turn": "Hi."}') == []
    assert loaded_by("--help") == []


def test_users_commands() -> None:
    added = coach("users", "add", "zoe", "--role", "trainer")
    assert added.returncode == 0 and "with password" in added.stdout
    assert "zoe\ttrainer" in coach("users", "list").stdout
    assert "unknown role" in one_line_error(coach("users", "add", "x", "--role", "boss"))
    assert "too short" in one_line_error(
        coach("users", "add", "x", "--role", "trainee", "--password", "short")
    )
    assert coach("users", "remove", "zoe").returncode == 0
    assert "no user 'zoe'" in one_line_error(coach("users", "remove", "zoe"))
