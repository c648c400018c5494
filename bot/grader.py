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
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot import prompts
from bot.backends import GraderModels, describe_error, plain_error
from bot.better_reply import better_reply
from bot.checks import CheckReport, Finding, attack_spans, run_checks
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
    Verdict,
    compute_score,
)
from bot.samples import current_vote
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


class LLMVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["met", "missed", "na"]
    evidence: str | None = Field(description="Exact words from the reply, or null.")


class BoundedLLMVerdict(LLMVerdict):
    evidence: str | None = Field(
        description="Exact words from the reply, or null.", max_length=EVIDENCE_MAX
    )


def llm_grade_model(criteria: Sequence[str], *, bounded: bool = False) -> type[BaseModel]:
    """The structured output asked of the LLM: only the criteria it decides.

    Every field is required (OpenAI's strict mode needs that) and bounded
    values are literals (llama.cpp's grammar enforces enums, not ranges).
    """

    def text(limit: int, description: str) -> Any:
        return Field(description=description, max_length=limit if bounded else None)

    verdict_model = BoundedLLMVerdict if bounded else LLMVerdict
    verdicts: Any = create_model(  # type: ignore[call-overload]
        "Verdicts",
        __config__=ConfigDict(extra="forbid"),
        **{cid: (verdict_model, ...) for cid in criteria},
    )
    model: type[BaseModel] = create_model(
        "TurnGrade",
        __config__=ConfigDict(extra="forbid"),
        __doc__="The grade of one trainee reply.",
        criteria=(verdicts, ...),
        deescalation=(Literal[-2, -1, 0, 1, 2], ...),
        feedback=(str, text(FEEDBACK_MAX, "One or two sentences for the trainee.")),
        better_reply=(str, text(REPLY_MAX, "A better version of the whole reply.")),
    )
    return model


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


def _delimiter_tag(turn: str) -> str:
    # Derived from the reply itself: stable for recordings, unguessable for
    # whoever writes the reply (it depends on the reply, tag included).
    return hashlib.sha256(turn.encode()).hexdigest()[:8]


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
        self._bound: dict[tuple[str, ...], Runnable[Any, Any]] = {}

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
        persona: Persona | None = None,
    ) -> Grade:
        """The checks' grade, with a better reply built from the conversation and
        ``persona`` (``bot/better_reply.py``); pass ``report`` when the checks
        already ran on this turn."""
        report = report or run_checks(turn, language, history)
        grade = self._checks_grade(
            report, mode="checks_only", note=t("feedback.offline_note", language)
        )
        # An attacked turn's better reply keeps none of its words: what the
        # guard did not cut (a forged customer line, a fake grade) could be part
        # of the attack, and a better reply must never repeat it.
        kept = "" if report.injection else turn
        better = better_reply(kept, report, grade.criteria, history, persona)
        grade = grade.model_copy(update={"better_reply": better or None})
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
            return self.grade_checks_only(turn, language, history, report=report, persona=persona)
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
            reason = plain_error(exc, language, deadline=self.settings.grade_deadline_seconds)
            log.warning("grader failed, turn left ungraded: %s", describe_error(exc))
            return self._checks_grade(
                report, mode="ungraded", note=t("feedback.ungraded_note", language, reason=reason)
            )

    # --- internals ------------------------------------------------------------

    def stopped(self, report: CheckReport) -> Grade:
        """The grade of a turn the trainee stopped: the checks' findings, no score."""
        return self._checks_grade(
            report, mode="ungraded", note=t("feedback.stopped_note", report.language)
        )

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

    def _model_for(self, criteria: tuple[str, ...]) -> Runnable[Any, Any]:
        assert self.models is not None
        if criteria not in self._bound:
            schema = llm_grade_model(criteria, bounded=self.models.bounded)
            self._bound[criteria] = self.models.bind(schema)
        return self._bound[criteria]

    async def _hybrid(
        self,
        turn: str,
        language: Language,
        history: list[Message],
        persona: Persona | None,
        report: CheckReport,
    ) -> Grade:
        # Words found (or the conversation's structure) decide, and so do the
        # "check" criteria's verdicts from words not found; the model decides
        # the rest. (Letting the model overrule words not found waits for a
        # model that grades better than chance: see evals/README.md.)
        decided = {
            cid: f
            for cid, f in {**report.hints, **report.findings}.items()
            if f.authoritative or CRITERIA_BY_ID[cid].kind == "check"
        }
        judge = tuple(cid for cid in CRITERION_IDS if cid not in decided)
        transcript, dropped = trim_history(history, self.settings.history_token_budget)
        hints = [
            {"criterion": cid, "verdict": f.verdict, "evidence": _scrub(f.evidence or "") or None}
            for cid, f in {**report.findings, **report.hints}.items()
            if f.authoritative or f.evidence
        ]
        system = prompts.render(
            "grader_system",
            language_name=LANGUAGE_NAMES[language],
            judge=list(judge),
            definitions=DEFINITIONS,
        )
        user = prompts.render(
            "grader_user",
            persona=persona,
            transcript=[{"role": m.role, "content": _earlier(m, language)} for m in transcript],
            dropped=dropped,
            turn=_scrub(turn),
            tag=_delimiter_tag(turn),
            findings=hints,
        )
        answers = await self._ask(judge, [("system", system), ("human", user)])
        criteria: dict[str, CriterionResult] = {cid: f.result() for cid, f in decided.items()}
        found = {**report.hints, **report.findings}
        for cid in judge:
            criteria[cid] = _majority(cid, answers, found.get(cid), turn)
        chosen = _closest(answers, criteria, judge)
        deescalation: Deescalation = cap_deescalation(
            statistics.median_low(a.deescalation for a in answers), criteria
        )
        return Grade(
            criteria=criteria,
            score=compute_score(criteria),
            deescalation=deescalation,
            feedback=chosen.feedback.strip(),
            better_reply=chosen.better_reply.strip() or None,
            mode="hybrid",
        )

    async def _ask(self, judge: tuple[str, ...], messages: list[tuple[str, str]]) -> list[Any]:
        """``COACH_GRADER_VOTES`` answers to the same prompt (one call each, at once);
        a vote that fails is left out, and only all failing fails the grade."""
        model = self._model_for(judge)
        votes = self.settings.grader_votes
        if votes == 1:
            return [await model.ainvoke(messages)]

        async def vote(index: int) -> Any:
            current_vote.set(index)  # each vote is its own recording
            return await model.ainvoke(messages)

        answers = await asyncio.gather(*(vote(i) for i in range(votes)), return_exceptions=True)
        kept = [a for a in answers if not isinstance(a, BaseException)]
        failed = [a for a in answers if isinstance(a, BaseException)]
        if not kept:
            raise failed[0]
        for failure in failed:
            log.warning("a grader vote failed, left out: %s", describe_error(failure))
        return kept


