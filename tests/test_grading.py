"""The one grading loop that `coach grade` and the eval grader suites share."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from bot.cases import Case, parse_cases
from bot.evals.grader_suite import grade_cases
from bot.grader import Grader
from bot.grading import grade_many
from bot.personas import cached_catalog
from bot.settings import Settings

sample: contextvars.ContextVar[int] = contextvars.ContextVar("test_sample", default=-1)


class SlowGrader:
    """Answers "turn#sample" after a delay the turn names, and records what ran."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.running = 0
        self.most_at_once = 0
        self.finished: list[str] = []
        self.personas: list[str | None] = []
        self.fail_on = fail_on

    async def grade(self, turn: str, language: str, history: Any = (), persona: Any = None) -> str:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.personas.append(persona.id if persona else None)
        try:
            if turn == self.fail_on:
                raise RuntimeError("the grader broke")
            await asyncio.sleep(float(turn.split()[0]) / 1000)
            self.finished.append(turn)
            return f"{turn}#{sample.get()}"
        finally:
            self.running -= 1


def cases(*turns: str, persona: str | None = None) -> list[Case]:
    return [Case(id=f"c{i}", language="en", turn=t, persona=persona) for i, t in enumerate(turns)]


async def test_results_follow_the_input_and_concurrency_is_bounded(settings: Settings) -> None:
    grader = SlowGrader()
    # The first cases are the slowest, so they finish last.
    turns = [f"{delay} ms" for delay in (40, 30, 20, 10, 5, 1)]
    graded = await grade_many(
        cases(*turns), grader, cached_catalog(settings.personas_dir), concurrency=2
    )
    assert graded == [[f"{t}#-1"] for t in turns]
    assert grader.most_at_once == 2
    assert grader.finished != turns  # they did finish out of order


async def test_each_repeat_sees_its_own_sample(settings: Settings) -> None:
    done: list[None] = []
    graded = await grade_many(
        cases("3 ms", "1 ms"),
        SlowGrader(),
        cached_catalog(settings.personas_dir),
        repeat=3,
        on_sample=sample.set,
        on_done=lambda: done.append(None),
    )
    assert graded == [[f"{t}#{n}" for n in range(3)] for t in ("3 ms", "1 ms")]
    assert len(done) == 6
    assert sample.get() == -1  # set inside each grade's task, never here


async def test_a_failed_grade_cancels_the_pending_ones(settings: Settings) -> None:
    grader = SlowGrader(fail_on="0 ms")
    with pytest.raises(RuntimeError, match="the grader broke"):
        await grade_many(
            cases("0 ms", *["500 ms"] * 4), grader, cached_catalog(settings.personas_dir)
        )
    await asyncio.sleep(0)
    assert grader.finished == [] and grader.running == 0


async def test_the_case_persona_reaches_the_grader(settings: Settings) -> None:
    grader = SlowGrader()
    catalog = cached_catalog(settings.personas_dir)
    await grade_many(cases("1 ms", persona="en-late-parcel") + cases("1 ms"), grader, catalog)
    assert grader.personas == ["en-late-parcel", None]


@pytest.mark.parametrize("bad", [{"repeat": 0}, {"concurrency": 0}])
async def test_repeat_and_concurrency_must_be_positive(settings: Settings, bad: Any) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await grade_many(cases("1 ms"), SlowGrader(), cached_catalog(settings.personas_dir), **bad)


async def test_the_eval_suite_grades_through_it_with_the_real_checks(settings: Settings) -> None:
    catalog = cached_catalog(settings.personas_dir)
    loaded = parse_cases(
        '{"id": "a", "language": "en", "turn": "Calm down.", '
        '"expect": {"no_blocking_phrase": "missed"}}\n'
        '{"id": "b", "persona": "fr-deuil-chien", "turn": "Je suis désolée."}',
        "stdin",
        catalog,
    )
    results = await grade_cases(loaded, Grader(settings, None), catalog, repeat=2)
    assert [r.case.id for r in results] == ["a", "b"]
    assert all(len(r.grades) == 2 and r.grade.mode == "checks_only" for r in results)
    assert results[0].correct("no_blocking_phrase") and results[0].flip_rate == 0.0
    assert results[1].case.language == "fr"
    assert results[1].grade.criteria["apologize"].verdict == "met"
