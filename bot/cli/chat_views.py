"""The two ways ``coach chat`` shows a session: for people, and as JSON lines.

A view gets every event the session engine reports. :meth:`SessionView.show`
dispatches once per event to the view's method for that event's class, so a
view is one method per event type and a new event type is one abstract method
every view must answer.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from bot.debrief import goal_line, hints_line, strength_text
from bot.events import (
    CustomerChunk,
    CustomerSaid,
    Failure,
    GradeReady,
    MoodChanged,
    SessionEnded,
    SessionStarted,
    TraineeSaid,
    TurnTakenBack,
)
from bot.i18n import t
from bot.mood import MOOD_MAX
from bot.personas import Persona
from bot.rubric import CRITERIA_BY_ID, Grade


class SessionView(ABC):
    @abstractmethod
    def echo_trainee(self, text: str) -> None:
        """Show a scripted trainee line as if typed (the engine reports it only once stored)."""

    def show(self, event: BaseModel) -> None:
        match event:
            case SessionStarted():
                self.started(event)
            case CustomerChunk():
                self.customer_chunk(event)
            case CustomerSaid():
                self.customer_said(event)
            case TraineeSaid():
                self.trainee_said(event)
            case GradeReady():
                self.grade_ready(event)
            case MoodChanged():
                self.mood_changed(event)
            case Failure():
                self.failure(event)
            case TurnTakenBack():
                self.taken_back(event)
            case SessionEnded():
                self.ended(event)
            case _:
                raise TypeError(
                    f"no view method for {type(event).__name__}; add one to SessionView"
                )

    @abstractmethod
    def started(self, event: SessionStarted) -> None: ...

    @abstractmethod
    def customer_chunk(self, event: CustomerChunk) -> None: ...

    @abstractmethod
    def customer_said(self, event: CustomerSaid) -> None: ...

    @abstractmethod
    def trainee_said(self, event: TraineeSaid) -> None: ...

    @abstractmethod
    def grade_ready(self, event: GradeReady) -> None: ...

    @abstractmethod
    def mood_changed(self, event: MoodChanged) -> None: ...

    @abstractmethod
    def failure(self, event: Failure) -> None: ...

    @abstractmethod
    def taken_back(self, event: TurnTakenBack) -> None: ...

    @abstractmethod
    def ended(self, event: SessionEnded) -> None: ...


class JsonView(SessionView):
    """One JSON object per event and line, for scripts; streamed chunks are left out
    (the complete line follows as a ``customer`` event)."""

    def _emit(self, event: BaseModel) -> None:
        print(json.dumps(event.model_dump(mode="json"), ensure_ascii=False), flush=True)

    def echo_trainee(self, text: str) -> None:
        return None  # the ``trainee`` event carries the line

    def started(self, event: SessionStarted) -> None:
        self._emit(event)

    def customer_chunk(self, event: CustomerChunk) -> None:
        return None

    def customer_said(self, event: CustomerSaid) -> None:
        self._emit(event)

    def trainee_said(self, event: TraineeSaid) -> None:
        self._emit(event)

    def grade_ready(self, event: GradeReady) -> None:
        self._emit(event)

    def mood_changed(self, event: MoodChanged) -> None:
        self._emit(event)

    def failure(self, event: Failure) -> None:
        self._emit(event)

    def taken_back(self, event: TurnTakenBack) -> None:
        self._emit(event)

    def ended(self, event: SessionEnded) -> None:
        self._emit(event)


class TerminalView(SessionView):
    """The session for a person at a terminal: the customer streams, grades and mood follow."""

    def __init__(self, console: Console, persona: Persona) -> None:
        self.console = console
        self.persona = persona
        self.lang = persona.language
        #: A customer line is being streamed: the next non-chunk output starts a new line.
        self._streaming = False

    def _end_stream(self) -> bool:
        if not self._streaming:
            return False
        self.console.print()
        self._streaming = False
        return True

    def _say(self, key: str, **values: object) -> str:
        """A UI string in the conversation's language, made safe for rich markup."""
        return escape(t(key, self.lang, **values))

    def echo_trainee(self, text: str) -> None:
        you = self._say("cli.you")
        self.console.print(f"[bold cyan]{you}>[/bold cyan] {escape(text)}", highlight=False)

    def started(self, event: SessionStarted) -> None:
        p = self.persona
        channel = t(f"scenario.channel.{p.channel}", self.lang)
        difficulty = t(f"scenario.difficulty.{p.difficulty}", self.lang)
        self.console.rule(escape(f"{p.name}  ·  {channel}  ·  {difficulty}"))
        self.console.print(p.summary, style="dim", markup=False, highlight=False)
        self.console.print(event.backend, style="dim", markup=False, highlight=False)

    def customer_chunk(self, event: CustomerChunk) -> None:
        if not self._streaming:
            who = self._say("cli.customer")
            self.console.print(f"[bold magenta]{who}>[/bold magenta] ", end="")
            self._streaming = True
        self.console.print(event.text, end="", markup=False)

    def customer_said(self, event: CustomerSaid) -> None:
        if not self._end_stream():
            # Nothing was streamed (an opening or closing line): print it whole.
            who = self._say("cli.customer")
            self.console.print(f"[bold magenta]{who}>[/bold magenta] {escape(event.content)}")
        elif event.status == "replaced":
            # The guard swapped a streamed line that broke character: show what stands.
            who, why = self._say("cli.customer"), self._say("cli.replaced")
            self.console.print(
                f"[bold magenta]{who}>[/bold magenta] {escape(event.content)} [dim]{why}[/dim]"
            )

    def trainee_said(self, event: TraineeSaid) -> None:
        return None  # the trainee typed it, or echo_trainee showed it

    def grade_ready(self, event: GradeReady) -> None:
        self._grade(event.grade)

    def mood_changed(self, event: MoodChanged) -> None:
        bar = "█" * event.after + "·" * (MOOD_MAX - event.after)
        sign = f"{event.delta:+d}" if event.delta else "±0"
        line = t(
            "cli.mood_line",
            self.lang,
            mood=t("cli.mood", self.lang),
            bar=bar,
            after=event.after,
            max=MOOD_MAX,
            label=event.label or event.band,
            sign=sign,
            reason=event.reason,
        )
        self.console.print(f"  {line}", markup=False, highlight=False, style="dim")

    def failure(self, event: Failure) -> None:
        self._end_stream()
        self.console.print(event.message, style="red", markup=False, highlight=False)

    def taken_back(self, event: TurnTakenBack) -> None:
        line = t("session.taken_back", self.lang, turn=event.turn)
        self.console.print(line, markup=False, highlight=False, style="yellow")
        bar = "█" * event.after + "·" * (MOOD_MAX - event.after)
        self.console.print(
            f"  {t('cli.mood', self.lang)} {bar} {event.after}/{MOOD_MAX} "
            f"({event.label or event.band})",
            markup=False,
            style="dim",
        )

    def ended(self, event: SessionEnded) -> None:
        c, d = self.console, event.debrief
        c.rule(self._say("cli.debrief"))
        c.print(d.outcome_text, markup=False, highlight=False)
        average = "–" if d.average_score is None else f"{d.average_score}/100"
        moods = " → ".join(str(m) for m in d.mood_trajectory)
        summary = t("cli.summary", self.lang, turns=d.turns, average=average, moods=moods)
        c.print(summary, markup=False, highlight=False)
        if d.goals:
            reached = t("debrief.goals_reached", self.lang, met=d.goals_met, total=len(d.goals))
            c.print(reached, markup=False, highlight=False)
            for goal in d.goals:
                style = "green" if goal.met else "yellow"
                c.print(
                    f"  {goal_line(goal, self.lang)}", style=style, markup=False, highlight=False
                )
        c.print(hints_line(d.hints, self.lang), markup=False, highlight=False)
        if d.retries:
            c.print(t("debrief.retries", self.lang), markup=False, highlight=False)
            for retry in d.retries:
                score = "–" if retry.score is None else f"{retry.score}/100"
                line = t(
                    "debrief.retry_line", self.lang, turn=retry.turn, score=score, quote=retry.text
                )
                c.print(f"  {line}", markup=False, highlight=False, style="dim")
        if d.strengths:
            done = [strength_text(s.criterion, s.turns, self.lang) for s in d.strengths]
            strengths = self._say("cli.strengths")
            c.print(f"[green]{strengths}[/green] " + escape("; ".join(done)), highlight=False)
        for item in d.improvements:
            improve = self._say("cli.improve")
            line = t("cli.improve_line", self.lang, label=item.label, tip=item.tip)
            c.print(f"[yellow]{improve}[/yellow] {escape(line)}")
            quote = t("cli.quote", self.lang, turn=item.turn, quote=item.quote)
            c.print(f"   {quote}", markup=False, highlight=False, style="dim")
            if item.better_reply:
                better = f"   {t('cli.better', self.lang)} {item.better_reply}"
                c.print(better, markup=False, highlight=False, style="dim")

    def _grade(self, grade: Grade) -> None:
        c = self.console
        score = t("cli.ungraded", self.lang) if grade.score is None else f"{grade.score}/100"
        mode = t(f"grade.mode.{grade.mode}", self.lang)
        c.print(
            f"  [bold]{self._say('cli.grade')}[/bold] {escape(score)} [dim]({escape(mode)})[/dim]",
            highlight=False,
        )
        for cid, result in grade.criteria.items():
            if result.verdict == "missed":
                label = CRITERIA_BY_ID[cid].label[self.lang]
                if result.evidence:
                    label = f'{label} "{result.evidence}"'
                elif result.basis == "not_found":  # offline: no words found proves less
                    label = t("grade.not_found_missed", self.lang, label=label)
                c.print(f"   [red]✗[/red] {escape(label)}", highlight=False)
        for cid, result in grade.criteria.items():
            if result.verdict == "met" and result.evidence:
                label = CRITERIA_BY_ID[cid].label[self.lang]
                c.print(f"   [green]✓[/green] {escape(label)}", highlight=False)
        if grade.feedback:
            c.print(f"  {grade.feedback}", style="italic", markup=False, highlight=False)
        if grade.better_reply:
            better = f"  {t('cli.better', self.lang)} {grade.better_reply}"
            c.print(better, style="dim", markup=False, highlight=False)
