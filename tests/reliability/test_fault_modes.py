"""Every fault of the model server, one turn each, through the real session path.

The app's own client (LangChain's ``ChatOpenAI`` over the OpenAI SDK, the
app's retries and deadlines) talks over loopback to the fault-injecting
server (bot/testing/openai_server.py). Each case checks what the issue asks:
the turn ends within its deadline (retries and Retry-After included), the
trainee's line is stored once, a partial reply is stored as partial, the
grade never holds the reply, and the trainee reads plain words, never an
exception's name or a setting.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.events import CustomerSaid, Failure, GradeReady
from bot.runtime import Runtime
from bot.settings import Settings
from bot.testing.openai_server import Behaviour, Fault, FaultServer
from tests.reliability.conftest import report

DEADLINE = 3.0
#: Time a turn may take past its deadline: the grade's own deadline runs
#: beside the reply's, and closing a stream or a socket takes a moment.
SLACK = 6.0
LINE = "I'm sorry about the parcel; let me check where it is right now."
#: What a trainee must never read.
TECHNICAL = (
    "Error",
    "Exception",
    "Traceback",
    "validation",
    "OPENAI_",
    "COACH_",
    "HTTP",
    "json",
    "JSON",
)


@dataclass(frozen=True)
class Case:
    fault: Fault
    kind: str  # "persona" or "grader"
    #: How many requests in a row get the fault (the SDK retries some).
    times: int
    #: Words the trainee's message must contain.
    says: str
    #: The customer line's status ("partial"), or None when there is none.
    status: str | None = None
    retry_after: float | None = None


PERSONA_CASES = [
    Case(Fault.STALL, "persona", 1, "within 3 s"),
    Case(Fault.KEEPALIVE, "persona", 1, "within 3 s"),
    Case(Fault.TRICKLE, "persona", 1, "within 3 s", status="partial"),
    Case(Fault.RATE_LIMIT, "persona", 3, "within 3 s", retry_after=30),
    # The SDK honours a Retry-After up to two minutes: the deadline ends the wait.
    Case(Fault.RATE_LIMIT, "persona", 3, "within 3 s", retry_after=90),
    # Past that it gives up at once.
    Case(Fault.RATE_LIMIT, "persona", 3, "busy", retry_after=200),
    Case(Fault.SERVER_ERROR, "persona", 3, "had an error"),
    Case(Fault.UNAVAILABLE, "persona", 3, "busy"),
    Case(Fault.RESET, "persona", 3, "cannot be reached"),
    Case(Fault.CUT, "persona", 1, "cut off", status="partial"),
    Case(Fault.RESET_MID, "persona", 1, "cut off", status="partial"),
    Case(Fault.MALFORMED, "persona", 3, "could not be read"),
]
GRADER_CASES = [
    Case(Fault.STALL, "grader", 9, "within 3 s"),
    Case(Fault.RATE_LIMIT, "grader", 9, "within 3 s", retry_after=30),
    Case(Fault.SERVER_ERROR, "grader", 9, "had an error"),
    Case(Fault.BAD_OUTPUT, "grader", 9, "could not be read"),
    Case(Fault.MALFORMED, "grader", 9, "could not be read"),
]


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    async with FaultServer(Behaviour(trickle_interval=0.8, cut_after=4)) as s:
        yield s


def runtime_for(settings: Settings, server: FaultServer, tmp_path: Path) -> Runtime:
    return Runtime.create(
        settings.model_copy(
            update={
                "backend": "compatible",
                "openai_base_url": server.base_url,
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'coach.db'}",
                "reply_deadline_seconds": DEADLINE,
                "grade_deadline_seconds": DEADLINE,
                "timeout_seconds": 60.0,
                "max_retries": 2,
                "grader_attempts": 3,
            }
        )
    )


def case_id(case: Case) -> str:
    extra = f"-{case.retry_after:g}s" if case.retry_after else ""
    return f"{case.kind}-{case.fault.value}{extra}"


@pytest.mark.parametrize("case", PERSONA_CASES + GRADER_CASES, ids=case_id)
async def test_each_fault_ends_in_bounded_time_with_plain_words(
    case: Case, server: FaultServer, settings: Settings, tmp_path: Path
) -> None:
    runtime = runtime_for(settings, server, tmp_path)
    await runtime.store.init()
    engine = runtime.engine(runtime.catalog.get("en-late-parcel"))
    await engine.start()
    if case.retry_after is not None:
        server.behaviour.retry_after = case.retry_after
    server.queue(*[case.fault] * case.times, kind=case.kind)  # type: ignore[arg-type]

    started = time.monotonic()
    events = [event async for event in engine.turn(LINE)]
    elapsed = time.monotonic() - started

    assert elapsed < DEADLINE + SLACK, f"{case_id(case)} took {elapsed:.1f} s"
    assert engine.session_id is not None
    stored_session = await runtime.store.load(engine.session_id)
    assert stored_session is not None
    messages = stored_session.messages
    assert [m.content for m in messages if m.role == "trainee"] == [LINE]
    said = [e for e in events if isinstance(e, CustomerSaid)]
    grades = [e for e in events if isinstance(e, GradeReady)]
    assert len(grades) == 1, "every line is graded or marked ungraded"
    if case.kind == "persona":
        [failure] = [e for e in events if isinstance(e, Failure)]
        told = failure.message
        if case.status is None:
            assert said == []
        else:
            [line] = said
            assert line.status == case.status and line.content
            trainee = next(i for i, m in enumerate(messages) if m.role == "trainee")
            stored = [m for m in messages[trainee + 1 :] if m.role == "customer"]
            assert [(m.content, m.status) for m in stored] == [(line.content, "partial")]
    else:
        grade = grades[0].grade
        assert grade.mode == "ungraded" and grade.score is None
        told = grade.note or ""
        # The reply came first: a failing grade never holds the conversation.
        assert said and events.index(said[0]) < events.index(grades[0])
    assert case.says in told, told
    assert not [word for word in TECHNICAL if word in told], told
    report(
        f"fault {case_id(case)}",
        seconds=f"{elapsed:.1f}",
        requests=len(server.requests),
        told=repr(told),
    )
