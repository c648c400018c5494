"""The simulated customer: an LLM playing the persona, or a scripted one offline.

Both stream their reply as chunks of text, so the session engine and the UI
treat them the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from bot import goals, guard, mood, prompts
from bot.checks import CheckReport
from bot.conversation import Message
from bot.errors import IncompleteReply
from bot.lexicon import load_lexicon
from bot.mood import MoodBand, MoodEnd, mood_band
from bot.personas import Fact, Persona
from bot.rubric import CRITERIA, LANGUAGE_NAMES, Grade
from bot.text import fold
from bot.tokens import trim_in_blocks
from bot.usage import ModelUsage, add_usage, usage_of

if TYPE_CHECKING:
    from pathlib import Path

    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)


@dataclass
class CustomerTurn:
    """Everything the customer may react to when replying."""

    persona: Persona
    #: The conversation so far, ending with the trainee's new message.
    history: Sequence[Message]
    #: The mood the customer replies in (0 calm .. 10).
    mood: int
    #: The checks' findings on the trainee's new message (instant, always there).
    report: CheckReport
    #: The grade of the new message, running concurrently with the reply. A
    #: customer that waits for it reacts to this very turn (the offline one:
    #: its grade is instant); one that does not feels it from the next turn.
    grade: Awaitable[Grade] | None = None
    #: The persona's goals met by earlier turns (``bot/goals.py``).
    goals_met: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reviewed:
    """A finished customer line as it will be stored and shown."""

    content: str
    #: The model's line broke character and an authored line replaces it.
    replaced: bool = False
    #: Why it was replaced (the guard's findings), for logs and evals.
    findings: tuple[str, ...] = ()
    #: What the model server said the reply used (None: authored, or not reported).
    usage: ModelUsage | None = None


class Customer(Protocol):
    def opening(self) -> str: ...

    def reply(self, turn: CustomerTurn) -> AsyncIterator[str]:
        """The reply to the trainee's last message, streamed in chunks."""
        ...

    def review(self, content: str, mood: int) -> Reviewed:
        """The streamed line, checked before it is stored."""
        ...

    def closing_line(self, reason: MoodEnd) -> str:
        """The customer's last line when the mood ends the session (always authored)."""
        ...


#: Criteria the LLM customer hears about, in the order it is told them.
_CUES = sorted(
    (c for c in CRITERIA if c.customer), key=lambda c: c.customer.rank if c.customer else 0
)


def reactions(report: CheckReport) -> list[str]:
    """What the trainee's latest reply did, in words the customer model can react to.

    Only what the checks found words for (``customer`` in ``bot/rubric.yaml``).
    """
    out: list[str] = []
    for criterion in _CUES:
        cue = criterion.customer
        finding = report.findings.get(criterion.id) or report.hints.get(criterion.id)
        if cue is None or finding is None or not finding.evidence:
            continue
        text = {"met": cue.when_met, "missed": cue.when_missed}.get(finding.verdict)
        if text:
            out.append(text.replace("{evidence}", finding.evidence))
    return out


def still_needed(turn: CustomerTurn) -> list[str]:
    """Calm enough to leave, the labels of the goals still unmet after this turn
    (read from its checks: the LLM customer does not wait for the grade)."""
    persona = turn.persona
    if turn.mood > persona.mood.calm_at or not turn.history:
        return []
    text = turn.history[-1].content
    here = goals.met_in_turn(persona.goals, persona.language, text, None, turn.report)
    return [g.label for g in goals.open_goals(persona.goals, turn.goals_met | here.keys())]


