"""`coach bench`: how fast and how lean the offline path is, as figures.

Measures, with medians over repeated runs (machines are noisy; no timing is
asserted anywhere):

- the deterministic checks on every labelled turn of the grader datasets;
- one whole offline turn of the session engine (store, checks, scripted
  customer, grade, mood) against a real SQLite file;
- trimming a 40-turn history to the token budget;
- peak Python memory over a 40-turn offline session;
- the customer prompt's layout for prompt caching (``bot/bench_prompt.py``);
- cold start: the wall time of ``coach grade --checks-only`` on one case and of
  ``coach personas validate``, each a fresh process, as a user runs them
  (what the command line imports before it does anything shows up here).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from bot.bench_prompt import run_prompt_bench
from bot.cases import Case, load_cases
from bot.checks import run_checks
from bot.conversation import Message
from bot.errors import CoachError
from bot.personas import load_catalog
from bot.runtime import Runtime
from bot.settings import Settings
from bot.tokens import trim_history

TURNS = [
    "Je suis vraiment désolée, je comprends à quel point c'est pénible.",
    "Si je comprends bien, le problème dure depuis lundi, c'est bien cela ?",
    "Je consulte votre dossier en ce moment.",
    "Euh, calmez-vous, ce n'est pas notre politique.",
    "Je m'en occupe et je vous rappelle d'ici 17 h.",
]


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def bench_checks(cases: list[Case], rounds: int) -> dict[str, Any]:
    """Check-only turns per second, cold: every round starts with the folds and
    the lexicon screens forgotten, so repeating the same turns measures no cache.

    Throughput is CPU time of this process (one core: the checks use one
    thread), so other work on a shared machine does not count against it; the
    wall-clock figure is printed beside it. The naive baseline runs every
    pattern of every list on every text (no screen), in the same run.
    """
    from bot.lexicon import load_lexicon
    from bot.text import fold

    languages = sorted({c.language for c in cases if c.language})
    lexicons = [load_lexicon(language) for language in languages]

    def one_round() -> tuple[float, float]:
        fold.cache_clear()
        for lexicon in lexicons:
            lexicon.forget()
        cpu, wall = time.process_time(), time.perf_counter()
        for case in cases:
            assert case.language is not None
            run_checks(case.turn, case.language, case.history)
        return time.process_time() - cpu, time.perf_counter() - wall

    screened = [one_round() for _ in range(rounds)]
    for lexicon in lexicons:
        lexicon.screening = False
    try:
        naive = [one_round() for _ in range(rounds)]
    finally:
        for lexicon in lexicons:
            lexicon.screening = True
    cpu = statistics.median(c for c, _ in screened)
    wall = statistics.median(w for _, w in screened)
    naive_cpu = statistics.median(c for c, _ in naive)
    return {
        "turns": len(cases),
        "rounds": rounds,
        "median_ms_per_turn": round(cpu / len(cases) * 1000, 3),
        "turns_per_second": round(len(cases) / cpu),
        "turns_per_second_wall": round(len(cases) / wall),
        "naive_turns_per_second": round(len(cases) / naive_cpu),
        "speedup_over_naive": round(naive_cpu / cpu, 2),
    }


async def bench_session(settings: Settings, turns: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(
            update={
                "backend": "offline",
                "seed": 1,
                "database_url": f"sqlite+aiosqlite:///{tmp}/b.db",
            }
        )
        runtime = Runtime.create(local)
        await runtime.store.init()
        persona = runtime.catalog.get("fr-double-prelevement")
        persona = persona.model_copy(
            update={"mood": persona.mood.model_copy(update={"walkout_at": 10, "calm_at": 0})}
        )  # keep the session going
        latencies: list[float] = []
        tracemalloc.start()
        try:
            engine = runtime.engine(persona)
            await engine.start()
            for i in range(turns):
                if engine.ended:
                    engine = runtime.engine(persona)
                    await engine.start()
                start = time.perf_counter()
                events = [event async for event in engine.turn(TURNS[i % len(TURNS)])]
                latencies.append(time.perf_counter() - start)
                assert events, "a turn always reports something"
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await runtime.store.close()
    return {
        "turns": turns,
        "median_ms_per_turn": _median_ms(latencies),
        "p90_ms_per_turn": round(statistics.quantiles(latencies, n=10)[-1] * 1000, 3),
        "peak_python_memory_mib": round(peak / 2**20, 2),
    }


def bench_trim(budget: int, rounds: int) -> dict[str, Any]:
    history = [Message(role="customer", content="Mon internet est coupé depuis lundi !")]
    for i in range(40):
        history.append(Message(role="trainee", content=f"{TURNS[i % 5]} (réponse {i})"))
        history.append(
            Message(
                role="customer",
                content=f"Réponse du client numéro {i}, toujours mécontent de la situation.",
            )
        )
    samples = []
    kept: list[Message] = []
    for _ in range(rounds):
        start = time.perf_counter()
        kept, _ = trim_history(history, budget)
        samples.append(time.perf_counter() - start)
    return {
        "messages": len(history),
        "kept": len(kept),
        "budget_tokens": budget,
        "median_ms": _median_ms(samples),
    }


#: The commands whose start-up is measured, with what they read on stdin.
COLD_START: dict[str, tuple[tuple[str, ...], str | None]] = {
    "grade_checks_only": (
        ("grade", "--checks-only", "-"),
        '{"language": "en", "turn": "Um, calm down."}',
    ),
    "personas_validate": (("personas", "validate"), None),
}


def bench_cold_start(rounds: int) -> dict[str, Any]:
    """Median wall seconds of each :data:`COLD_START` command run as a new process.

    ``python -m bot.cli`` is the ``coach`` entry point without the launcher
    script, with the interpreter and environment of this process (so the same
    settings, and the same checkout of ``bot``).
    """
    figures: dict[str, Any] = {}
    for name, (args, stdin) in COLD_START.items():
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            samples.append(time.perf_counter() - start)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise CoachError(
                    f"cold start: 'coach {' '.join(args)}' exited {done.returncode} ({last}); "
                    "run it by hand to see why"
                )
        figures[name] = {
            "command": f"coach {' '.join(args)}",
            "rounds": rounds,
            "median_s": round(statistics.median(samples), 3),
        }
    return figures


def run_bench(settings: Settings, *, rounds: int = 5, turns: int = 40) -> dict[str, Any]:
    catalog = load_catalog(settings.personas_dir)
    datasets = sorted((settings.evals_dir / "datasets").glob("*.jsonl"))
    cases = [c for path in datasets for c in load_cases(path, catalog)]
    checks = bench_checks(cases, rounds)
    session = asyncio.run(bench_session(settings, turns))
    trim = bench_trim(settings.history_token_budget, rounds * 20)
    cold_start = bench_cold_start(rounds)
    customer_prompt = asyncio.run(run_prompt_bench(settings, turns))
    return {
        "checks": checks,
        "offline_turn": session,
        "history_trim": trim,
        # How much of an offline turn the checks are: the rest is storage and streaming.
        "checks_share_of_turn": round(
            checks["median_ms_per_turn"] / session["median_ms_per_turn"], 3
        ),
        "cold_start": cold_start,
        "customer_prompt": customer_prompt,
    }
