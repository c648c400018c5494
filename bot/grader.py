"""The hybrid grader: deterministic checks first, then an LLM for judgement.

Merge rules (the checks' authority, in order):

1. A check finding resting on words found or on the conversation's structure
   is final: a blocking phrase, a filler, an insult, an apology found. The
   LLM is not asked about those criteria at all.
2. Every other criterion is decided by the LLM, with the checks' findings in
   its prompt as hints. Evidence the LLM quotes must appear in the reply, or
   it is dropped.
3. The score is computed here from the verdicts (rubric weights), never taken
   from the LLM. The LLM's de-escalation value is capped by check violations
   (a blocking phrase cannot calm the customer).
4. If no valid grade comes back after the configured attempts, the grade is
   "ungraded": the checks' findings are shown, there is no score.
5. Text that tries to instruct the grader ("ignore your instructions",
   "SYSTEM:", fake JSON) is cut out before the LLM sees the reply, marks
   `plain_register` missed, and the turn scores 0: an attack never pays.

Offline (or with ``checks_only``), the checks decide everything they can and
judgement criteria without a hint are ``na``; the grade says so in ``mode``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot import prompts
from bot.backends import GraderModels, describe_error
from bot.checks import CheckReport, attack_spans, run_checks
from bot.conversation import Message
from bot.errors import RecordingMissing
from bot.i18n import t
from bot.mood import cap_deescalation, estimate_deescalation
from bot.rubric import (
    CRITERIA_BY_ID,
    CRITERION_IDS,
    DEFINITIONS,
    LANGUAGE_NAMES,
    CriterionResult,
    Deescalation,
    Grade,
    Language,
    compute_score,
)
from bot.settings import Settings
from bot.text import fold
from bot.tokens import trim_history

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from bot.personas import Persona

log = logging.getLogger(__name__)

#: Text bounds for servers whose grammar enforces them (llama.cpp): a small
#: model that loops inside a string stops at the bound instead of running out
#: of tokens mid-JSON. OpenAI's strict mode rejects maxLength, so it gets none.
EVIDENCE_MAX, FEEDBACK_MAX, REPLY_MAX = 200, 500, 800


#: The criteria the LLM answers on every call, whatever the checks decided:
#: the same schema and system prompt for a whole session, so a provider can
#: cache the prefix and the tool schema is converted once. The checks' final
#: findings then replace the model's answers on the criteria they settled.
JUDGED: tuple[str, ...] = tuple(
    cid for cid in CRITERION_IDS if CRITERIA_BY_ID[cid].kind in ("judgement", "both")
)
#: A checklist answer, read as a verdict.
VERDICT_OF_ANSWER: dict[str, Literal["met", "missed", "na"]] = {
    "yes": "met",
    "no": "missed",
    "na": "na",
}


class LLMAnswer(BaseModel):
    """One checklist question: the words that decide it first, then the answer."""

    model_config = ConfigDict(extra="forbid")

    quote: str | None = Field(description="The reply's exact words that decide it, or null.")
    answer: Literal["yes", "no", "na"]


class BoundedLLMAnswer(LLMAnswer):
    quote: str | None = Field(
        description="The reply's exact words that decide it, or null.", max_length=EVIDENCE_MAX
    )


def question(cid: str) -> str:
    """The yes/no question the LLM answers for one criterion."""
    return f"Does the agent's reply do this: {DEFINITIONS[cid]}"


def llm_grade_model(criteria: Sequence[str] = JUDGED, *, bounded: bool = False) -> type[BaseModel]:
    """The structured output asked of the LLM: one yes/no question per criterion.

    Every field is required (OpenAI's strict mode needs that) and bounded
    values are literals (llama.cpp's grammar enforces enums, not ranges).
    """

    def text(limit: int, description: str) -> Any:
        return Field(description=description, max_length=limit if bounded else None)

    answer_model = BoundedLLMAnswer if bounded else LLMAnswer
    answers: Any = create_model(  # type: ignore[call-overload]
        "Checklist",
        __config__=ConfigDict(extra="forbid"),
        **{cid: (answer_model, Field(description=question(cid))) for cid in criteria},
    )
    model: type[BaseModel] = create_model(
        "TurnGrade",
        __config__=ConfigDict(extra="forbid"),
        __doc__="The grade of one trainee reply.",
        criteria=(answers, ...),
        deescalation=(Literal[-2, -1, 0, 1, 2], ...),
        feedback=(str, text(FEEDBACK_MAX, "One or two sentences for the trainee.")),
        better_reply=(str, text(REPLY_MAX, "A better version of the whole reply.")),
    )
    return model


def majority(answers: Sequence[Any]) -> tuple[dict[str, tuple[str, str | None]], int]:
    """Per criterion the most common answer (ties go to the earliest sample),
    with a quote given for it; and the median de-escalation."""
    out: dict[str, tuple[str, str | None]] = {}
    for cid in JUDGED:
        given = [getattr(a.criteria, cid) for a in answers]
        counts: dict[str, int] = {}
        for g in given:
            counts[g.answer] = counts.get(g.answer, 0) + 1
        best = max(counts, key=lambda value: (counts[value], -_first(given, value)))
        quote = next((g.quote for g in given if g.answer == best and g.quote), None)
        out[cid] = (best, quote)
    values = sorted(int(a.deescalation) for a in answers)
    return out, values[(len(values) - 1) // 2]


def _first(given: Sequence[Any], value: str) -> int:
    return next(i for i, g in enumerate(given) if g.answer == value)


def strip_injection(turn: str, report: CheckReport) -> str:
    """The reply without the sentences (or lines) that try to instruct the grader."""
    return cut_spans(turn, report.attack_spans) if report.injection else turn


def cut_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without those spans (original coordinates), the rest joined by spaces."""
    if not spans:
        return text
    cut = [False] * len(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(text), end)):
            cut[i] = True
    kept = "".join(ch if not cut[i] else "\x00" for i, ch in enumerate(text))
    return " ".join(part.strip() for part in kept.split("\x00") if part.strip())


def _earlier(message: Message, language: Language) -> str:
    """An earlier message as the grader reads it: attacks cut, tags neutralised."""
    content = message.content
    if message.role == "trainee":
        content = cut_spans(content, attack_spans(content, language)) or "[cut]"
    return _scrub(content)


def _delimiter_tag(opening: str) -> str:
    # Derived from the conversation's opening, so the tags, and the prompt up
    # to the latest messages, stay the same for the whole session (a cacheable
    # prefix) and the same in recordings. Guessing it gains nothing: trainee and
    # customer text can never open or close these tags (see _scrub).
    return hashlib.sha256(opening.encode()).hexdigest()[:8]


_TAGS = re.compile(r"<(/?)\s*(trainee[_ -]?turn|conversation)", re.IGNORECASE)


def _scrub(text: str) -> str:
    """Trainee or customer text can never open or close the prompt's own tags,
    whatever their case or spacing: their brackets are neutralised."""
    return _TAGS.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)


