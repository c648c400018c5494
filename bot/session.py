"""The session engine: one trainee turn at a time, as DESIGN.md's loop describes.

1. The trainee's message is stored before any model is called.
2. The customer's reply and the grade run concurrently; the reply streams at
   once. (Offline, grading is instant, so it runs first and the scripted
   customer reacts to this very turn.)
3. The grade is stored and moves the mood; with a model the customer feels
   it from the next reply on (one turn of lag), though it already reacts to
   what the instant checks found in this turn.
4. The session ends when the customer is calm and satisfied, walks out, or
   the trainee ends it; the debrief follows.

Everything the engine does is reported as events (pydantic models), which the
CLI prints and the web app renders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bot import guard
from bot.backends import describe_error
from bot.checks import CheckReport, run_checks
from bot.conversation import Message
from bot.debrief import Debrief, EndReason, build_debrief
from bot.errors import CoachError, RecordingMissing
from bot.grader import Grader
from bot.personas import MOOD_MAX, MOOD_MIN, Persona, mood_band
from bot.rubric import INFLAMING, SOOTHING, Grade
from bot.simulator import Customer, CustomerTurn, ScriptedCustomer
from bot.storage import Store

log = logging.getLogger(__name__)

#: A trainee message longer than this is refused (it is not a chat reply).
MAX_MESSAGE_CHARS = 4000


class SessionStarted(BaseModel):
    type: Literal["session"] = "session"
    session_id: str
    persona: str
    language: str
    channel: str
    backend: str
    mood: int
    band: str


class CustomerChunk(BaseModel):
    type: Literal["customer_chunk"] = "customer_chunk"
    text: str


class CustomerSaid(BaseModel):
    type: Literal["customer"] = "customer"
    turn: int
    content: str
    #: complete; partial (cut by a failure); final (a closing line); replaced
    #: (the model's line broke character and an authored line replaces it).
    status: Literal["complete", "partial", "final", "replaced"] = "complete"
    #: Why a line was replaced (the guard's findings), for logs and evals.
    guarded: list[str] = Field(default_factory=list)


class TraineeSaid(BaseModel):
    type: Literal["trainee"] = "trainee"
    turn: int
    content: str
    message_id: int


class GradeReady(BaseModel):
    type: Literal["grade"] = "grade"
    turn: int
    grade: Grade


class MoodChanged(BaseModel):
    type: Literal["mood"] = "mood"
    turn: int
    before: int
    after: int
    delta: int
    band: str
    #: Why, in the conversation's language ("you reformulated").
    reason: str


class Failure(BaseModel):
    type: Literal["error"] = "error"
    turn: int
    where: Literal["customer", "grade"]
    message: str


class SessionEnded(BaseModel):
    type: Literal["end"] = "end"
    reason: EndReason
    debrief: Debrief


Event = Annotated[
    SessionStarted
    | CustomerChunk
    | CustomerSaid
    | TraineeSaid
    | GradeReady
    | MoodChanged
    | Failure
    | SessionEnded,
    Field(discriminator="type"),
]


class SessionClosedError(CoachError):
    """A turn on a session that has not started or has ended."""


class EmptyMessageError(CoachError):
    """A trainee message that is empty or too long to be a reply."""


#: Why the mood moved, in words, per criterion.
_REASONS = {
    "no_blocking_phrase": {"fr": "phrase bloquante", "en": "a blocking phrase"},
    "no_blame": {"fr": "vous avez blâmé le client", "en": "you blamed the customer"},
    "no_hold": {"fr": "mise en attente sans explication", "en": "an unexplained hold"},
    "no_filler": {"fr": "tics verbaux", "en": "fillers"},
    "set_boundaries": {"fr": "insulte en retour", "en": "you answered in kind"},
    "acknowledge_emotion": {
        "fr": "vous avez reconnu son émotion",
        "en": "you acknowledged the feeling",
    },
    "apologize": {"fr": "vous vous êtes excusé(e)", "en": "you apologised"},
    "reformulate": {"fr": "vous avez reformulé", "en": "you reformulated"},
    "propose_solution": {"fr": "vous avez proposé une solution", "en": "you offered a solution"},
    "concrete_timeline": {"fr": "vous avez donné un délai précis", "en": "you gave a clear time"},
    "ownership": {"fr": "vous avez pris le problème en main", "en": "you took ownership"},
}


def mood_reason(grade: Grade, delta: int, language: str) -> str:
    lang = "fr" if language == "fr" else "en"
    if delta > 0:
        for cid in (*INFLAMING, "set_boundaries"):
            if grade.verdict(cid) == "missed" and cid in _REASONS:
                return _REASONS[cid][lang]
        return "réponse mal reçue" if lang == "fr" else "the reply did not land"
    if delta < 0:
        for cid in SOOTHING:
            if grade.verdict(cid) == "met" and cid in _REASONS:
                return _REASONS[cid][lang]
        return "réponse bien reçue" if lang == "fr" else "the reply helped"
    return "pas d'effet" if lang == "fr" else "no change"


def _resolution_offered(grades: list[Grade]) -> bool:
    """Satisfied means calm *and* given a way forward at some point: a solution
    or a concrete time for one."""
    return any(
        g.verdict("propose_solution") == "met" or g.verdict("concrete_timeline") == "met"
        for g in grades
    )


class SessionEngine:
    def __init__(
        self,
        *,
        persona: Persona,
        customer: Customer,
        grader: Grader,
        store: Store,
        backend_label: str,
        user_id: str | None = None,
        closing_lines: ScriptedCustomer | None = None,
        guard_dir: Path | None = None,
    ) -> None:
        self.persona = persona
        self.customer = customer
        self.grader = grader
        self.store = store
        self.backend_label = backend_label
        self.user_id = user_id
        # Closing lines always come from the persona's authored lines.
        self.closing = closing_lines or ScriptedCustomer(persona)
        # Where the character guard's lists are; None: no guard (scripted lines
        # are authored and need none).
        self.guard_dir = guard_dir
        self.session_id: str | None = None
        self.history: list[Message] = []
        self.grades: list[Grade] = []
        self.turns: list[tuple[str, Grade | None, int]] = []
        self.mood = persona.mood.start
        self.ended: EndReason | None = None

    @property
    def language(self) -> str:
        return self.persona.language

    # --- lifecycle --------------------------------------------------------------

    async def start(self, *, thread_id: str | None = None) -> list[BaseModel]:
        self.session_id = await self.store.create_session(
            persona_id=self.persona.id,
            language=self.persona.language,
            backend=self.backend_label,
            mood=self.mood,
            user_id=self.user_id,
            thread_id=thread_id,
        )
        opening = self.customer.opening()
        await self.store.add_message(self.session_id, "customer", opening)
        self.history.append(Message(role="customer", content=opening))
        return [
            SessionStarted(
                session_id=self.session_id,
                persona=self.persona.id,
                language=self.persona.language,
                channel=self.persona.channel,
                backend=self.backend_label,
                mood=self.mood,
                band=mood_band(self.mood),
            ),
            CustomerSaid(turn=0, content=opening),
        ]

    @classmethod
    async def resume(
        cls,
        session_id: str,
        *,
        persona: Persona,
        customer: Customer,
        grader: Grader,
        store: Store,
        backend_label: str,
    ) -> SessionEngine:
        stored = await store.load(session_id)
        if stored is None:
            raise CoachError(f"no session {session_id} in the database")
        engine = cls(
            persona=persona,
            customer=customer,
            grader=grader,
            store=store,
            backend_label=backend_label,
            user_id=stored.row.user_id,
        )
        engine.session_id = session_id
        engine.history = [
            Message.model_validate({"role": m.role, "content": m.content})
            for m in stored.messages
            if m.content
        ]
        engine.mood = stored.row.mood
        for t in stored.turns:
            engine.turns.append(
                (t.content, t.grade, t.mood_after if t.mood_after is not None else engine.mood)
            )
            if t.grade:
                engine.grades.append(t.grade)
        if stored.row.status == "ended":
            engine.ended = stored.row.end_reason  # type: ignore[assignment]
        return engine

    async def end(self, reason: EndReason = "trainee") -> SessionEnded:
        if self.session_id is None:
            raise SessionClosedError("the session has not started")
        if self.ended is None:
            self.ended = reason
            await self.store.end_session(self.session_id, reason)
        return SessionEnded(reason=self.ended, debrief=self.debrief())

    def debrief(self) -> Debrief:
        return build_debrief(
            outcome=self.ended or "trainee",
            language=self.persona.language,
            mood_start=self.persona.mood.start,
            turns=self.turns,
        )

    # --- one trainee turn ------------------------------------------------------------

    async def turn(self, text: str) -> AsyncIterator[BaseModel]:
        """Play one trainee turn; yields events as they happen."""
        if self.session_id is None:
            raise SessionClosedError("the session has not started")
        if self.ended is not None:
            raise SessionClosedError("this session has ended; start a new one")
        text = text.strip()
        if not text:
            raise EmptyMessageError("the message is empty; type a reply to the customer")
        if len(text) > MAX_MESSAGE_CHARS:
            raise EmptyMessageError(
                f"the message is {len(text)} characters; keep a reply under {MAX_MESSAGE_CHARS}"
            )

        # 1. Nothing a trainee typed is ever lost: store it before any model runs.
        number = len(self.turns) + 1
        message_id = await self.store.add_message(self.session_id, "trainee", text)
        before = list(self.history)
        self.history.append(Message(role="trainee", content=text))
        yield TraineeSaid(turn=number, content=text, message_id=message_id)

        report = run_checks(text, self.persona.language, before)  # instant
        mood_before = self.mood

        if self.grader.checks_only:
            # Offline grading is instant: grade first, so the customer reacts now.
            grade = self.grader.grade_checks_only(text, self.persona.language, before)
            mood_after = self._apply(grade)
            async for event in self._customer_reply(number, report, grade, mood_after):
                yield event
            async for event in self._after_grade(number, text, message_id, grade, mood_before):
                yield event
            return

        queue: asyncio.Queue[BaseModel | None] = asyncio.Queue()

        async def run_customer() -> None:
            try:
                async for event in self._customer_reply(number, report, None, self.mood):
                    await queue.put(event)
            finally:
                await queue.put(None)

        async def run_grade() -> None:
            try:
                grade = await self.grader.grade(text, self.persona.language, before, self.persona)
                await queue.put(GradeReady(turn=number, grade=grade))
            finally:
                await queue.put(None)

        tasks = [asyncio.create_task(run_customer()), asyncio.create_task(run_grade())]
        grade_event: GradeReady | None = None
        try:
            finished = 0
            while finished < len(tasks):
                queued = await queue.get()
                if queued is None:
                    finished += 1
                elif isinstance(queued, GradeReady):
                    grade_event = queued  # applied after the reply, so mood stays consistent
                else:
                    yield queued
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome  # only what the tasks let through: replay gaps, bugs
        if grade_event is None:  # pragma: no cover - grade() never raises
            return
        self._apply(grade_event.grade)
        async for event in self._after_grade(
            number, text, message_id, grade_event.grade, mood_before
        ):
            yield event

    # --- internals ---------------------------------------------------------------------

    def _apply(self, grade: Grade) -> int:
        self.mood = max(MOOD_MIN, min(MOOD_MAX, self.mood - grade.deescalation))
        return self.mood

    async def _customer_reply(
        self, number: int, report: CheckReport, grade: Grade | None, mood: int
    ) -> AsyncIterator[BaseModel]:
        assert self.session_id is not None
        parts: list[str] = []
        turn = CustomerTurn(
            persona=self.persona, history=list(self.history), mood=mood, report=report, grade=grade
        )
        try:
            async for chunk in self.customer.reply(turn):
                parts.append(chunk)
                yield CustomerChunk(text=chunk)
        except RecordingMissing:
            raise
        except Exception as exc:
            reason = describe_error(exc)
            log.warning("customer reply failed: %s", reason)
            partial = "".join(parts).strip()
            if partial:
                await self.store.add_message(self.session_id, "customer", partial, "partial")
                self.history.append(Message(role="customer", content=partial))
                yield CustomerSaid(turn=number, content=partial, status="partial")
            message = (
                f"Le client n'a pas pu répondre : {reason}. Votre message est enregistré ; "
                "renvoyez-le ou continuez."
                if self.language == "fr"
                else f"The customer could not reply: {reason}. Your message is saved; "
                "send it again or carry on."
            )
            yield Failure(turn=number, where="customer", message=message)
            return
        content = "".join(parts).strip()
        if not content:
            yield Failure(
                turn=number, where="customer", message="The customer model returned an empty reply."
            )
            return
        found = []
        if self.guard_dir is not None and not isinstance(self.customer, ScriptedCustomer):
            found = guard.violations(content, self.persona, self.guard_dir)
        if found:
            log.warning("customer line replaced (%s): %r", found[0].kind, content[:120])
            content = self.closing.line_for_mood(mood)
        await self.store.add_message(self.session_id, "customer", content)
        self.history.append(Message(role="customer", content=content))
        yield CustomerSaid(
            turn=number,
            content=content,
            status="replaced" if found else "complete",
            guarded=[f"{v.kind}: {v.matched}" for v in found],
        )

    async def _after_grade(
        self, number: int, text: str, message_id: int, grade: Grade, mood_before: int
    ) -> AsyncIterator[BaseModel]:
        assert self.session_id is not None
        await self.store.add_grade(
            self.session_id, message_id, number, grade, mood_before, self.mood
        )
        self.grades.append(grade)
        self.turns.append((text, grade, self.mood))
        yield GradeReady(turn=number, grade=grade)
        delta = self.mood - mood_before
        yield MoodChanged(
            turn=number,
            before=mood_before,
            after=self.mood,
            delta=delta,
            band=mood_band(self.mood),
            reason=mood_reason(grade, delta, self.persona.language),
        )
        reason: EndReason | None = None
        if self.mood >= self.persona.mood.walkout_at:
            reason = "walkout"
        elif self.mood <= self.persona.mood.calm_at and _resolution_offered(self.grades):
            reason = "calm"
        if reason is not None:
            line = self.closing.closing_line(reason)
            await self.store.add_message(self.session_id, "customer", line)
            self.history.append(Message(role="customer", content=line))
            yield CustomerSaid(turn=number, content=line, status="final")
            yield await self.end(reason)
