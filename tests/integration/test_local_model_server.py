"""The LLM path end to end against a real model server on loopback.

SmolLM2-135M writes poor text (English only, it loops): these tests prove the
whole path works with a real model, through the same code the app uses, not
the quality of what it says.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from bot.events import CustomerChunk, CustomerSaid, Failure, GradeReady, MoodChanged
from bot.rubric import CRITERION_IDS
from bot.runtime import Runtime

pytestmark = pytest.mark.llm_server


async def test_a_turn_streams_a_reply_and_produces_a_valid_grade(local_model_env: str) -> None:
    runtime = Runtime.create()
    assert runtime.backend.kind == "compatible"
    assert runtime.backend.structured_method == "function_calling"
    await runtime.store.init()
    try:
        persona = runtime.catalog.get("en-late-parcel")
        engine = runtime.engine(persona)
        await engine.start()
        events: list[BaseModel] = [
            e
            async for e in engine.turn(
                "Thank you for reaching out, I'm so sorry your parcel is late. "
                "What is your tracking number?"
            )
        ]
    finally:
        await runtime.store.close()
    assert not [e for e in events if isinstance(e, Failure)]
    chunks = [e for e in events if isinstance(e, CustomerChunk)]
    reply = next(e for e in events if isinstance(e, CustomerSaid))
    assert len(chunks) > 1 and reply.content  # streamed, token by token
    grade = next(e for e in events if isinstance(e, GradeReady)).grade
    assert grade.mode == "hybrid", grade.note  # a schema-valid grade came back
    assert list(grade.criteria) == list(CRITERION_IDS)
    assert {r.source for r in grade.criteria.values()} == {"check", "llm"}
    # The checks stay authoritative whatever the small model says.
    assert grade.criteria["apologize"].verdict == "met"
    assert grade.criteria["apologize"].source == "check"
    assert grade.score is not None and 0 <= grade.score <= 100
    assert any(isinstance(e, MoodChanged) for e in events)
