"""Grading many cases at once, with a bound on how many grades run together.

``coach grade`` and the eval grader suites both go through :func:`grade_many`,
so there is one concurrency loop. It imports no model SDK: the grader is
passed in, which keeps ``coach grade --checks-only`` quick to start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.cases import Case
    from bot.conversation import Message
    from bot.personas import Persona, PersonaCatalog
    from bot.rubric import Grade, Language

#: Grades at once by default: enough to overlap model calls, few enough not to
#: trip a hosted model's rate limit or swamp a local server.
DEFAULT_CONCURRENCY = 4


class TurnGrader(Protocol):
    """What :func:`grade_many` needs of a grader (``bot.grader.Grader`` has it)."""

    async def grade(
        self,
        turn: str,
        language: Language,
        history: Sequence[Message] = (),
        persona: Persona | None = None,
    ) -> Grade: ...


async def grade_many(
    cases: Sequence[Case],
    grader: TurnGrader,
    catalog: PersonaCatalog,
    *,
    repeat: int = 1,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_sample: Callable[[int], object] | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[list[Grade]]:
    """Every case graded ``repeat`` times, at most ``concurrency`` at once.

    The result follows the input: one list of ``repeat`` grades per case.
    ``on_sample(n)`` runs inside the task that grades sample ``n`` just before
    it does, so a context variable it sets holds for that grade alone (the
    eval recordings key on the sample). ``on_done`` runs after each grade
    (progress bars). If a grade fails, the grades still pending are cancelled
    and the error propagates.
    """
    if repeat < 1 or concurrency < 1:
        raise ValueError("repeat and concurrency must be at least 1")
    limit = asyncio.Semaphore(concurrency)

    async def one(case: Case, sample: int) -> Grade:
        async with limit:
            if on_sample is not None:
                on_sample(sample)
            persona = catalog.personas.get(case.persona) if case.persona else None
            # Loading a case fills its language from its persona; one without is a bug.
            assert case.language is not None, f"case {case.id} has no language"
            grade = await grader.grade(case.turn, case.language, case.history, persona)
            if on_done is not None:
                on_done()
            return grade

    tasks = [
        [asyncio.ensure_future(one(case, sample)) for sample in range(repeat)] for case in cases
    ]
    try:
        return [list(await asyncio.gather(*per_case)) for per_case in tasks]
    finally:
        for per_case in tasks:
            for task in per_case:
                task.cancel()
