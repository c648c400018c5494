"""The simulated customer: an LLM playing the persona, or a scripted one offline.

Both stream their reply as chunks of text, so the session engine and the UI
treat them the same way.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot import prompts
from bot.checks import CheckReport
from bot.conversation import Message
from bot.lexicon import load_lexicon
from bot.personas import Fact, MoodBand, Persona, mood_band
from bot.rubric import LANGUAGE_NAMES, Grade
from bot.text import fold
from bot.tokens import trim_history

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


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
    #: The full grade of the new message, when it is known before the reply
    #: (offline, where grading is instant); None when both run concurrently.
    grade: Grade | None = None


class Customer(Protocol):
    def opening(self) -> str: ...

    def reply(self, turn: CustomerTurn) -> AsyncIterator[str]: ...


def reactions(report: CheckReport) -> list[str]:
    """What the trainee's latest reply did, in words the customer model can react to."""
    out: list[str] = []
    findings, hints = report.findings, report.hints
    if findings["no_blocking_phrase"].verdict == "missed":
        out.append(
            f'the agent used a dismissive phrase ("{findings["no_blocking_phrase"].evidence}"), '
            "which makes you angrier"
        )
    if hints.get("no_blame") and hints["no_blame"].verdict == "missed":
        out.append(
            f'the agent blamed you ("{hints["no_blame"].evidence}"), which makes you angrier'
        )
    if (
        hints.get("set_boundaries")
        and hints["set_boundaries"].verdict == "missed"
        and hints["set_boundaries"].evidence
    ):
        out.append("the agent insulted you back")
    if findings["no_hold"].verdict == "missed":
        out.append("the agent is stalling or putting you on hold without explanation")
    if findings["no_filler"].verdict == "missed":
        out.append("the agent sounds hesitant and unprofessional")
    if findings["apologize"].verdict == "met":
        out.append("the agent apologised")
    if hints.get("acknowledge_emotion"):
        out.append("the agent acknowledged how you feel")
    if findings["reformulate"].verdict == "met":
        out.append("the agent restated your problem to check they understood")
    if findings["concrete_timeline"].verdict == "met":
        out.append(f'the agent gave a concrete time ("{findings["concrete_timeline"].evidence}")')
    elif findings["concrete_timeline"].verdict == "missed":
        out.append("the agent gave only a vague time")
    return out


class LLMCustomer:
    """The persona played by a chat model, streamed."""

    def __init__(self, persona: Persona, model: BaseChatModel, history_budget: int) -> None:
        self.persona = persona
        self.model = model
        self.history_budget = history_budget

    def opening(self) -> str:
        return self.persona.opening.strip()

    async def reply(self, turn: CustomerTurn) -> AsyncIterator[str]:
        kept, dropped = trim_history(turn.history, self.history_budget)
        system = prompts.render(
            "customer",
            persona=self.persona,
            language_name=LANGUAGE_NAMES[self.persona.language],
            mood=turn.mood,
            band=mood_band(turn.mood),
            reactions=reactions(turn.report),
            dropped=dropped,
        )
        messages: list[Any] = [("system", system)]
        # The customer is the model ("ai"); the trainee is the user ("human").
        for message in kept:
            messages.append(("ai" if message.role == "customer" else "human", message.content))
        if messages[-1][0] != "human":  # pragma: no cover - the engine always ends on the trainee
            raise ValueError("the customer replies to a trainee message")
        if getattr(self.model, "cache", None) is not None:
            # Recorded (eval) runs: LangChain's cache serves invoke, not stream.
            result = await self.model.ainvoke(messages)
            if isinstance(result.content, str) and result.content:
                yield result.content
            return
        async for chunk in self.model.astream(messages):
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                yield text


@dataclass
class ScriptedCustomer:
    """The offline customer: the persona's authored lines, chosen by mood and reaction.

    It answers the facts the trainee asks for (a sentence that asks for
    something and names one of the fact's ``ask`` words), reacts to the
    check-based grade (an inflamed line after a blocking phrase or blame, a
    soothed one after a turn that clearly helps), and otherwise speaks a line
    of its current mood, never the same line twice in a row.
    """

    persona: Persona
    seed: int | None = None
    #: Seconds between streamed words, so the UI shows typing like a model would.
    word_delay: float = 0.0
    _random: random.Random = field(init=False)
    _last: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

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

    def compose(self, turn: CustomerTurn) -> str:
        trainee_text = turn.history[-1].content if turn.history else ""
        lines = self.persona.lines
        deescalation = turn.grade.deescalation if turn.grade else 0
        parts: list[str] = []
        if deescalation <= -1:
            parts.append(self._pick("inflamed", lines.inflamed))
        elif deescalation >= 1 and mood_band(turn.mood) != "furious":
            parts.append(self._pick("soothed", lines.soothed))
        answers = [fact.answer for fact in self.asked_facts(trainee_text)[:2]]
        parts.extend(answers)
        if not parts:
            band: MoodBand = mood_band(turn.mood)
            parts.append(self._pick(band, lines.for_band(band)))
        return " ".join(p.strip() for p in parts)

    async def reply(self, turn: CustomerTurn) -> AsyncIterator[str]:
        text = self.compose(turn)
        for word in re.findall(r"\S+\s*", text):
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
            yield word

    def line_for_mood(self, mood: int) -> str:
        band = mood_band(mood)
        return self._pick(band, self.persona.lines.for_band(band))

    def closing_line(self, kind: str) -> str:
        lines = self.persona.lines.satisfied if kind == "calm" else self.persona.lines.walkout
        return self._pick(kind, lines)

    def _pick(self, key: str, options: Sequence[str]) -> str:
        choices = [o for o in options if o != self._last.get(key)] or list(options)
        line = self._random.choice(choices)
        self._last[key] = line
        return line.strip()


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _mentions(folded_text: str, word: str) -> bool:
    needle = fold(word).text.strip()
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", folded_text) is not None