class LLMCustomer:
    """The persona played by a chat model, streamed.

    Its finished line goes through the character guard (``bot/guard.py``): a
    line that steps out of character, recites the hidden notes or coaches the
    trainee is replaced by an authored line of the current mood. Closing lines
    are always authored.
    """

    def __init__(
        self,
        persona: Persona,
        model: BaseChatModel,
        history_budget: int,
        *,
        seed: int | None = None,
        guard_dir: Path | None = None,
    ) -> None:
        self.persona = persona
        self.model = model
        self.history_budget = history_budget
        #: Where the guard's lists are (None: no guard).
        self.guard_dir = guard_dir
        self._authored = ScriptedCustomer(persona, seed=seed)
        #: The server's usage for the reply last streamed (one reply at a time per session).
        self._usage: ModelUsage | None = None

    def review(self, content: str, mood: int) -> Reviewed:
        found = guard.violations(content, self.persona, self.guard_dir) if self.guard_dir else []
        if not found:
            return Reviewed(content, usage=self._usage)
        log.warning("customer line replaced (%s): %r", found[0].kind, content[:120])
        return Reviewed(
            self._authored.line_for_mood(mood),
            replaced=True,
            findings=tuple(f"{v.kind}: {v.matched}" for v in found),
            usage=self._usage,
        )

    def closing_line(self, reason: MoodEnd) -> str:
        return self._authored.closing_line(reason)

    def opening(self) -> str:
        return self.persona.opening.strip()

    @cached_property
    def system_prompt(self) -> str:
        """The persona, the mood scale and the rules: the same text for every
        turn of the session, so a provider's prompt cache covers it and the
        history after it (``prompts/customer.md``)."""
        return prompts.render(
            "customer",
            persona=self.persona,
            language_name=LANGUAGE_NAMES[self.persona.language],
        )

    def turn_note(self, turn: CustomerTurn, dropped: int) -> str:
        """What changes turn to turn (mood, reactions, open goals, trimmed messages), sent
        after the history as the last message (``prompts/customer_turn.md``)."""
        return prompts.render(
            "customer_turn",
            mood=turn.mood,
            band=mood_band(turn.mood),
            reactions=reactions(turn.report),
            dropped=dropped,
            still_needed=still_needed(turn),
        )

    def prompt_messages(self, turn: CustomerTurn) -> list[tuple[str, str]]:
        """The messages sent to the model for ``turn``: the session's fixed
        system prompt, the history within the budget, then the turn's note."""
        kept, dropped = trim_in_blocks(turn.history, self.history_budget)
        if not kept or kept[-1].role != "trainee":  # pragma: no cover - the engine ends on one
            raise ValueError("the customer replies to a trainee message")
        messages = [("system", self.system_prompt)]
        # The customer is the model ("ai"); the trainee is the user ("human").
        messages += [("ai" if m.role == "customer" else "human", m.content) for m in kept]
        messages.append(("system", self.turn_note(turn, dropped)))
        return messages

    async def reply(self, turn: CustomerTurn) -> AsyncIterator[str]:
        messages = self.prompt_messages(turn)
        self._usage = None
        if getattr(self.model, "cache", None) is not None:
            # Recorded (eval) runs: LangChain's cache serves invoke, not stream.
            result = await self.model.ainvoke(messages)
            self._usage = usage_of(result)
            if isinstance(result.content, str) and result.content:
                yield result.content
            return
        provider, finished, said = None, False, False
        try:
            async for chunk in self.model.astream(messages):
                self._usage = add_usage(self._usage, usage_of(chunk))
                meta = chunk.response_metadata or {}
                provider = provider or meta.get("model_provider")
                finished = finished or bool(meta.get("finish_reason"))
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    said = True
                    yield text
        except Exception as exc:
            if said:  # the connection broke mid-reply: what came is only part of it
                raise IncompleteReply(f"the stream broke: {type(exc).__name__}") from exc
            raise
        if provider and not finished:
            # A real server ends a stream with a finish reason; without one the
            # connection was cut and what came is only part of the reply.
            raise IncompleteReply("the stream ended without a finish reason")


