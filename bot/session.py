"""The session engine: the loop of one trainee turn, the same whatever the backend.

1. The trainee's message is stored before any model is called.
2. The checks run once (instant); then the customer's reply and the grade run
   concurrently, and the reply streams at once. The customer gets the checks'
   findings and the pending grade: the offline customer waits for it (it is
   instant) and reacts to this very turn; a model-played customer does not,
   and feels the grade from its next reply on (one turn of lag).
3. The grade is stored and moves the mood (``bot/mood.py``).
4. The session ends when the customer is calm and satisfied, walks out, or
   the trainee ends it; the debrief follows.

Everything the engine does is reported as events (``bot/events.py``), which
the CLI prints and the web app renders.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from bot import goals, mood
from bot.backends import describe_error, plain_error
from bot.checks import CheckReport, run_checks
from bot.conversation import MAX_MESSAGE_CHARS, Message
from bot.debrief import Debrief, EndReason, build_debrief
from bot.errors import CoachError, RecordingMissing
from bot.events import (
    CustomerChunk,
    CustomerSaid,
    Event,
    Failure,
    GradeReady,
    MoodChanged,
    SessionEnded,
    SessionStarted,
    TraineeSaid,
    TurnTakenBack,
)
from bot.grader import Grader
from bot.hints import hint_for
from bot.i18n import t
from bot.personas import Persona
from bot.rubric import Grade
from bot.simulator import Customer, CustomerTurn

if TYPE_CHECKING:
    from bot.storage import Store

log = logging.getLogger(__name__)


class SessionClosedError(CoachError):
    """A turn on a session that has not started or has ended."""


class EmptyMessageError(CoachError):
    """A trainee message that is empty or too long to be a reply."""


class NothingToRetry(CoachError):
    """A retry asked for when the customer's last reply did not fail."""


class NothingToTakeBack(CoachError):
    """A take-back asked for before any reply, or after the session ended."""