class Grader:
    """Grades trainee turns. Without ``models`` (the offline backend) the checks grade alone."""

    def __init__(self, settings: Settings, models: GraderModels | None = None) -> None:
        self.settings = settings
        self.models = models
        self._bound: Runnable[Any, Any] | None = None
        self._system: dict[Language, str] = {}

    @property
    def checks_only(self) -> bool:
        return self.models is None

    def grade_checks_only(
        self,
        turn: str,
        language: Language,
        history: Sequence[Message] = (),
        *,
        report: CheckReport | None = None,
    ) -> Grade:
        """The checks' grade; pass ``report`` when the checks already ran on this turn."""
        report = report or run_checks(turn, language, history)
        grade = self._checks_grade(
            report, mode="checks_only", note=t("feedback.offline_note", language)
        )
        return _with_injection_penalty(grade, report) if report.injection else grade

    async def grade(
        self,
        turn: str,
        language: Language,
        history: Sequence[Message] = (),
        persona: Persona | None = None,
        *,
        report: CheckReport | None = None,
    ) -> Grade:
        """The turn's grade; pass ``report`` when the checks already ran on this turn."""
        triggers = persona.triggers if persona is not None else ()
        report = report or run_checks(turn, language, history, triggers=triggers)
        if self.models is None:
            return self.grade_checks_only(turn, language, history, report=report)
        if report.injection:
            # The model never sees the attack: it grades the reply without it, so its
            # verdicts still teach something; the attack itself then costs the turn.
            clean = strip_injection(turn, report)
            if clean.strip():
                base = await self.grade(clean, language, history, persona)
            else:
                base = self._checks_grade(report, mode="hybrid", note=None)
            return _with_injection_penalty(base, report)
        try:
            async with asyncio.timeout(self.settings.grade_deadline_seconds):
                return await self._hybrid(turn, language, list(history), persona, report)
        except RecordingMissing:
            raise  # an eval replay gap is the evaluator's to fix, not an ungraded turn
        except Exception as exc:  # every failure becomes "ungraded", never a crash
            reason = (
                t(
                    "feedback.deadline",
                    language,
                    seconds=f"{self.settings.grade_deadline_seconds:g}",
                )
                if isinstance(exc, TimeoutError)
                else describe_error(exc)
            )
            log.warning("grader failed, turn left ungraded: %s", reason)
            return self._checks_grade(
                report, mode="ungraded", note=t("feedback.ungraded_note", language, reason=reason)
            )

    # --- internals ------------------------------------------------------------

    def _checks_grade(
        self,
        report: CheckReport,
        *,
        mode: Literal["checks_only", "ungraded", "hybrid"],
        note: str | None,
    ) -> Grade:
        criteria = report.checks_only_criteria()
        return Grade(
            criteria=criteria,
            score=None if mode == "ungraded" else compute_score(criteria),
            deescalation=estimate_deescalation(criteria),
            feedback=_checks_feedback(criteria, report.language),
            better_reply=None,
            mode=mode,
            note=note,
        )

    def _model(self) -> Runnable[Any, Any]:
        """The structured-output model, bound once: its schema never changes."""
        assert self.models is not None
        if self._bound is None:
            self._bound = self.models.bind(llm_grade_model(JUDGED, bounded=self.models.bounded))
        return self._bound

    def _system_prompt(self, language: Language) -> str:
        """The same text for every turn of a session (rendered once per language)."""
        if language not in self._system:
            self._system[language] = prompts.render(
                "grader_system",
                language_name=LANGUAGE_NAMES[language],
                judge=[{"id": cid, "question": question(cid)} for cid in JUDGED],
            )
        return self._system[language]

    async def _hybrid(
        self,
        turn: str,
        language: Language,
        history: list[Message],
        persona: Persona | None,
        report: CheckReport,
    ) -> Grade:
        # Words found (or the conversation's structure) decide, and so do the
        # "check" criteria's verdicts from words not found; the model's answers
        # count for the rest. (Letting the model overrule words not found waits
        # for a model that grades better than chance: see evals/README.md.)
        decided = {
            cid: f
            for cid, f in {**report.hints, **report.findings}.items()
            if f.authoritative or CRITERIA_BY_ID[cid].kind == "check"
        }
        transcript, dropped = trim_history(history, self.settings.history_token_budget)
        hints = [
            {
                "criterion": cid,
                "verdict": f.verdict,
                "evidence": _scrub(f.evidence or "") or None,
                "final": cid in decided,
            }
            for cid, f in {**report.findings, **report.hints}.items()
            if f.authoritative or f.evidence
        ]
        opening = history[0].content if history else turn
        user = prompts.render(
            "grader_user",
            persona=persona,
            transcript=[{"role": m.role, "content": _earlier(m, language)} for m in transcript],
            dropped=dropped,
            turn=_scrub(turn),
            tag=_delimiter_tag(opening),
            findings=hints,
        )
        messages = [("system", self._system_prompt(language)), ("human", user)]
        model = self._model()
        votes = max(1, self.settings.grader_votes)
        if votes == 1:
            answers = [await model.ainvoke(messages)]
        else:
            answers = list(await asyncio.gather(*(model.ainvoke(messages) for _ in range(votes))))
        chosen, deescalation_vote = majority(answers)
        criteria: dict[str, CriterionResult] = {cid: f.result() for cid, f in decided.items()}
        for cid in JUDGED:
            if cid in decided:
                continue
            value, quote = chosen[cid]
            criteria[cid] = CriterionResult(
                verdict=VERDICT_OF_ANSWER[value],
                evidence=_verified_evidence(quote, turn),
                source="llm",
            )
        for cid in CRITERION_IDS:
            criteria.setdefault(cid, CriterionResult(verdict="na", source="check"))
        first = answers[0]
        deescalation: Deescalation = cap_deescalation(
            cast(Deescalation, deescalation_vote), criteria
        )
        return Grade(
            criteria=criteria,
            score=compute_score(criteria),
            deescalation=deescalation,
            feedback=first.feedback.strip(),
            better_reply=first.better_reply.strip() or None,
            mode="hybrid",
        )