@dataclass
class ScriptedCustomer:
    """The offline customer: the persona's authored lines, chosen by mood and reaction.

    It waits for this turn's grade (instant offline) and answers the facts the
    trainee asks for (a sentence that asks for something and names one of the
    fact's ``ask`` words), reacts to the grade (an inflamed line after a
    blocking phrase or blame, a soothed one after a turn that clearly helps),
    acknowledges what the turn did for the persona's goals (the goal's
    acknowledgements, instead of a soothed line that fits any reply), and
    otherwise speaks a line of its mood after the turn; it says no line twice
    while an unused one fits. Calm enough to leave while a goal is still open,
    it says what it still needs (the goal's reminders).
    """

    persona: Persona
    seed: int | None = None
    #: Seconds between streamed words, so the UI shows typing like a model would.
    word_delay: float = 0.0
    _replies: _Picker = field(init=False)
    #: Closing and stand-in lines draw from their own sequence, so a session's
    #: replies do not depend on whether a line was ever replaced.
    _closings: _Picker = field(init=False)

    def __post_init__(self) -> None:
        self._replies = _Picker(random.Random(self.seed))
        self._closings = _Picker(random.Random(self.seed))

    def opening(self) -> str:
        return self.persona.opening.strip()

    def asked_facts(self, text: str) -> list[Fact]:
        """Facts the trainee asks for in ``text``, in the persona's order."""
        lexicon = load_lexicon(self.persona.language)
        asked: list[Fact] = []
        for sentence in _sentences(text):
            folded = fold(sentence)
            is_request = "?" in sentence or bool(lexicon.find("request", folded))
            if not is_request:
                continue
            for fact in self.persona.facts:
                if fact not in asked and any(_mentions(folded.text, word) for word in fact.ask):
                    asked.append(fact)
        return asked

    def compose(
        self,
        trainee_text: str,
        mood_now: int,
        grade: Grade | None,
        open_goals: Sequence[goals.Goal] = (),
        met_now: Sequence[goals.Goal] = (),
    ) -> str:
        """The reply to ``trainee_text``, in mood ``mood_now`` (after this turn's
        grade): ``met_now`` are the goals this very turn met, ``open_goals``
        those still unmet after it."""
        deescalation = grade.deescalation if grade else 0
        furious = mood_band(mood_now) == "furious"
        # Calm enough to leave but not satisfied: they say what is still missing
        # and stay, and no line of contentment ("I have all I need") slips in.
        reminding = bool(open_goals) and mood_now <= self.persona.mood.calm_at and deescalation > -1
        parts: list[str] = []
        if deescalation <= -1:
            parts.append(self._replies.pick("inflamed", self.persona.lines.inflamed))
        if met_now and not furious:
            # What the trainee did, heard as such, instead of a line that fits any reply.
            parts += [self._replies.pick(f"met:{g.id}", g.acknowledgements) for g in met_now[:2]]
        elif deescalation >= 1 and not furious:
            parts += filter(None, [self._soothed(mood_now, fallback=not reminding)])
        parts += [fact.answer for fact in self.asked_facts(trainee_text)[:2]]
        if reminding:
            parts.append(self._reminder(open_goals))
        if not parts:
            parts.append(self._mood_line(mood_now))
        return " ".join(p.strip() for p in parts)

    def _mood_line(self, mood_now: int) -> str:
        band: MoodBand = mood_band(mood_now)
        return self._replies.pick(band, self.persona.lines.for_band(band))

    def _soothed(self, mood_now: int, *, fallback: bool) -> str | None:
        """A soothed line not said yet; once all are said, with ``fallback``, a
        line of the mood not said yet before any soothed line comes back
        (without it: nothing, the reply has its reminder)."""
        soothed = self.persona.lines.soothed
        if self._replies.unused(soothed):
            return self._replies.pick("soothed", soothed)
        if not fallback:
            return None
        if self._replies.unused(self.persona.lines.for_band(mood_band(mood_now))):
            return self._mood_line(mood_now)
        return self._replies.pick("soothed", soothed)

    def _reminder(self, open_goals: Sequence[goals.Goal]) -> str:
        """A reminder of the first open goal with one not said yet (else of the first)."""
        goal = next((g for g in open_goals if self._replies.unused(g.reminders)), open_goals[0])
        return self._replies.pick(f"goal:{goal.id}", goal.reminders)

    async def reply(self, turn: CustomerTurn) -> AsyncIterator[str]:
        grade = await turn.grade if turn.grade is not None else None
        mood_now = (
            mood.apply(turn.mood, grade.deescalation, self.persona.difficulty)
            if grade
            else turn.mood
        )
        trainee_text = turn.history[-1].content if turn.history else ""
        met_here = goals.met_in_turn(self.persona.goals, self.persona.language, trainee_text, grade)
        met_now = [g for g in self.persona.goals if g.id in met_here and g.id not in turn.goals_met]
        still_open = goals.open_goals(self.persona.goals, turn.goals_met | met_here.keys())
        text = self.compose(trainee_text, mood_now, grade, still_open, met_now)
        for word in re.findall(r"\S+\s*", text):
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
            yield word

    def review(self, content: str, mood: int) -> Reviewed:
        return Reviewed(content)  # authored lines need no guard

    def line_for_mood(self, mood: int) -> str:
        band = mood_band(mood)
        return self._closings.pick(band, self.persona.lines.for_band(band))

    def closing_line(self, reason: MoodEnd) -> str:
        lines = self.persona.lines.satisfied if reason == "calm" else self.persona.lines.walkout
        return self._closings.pick(reason, lines)


@dataclass
class _Picker:
    """Picks authored lines at random: one not said yet in the session while
    one is left, and never the same line twice in a row per list."""

    random: random.Random
    last: dict[str, str] = field(default_factory=dict)
    said: set[str] = field(default_factory=set)

    def unused(self, options: Sequence[str]) -> list[str]:
        return [o for o in options if o.strip() not in self.said]

    def pick(self, key: str, options: Sequence[str]) -> str:
        choices = (
            self.unused(options) or [o for o in options if o != self.last.get(key)] or list(options)
        )
        line = self.random.choice(choices)
        self.last[key] = line
        self.said.add(line.strip())
        return line.strip()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _mentions(folded_text: str, word: str) -> bool:
    needle = fold(word).text.strip()
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", folded_text) is not None
