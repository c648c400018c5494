"""Opt-in: the full grader and customer against OpenAI (pytest --live-api).

Skipped by default and in CI: it needs OPENAI_API_KEY and the internet.
"""

from __future__ import annotations

import pytest

from bot.events import CustomerSaid, GradeReady
from bot.runtime import Runtime
from tests.conftest import ORIGINAL_ENV

pytestmark = pytest.mark.live_api


async def test_a_turn_against_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    key = ORIGINAL_ENV.get("OPENAI_API_KEY")
    if not key:
        pytest.skip("OPENAI_API_KEY is not set")
    from bot.settings import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", key)
    get_settings.cache_clear()
    runtime = Runtime.create()
    assert runtime.backend.kind == "openai"
    await runtime.store.init()
    try:
        engine = runtime.engine(runtime.catalog.get("en-late-parcel"))
        await engine.start()
        events = [
            e
            async for e in engine.turn(
                "Thank you for reaching out, I'm so sorry the parcel is late. I'm checking the "
                "tracking now and I'll call you back by 3 pm."
            )
        ]
    finally:
        await runtime.store.close()
    grade = next(e for e in events if isinstance(e, GradeReady)).grade
    assert grade.mode == "hybrid" and grade.score is not None
    assert grade.criteria["apologize"].verdict == "met"
    assert next(e for e in events if isinstance(e, CustomerSaid)).content