def _verified_evidence(evidence: str | None, turn: str) -> str | None:
    """Keep a quote only if the reply contains it (ignoring case, accents, quotes)."""
    if not evidence:
        return None
    quote = fold(evidence).text.strip(" \"'«»“”.…")
    if quote and quote in fold(turn).text:
        return evidence.strip()
    return None


def _with_injection_penalty(base: Grade, report: CheckReport) -> Grade:
    """A reply that tries to instruct the grader scores 0 (its verdicts still show).

    Grading the reply without the attack is not enough on its own: the model may
    judge the stripped text differently from the same reply written without the
    attack. A zero is the only score that can never beat that reply.
    """
    criteria = dict(base.criteria)
    criteria["plain_register"] = CriterionResult(
        verdict="missed", evidence="; ".join(report.injection), source="check"
    )
    deescalation: Deescalation = min(base.deescalation, 0)
    note = t("feedback.attack_note", report.language)
    return base.model_copy(
        update={
            "criteria": criteria,
            "score": 0 if base.score is not None else None,
            "deescalation": deescalation,
            "note": f"{note} {base.note}" if base.note else note,
        }
    )


def _checks_feedback(criteria: dict[str, CriterionResult], language: Language) -> str:
    """A short feedback line built from the rubric's tips (offline grades)."""
    missed = [cid for cid, r in criteria.items() if r.verdict == "missed"]
    missed.sort(key=lambda cid: -CRITERIA_BY_ID[cid].weight)
    met = [cid for cid, r in criteria.items() if r.verdict == "met" and r.evidence]
    met.sort(key=lambda cid: -CRITERIA_BY_ID[cid].weight)
    parts: list[str] = []
    if met:
        label = CRITERIA_BY_ID[met[0]].label[language]
        parts.append(t("feedback.good", language, label=label.lower()))
    if missed:
        parts.append(CRITERIA_BY_ID[missed[0]].tip[language])
    if not parts:
        return t("feedback.nothing", language)
    return " ".join(parts)