class SessionEngine:
    """One trainee's session with one persona: start, turns, end."""

    def __init__(
        self,
        *,
        persona: Persona,
        customer: Customer,
        grader: Grader,
        store: Store,
        backend_label: str,
        user_id: str | None = None,
        reply_deadline: float | None = None,
    ) -> None:
        self.persona = persona
        #: Seconds the customer's whole reply may take (None: no deadline).
        self.reply_deadline = reply_deadline
        self.customer = customer
        self.grader = grader
        self.store = store
        self.backend_label = backend_label
        self.user_id = user_id
        self.session_id: str | None = None
        self.history: list[Message] = []
        self.grades: list[Grade] = []
        self.turns: list[tuple[str, Grade | None, int]] = []
        #: The stored message id of each turn's trainee line (beside ``turns``).
        self._turn_messages: list[int] = []
        #: Replies the trainee took back: (the turn's number, the line, its grade).
        self.retracted: list[tuple[int, str, Grade | None]] = []
        self.mood = persona.mood.start
        self.ended: EndReason | None = None
        #: For each hint asked for: how many replies the trainee had sent by then.
        self.hints: list[int] = []
        self._turn_lock = asyncio.Lock()
        #: The turn whose customer reply failed, until it is retried or the
        #: trainee moves on: (turn number, what the customer was replying to).
        self._unanswered: tuple[int, CustomerTurn] | None = None

    @property
    def language(self) -> str:
        return self.persona.language

    @property
    def mood_trajectory(self) -> list[int]:
        """The mood at the start and after every turn."""
        return [self.persona.mood.start, *(mood_after for _, _, mood_after in self.turns)]

    @property
    def _look(self) -> mood.MoodLook:
        """How the mood now is named and coloured for this customer."""
        return mood.mood_look(self.mood, self.persona.temperament, self.persona.language)

    @property
    def goals_reached(self) -> frozenset[str]:
        """The persona's goals the trainee's turns have met so far."""
        return goals.reached(self.persona.goals, self.persona.language, self.turns)

    # --- lifecycle --------------------------------------------------------------

    async def start(self, *, thread_id: str | None = None) -> list[Event]:
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
                band=mood.mood_band(self.mood),
                label=self._look.label,
                colour=self._look.colour,
            ),
            CustomerSaid(turn=0, content=opening),
        ]

    async def restore(self, session_id: str) -> None:
        """Continue a stored session: its history, grades, mood and status."""
        stored = await self.store.load(session_id)
        if stored is None:
            raise CoachError(f"no session {session_id} in the database")
        self.user_id = stored.row.user_id
        self.session_id = session_id
        self.history = [
            Message.model_validate({"role": m.role, "content": m.content})
            for m in stored.messages
            if m.content and m.status != "retracted"
        ]
        self.mood = stored.row.mood
        for stored_turn in stored.turns:
            after = stored_turn.mood_after
            self.turns.append(
                (stored_turn.content, stored_turn.grade, after if after is not None else self.mood)
            )
            self._turn_messages.append(stored_turn.message_id)
            if stored_turn.grade:
                self.grades.append(stored_turn.grade)
        self.hints = [hint.after_turn for hint in stored.hints]
        self.retracted = [(r.turn, r.content, r.grade) for r in stored.retracted]
        if stored.row.status == "ended":
            self.ended = stored.row.end_reason  # type: ignore[assignment]

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
            goals=goals.progress(self.persona.goals, self.persona.language, self.turns),
            hints=self.hints,
            retracted=self.retracted,
        )

    async def hint(self) -> str:
        """A nudge for the next reply, stored with how many replies came before
        it (the debrief and the transcripts say which replies had help)."""
        text = hint_for(self.persona, self.grades)
        if self.session_id is not None:
            await self.store.add_hint(self.session_id, len(self.turns), text)
        self.hints.append(len(self.turns))
        return text

    # --- one trainee turn ------------------------------------------------------------

    async def turn(self, text: str) -> AsyncGenerator[Event, None]:
        """Play one trainee turn; yields events as they happen.

        One turn at a time: a line sent while the previous turn is still
        running waits for it, then plays in order with the next number.
        """
        if self.session_id is None:
            raise SessionClosedError("the session has not started")
        text = text.strip()
        if not text:
            raise EmptyMessageError("the message is empty; type a reply to the customer")
        if len(text) > MAX_MESSAGE_CHARS:
            raise EmptyMessageError(
                f"the message is {len(text)} characters; keep a reply under {MAX_MESSAGE_CHARS}"
            )
        async with self._turn_lock:
            if self.ended is not None:
                raise SessionClosedError("this session has ended; start a new one")
            self._unanswered = None
            # Closed before the lock is let go, so a stopped turn is recorded
            # before the next one takes a number.
            async with contextlib.aclosing(self._play(text)) as events:
                async for event in events:
                    yield event

    @property
    def can_retry(self) -> bool:
        """The customer's last reply failed and the trainee has not moved on."""
        return self._unanswered is not None and self.ended is None

    async def retry_reply(self) -> AsyncGenerator[Event, None]:
        """Ask the customer again for the reply that failed (the Retry action).

        The trainee's line is not stored again and its grade stands; a partial
        reply stays stored as partial but leaves the conversation the customer sees.
        """
        async with self._turn_lock:
            if self.ended is not None:
                raise SessionClosedError("this session has ended; start a new one")
            if self._unanswered is None:
                raise NothingToRetry("the customer has answered; type your next reply")
            number, turn = self._unanswered
            self._unanswered = None
            if self.history and self.history[-1].role == "customer":
                self.history.pop()  # the partial reply
            retry = dataclasses.replace(turn, history=list(self.history))
            async with contextlib.aclosing(self._customer_reply(number, retry)) as events:
                async for event in events:
                    yield event

    @property
    def can_take_back(self) -> bool:
        """There is a reply to take back and the session goes on."""
        return self.ended is None and bool(self.turns)

    async def take_back(self) -> TurnTakenBack:
        """Take back the trainee's last reply (and the customer's answer to it).

        Both stay stored, marked "retracted", and the debrief lists them; the
        conversation, the mood and the goals go back to before that reply, and
        the next reply the trainee sends takes its number. Waits for a turn
        still running (its grade included) to finish first.
        """
        async with self._turn_lock:
            if self.ended is not None:
                raise SessionClosedError("this session has ended; start a new one")
            if not self.turns:
                raise NothingToTakeBack("there is no reply to take back yet")
            assert self.session_id is not None
            number = len(self.turns)
            text, grade, _ = self.turns[-1]
            mood_before = self.mood_trajectory[-2]
            # Stored first: if the write fails, nothing in memory has moved.
            await self.store.retract_from(self.session_id, self._turn_messages[-1], mood_before)
            self.turns.pop()
            self._turn_messages.pop()
            if grade is not None and self.grades and self.grades[-1] is grade:
                self.grades.pop()
            self._unanswered = None
            starts = [i for i, m in enumerate(self.history) if m.role == "trainee"]
            if starts:
                del self.history[starts[-1] :]
            self.retracted.append((number, text, grade))
            before, self.mood = self.mood, mood_before
            look = self._look
            return TurnTakenBack(
                turn=number,
                before=before,
                after=self.mood,
                band=look.band,
                label=look.label,
                colour=look.colour,
            )

    async def _play(self, text: str) -> AsyncGenerator[Event, None]:
        assert self.session_id is not None
        # 1. Nothing a trainee typed is ever lost: store it before any model runs.
        number = len(self.turns) + 1
        message_id = await self.store.add_message(self.session_id, "trainee", text)
        before = list(self.history)
        self.history.append(Message(role="trainee", content=text))
        yield TraineeSaid(turn=number, content=text, message_id=message_id)

        # 2. The checks once; then the reply and the grade side by side.
        report = run_checks(text, self.persona.language, before, triggers=self.persona.triggers)
        mood_before = self.mood
        grading = asyncio.create_task(
            self.grader.grade(text, self.persona.language, before, self.persona, report=report)
        )
        turn = CustomerTurn(
            persona=self.persona,
            history=list(self.history),
            mood=mood_before,
            report=report,
            grade=grading,
            goals_met=self.goals_reached,
        )
        try:
            # Closed here, not later by the garbage collector, so a partial
            # reply is stored before the stopped turn is.
            async with contextlib.aclosing(self._customer_reply(number, turn)) as replies:
                async for event in replies:
                    yield event
            grade = await grading  # applied after the reply, so the mood stays consistent
        except (asyncio.CancelledError, GeneratorExit):
            # Stopped by the trainee (the web's Stop) or the caller went away:
            # the line is kept and marked, never left without a grade.
            await self._record_stopped(number, text, message_id, report, mood_before)
            raise
        finally:
            if not grading.done():
                grading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await grading

        # 3. The grade is stored and moves the mood; 4. the mood may end the session.
        self.mood = mood.apply(self.mood, grade.deescalation, self.persona.difficulty)
        async for event in self._after_grade(number, text, message_id, grade, mood_before):
            yield event

    # --- internals ---------------------------------------------------------------------

    async def _customer_reply(self, number: int, turn: CustomerTurn) -> AsyncGenerator[Event, None]:
        assert self.session_id is not None
        parts: list[str] = []
        try:
            async for chunk in self._within_deadline(self.customer.reply(turn)):
                parts.append(chunk)
                yield CustomerChunk(text=chunk)
        except (asyncio.CancelledError, GeneratorExit):
            await self._keep_partial(parts)
            raise
        except RecordingMissing:
            raise
        except Exception as exc:
            reason = plain_error(exc, self.persona.language, deadline=self.reply_deadline or 0)
            log.warning("customer reply failed: %s", describe_error(exc))
            if partial := await self._keep_partial(parts):
                yield CustomerSaid(turn=number, content=partial, status="partial")
            self._unanswered = (number, turn)
            message = t("feedback.customer_failed", self.persona.language, reason=reason)
            yield Failure(turn=number, where="customer", message=message)
            return
        content = "".join(parts).strip()
        if not content:
            self._unanswered = (number, turn)
            message = t("feedback.customer_empty", self.persona.language)
            yield Failure(turn=number, where="customer", message=message)
            return
        reviewed = self.customer.review(content, turn.mood)
        await self.store.add_message(
            self.session_id, "customer", reviewed.content, usage=reviewed.usage
        )
        self.history.append(Message(role="customer", content=reviewed.content))
        yield CustomerSaid(
            turn=number,
            content=reviewed.content,
            status="replaced" if reviewed.replaced else "complete",
            guarded=list(reviewed.findings),
        )

    async def _keep_partial(self, parts: list[str]) -> str | None:
        """Store what came of a reply that did not finish, as partial."""
        assert self.session_id is not None
        partial = "".join(parts).strip()
        if not partial:
            return None
        await self.store.add_message(self.session_id, "customer", partial, "partial")
        self.history.append(Message(role="customer", content=partial))
        return partial

    async def _record_stopped(
        self, number: int, text: str, message_id: int, report: CheckReport, mood_before: int
    ) -> None:
        """A stopped turn keeps its number and gets the checks' findings, no score."""
        assert self.session_id is not None
        grade = self.grader.stopped(report)
        await self.store.add_grade(
            self.session_id, message_id, number, grade, mood_before, self.mood
        )
        self.grades.append(grade)
        self.turns.append((text, grade, self.mood))
        self._turn_messages.append(message_id)

    async def _within_deadline(self, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        """The reply's chunks, each awaited only within what is left of the deadline.

        Only the model's time counts (not the time the trainee's screen takes
        to show a chunk); a stall, a trickle, retries or a long Retry-After all
        end at the deadline with a TimeoutError.
        """
        if self.reply_deadline is None:
            async for chunk in stream:
                yield chunk
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_deadline
        iterator = stream.__aiter__()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    chunk = await asyncio.wait_for(anext(iterator), remaining)
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def _after_grade(
        self, number: int, text: str, message_id: int, grade: Grade, mood_before: int
    ) -> AsyncGenerator[Event, None]:
        assert self.session_id is not None
        await self.store.add_grade(
            self.session_id, message_id, number, grade, mood_before, self.mood
        )
        self.grades.append(grade)
        self.turns.append((text, grade, self.mood))
        self._turn_messages.append(message_id)
        yield GradeReady(turn=number, grade=grade)
        delta = self.mood - mood_before
        look = self._look
        yield MoodChanged(
            turn=number,
            before=mood_before,
            after=self.mood,
            delta=delta,
            band=look.band,
            label=look.label,
            colour=look.colour,
            reason=mood.reason(grade, delta, self.persona.language),
        )
        reason = mood.end_by_mood(
            self.mood,
            calm_at=self.persona.mood.calm_at,
            walkout_at=self.persona.mood.walkout_at,
            goals_met=not goals.open_goals(self.persona.goals, self.goals_reached),
        )
        if reason is not None:
            line = self.customer.closing_line(reason)
            await self.store.add_message(self.session_id, "customer", line)
            self.history.append(Message(role="customer", content=line))
            yield CustomerSaid(turn=number, content=line, status="final")
            yield await self.end(reason)