#: Which verdict a tied vote takes when the checks' hint is not among the tied:
#: the least generous.
_TIE_ORDER: tuple[Verdict, ...] = ("missed", "na", "met")


def _majority(cid: str, answers: Sequence[Any], hint: Finding | None, turn: str) -> CriterionResult:
    """The verdict most answers give for ``cid``; a tie goes to the checks' hint
    when it is among the tied, else to ``missed``, then ``na``. The evidence is
    the first quote, among those answers, that the reply really contains."""
    given = [getattr(a.criteria, cid) for a in answers]
    counts = Counter(v.verdict for v in given)
    top = max(counts.values())
    tied = [v for v in counts if counts[v] == top]
    if len(tied) == 1:
        verdict = tied[0]
    elif hint is not None and hint.verdict in tied:
        verdict = hint.verdict
    else:
        verdict = next(v for v in _TIE_ORDER if v in tied)
    quotes = (_verified_evidence(v.evidence, turn) for v in given if v.verdict == verdict)
    evidence = next((q for q in quotes if q), None)
    return CriterionResult(verdict=verdict, evidence=evidence, source="llm")


def _closest(
    answers: Sequence[Any], criteria: dict[str, CriterionResult], judge: Sequence[str]
) -> Any:
    """The answer whose verdicts agree most with the final ones (the first on a
    tie): its feedback and rewrite go with the grade."""

    def agreement(answer: Any) -> int:
        return sum(getattr(answer.criteria, c).verdict == criteria[c].verdict for c in judge)

    return max(answers, key=agreement)


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
    # What went well is a thing done ("you apologised"), never a harm avoided.
    met = [
        cid
        for cid, r in criteria.items()
        if r.verdict == "met" and r.evidence and CRITERIA_BY_ID[cid].done
    ]
    met.sort(key=lambda cid: -CRITERIA_BY_ID[cid].weight)
    parts: list[str] = []
    if met:
        done = CRITERIA_BY_ID[met[0]].done
        assert done is not None  # filtered above
        parts.append(t("feedback.good", language, done=done[language]))
    if missed:
        parts.append(CRITERIA_BY_ID[missed[0]].tip[language])
    if not parts:
        return t("feedback.nothing", language)
    return " ".join(parts)
