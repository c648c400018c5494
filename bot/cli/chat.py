"""``coach chat``: a session in the terminal, interactive or scripted."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console

from bot.backends import OFFLINE_HELP
from bot.errors import CoachError
from bot.files import read_text
from bot.hints import hint_for
from bot.personas import MOOD_MAX, Persona
from bot.rubric import CRITERIA_BY_ID, Grade
from bot.runtime import Runtime
from bot.session import (
    CustomerChunk,
    CustomerSaid,
    Failure,
    GradeReady,
    MoodChanged,
    SessionEnded,
    SessionEngine,
    SessionStarted,
    TraineeSaid,
)

COMMANDS_HELP = "/hint for a nudge, /end to finish and see the debrief, /quit to leave"


def read_script(script: str) -> list[str]:
    from_stdin = script == "-"
    text = sys.stdin.read() if from_stdin else read_text(Path(script), CoachError, "script file")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise CoachError(f"{script}: the script has no trainee lines")
    return lines


def run_chat(
    *,
    persona_id: str,
    script: str | None,
    as_json: bool,
    checks_only: bool,
    console: Console,
    errors: Console,
) -> None:
    runtime = Runtime.create(checks_only=checks_only)
    persona = runtime.catalog.get(persona_id)
    lines = read_script(script) if script is not None else None
    if lines is None and not sys.stdin.isatty() and not as_json:
        raise CoachError(
            "stdin is not a terminal; pass --script FILE (or --script -) to play a scripted session"
        )
    asyncio.run(_play(runtime, persona, lines, as_json, console, errors))


async def _play(
    runtime: Runtime,
    persona: Persona,
    lines: list[str] | None,
    as_json: bool,
    console: Console,
    errors: Console,
) -> None:
    await runtime.store.init()
    view = JsonView() if as_json else TerminalView(console, persona)
    engine = runtime.engine(persona)
    try:
        if runtime.backend.offline and not as_json:
            errors.print(OFFLINE_HELP, markup=False, style="dim")
        for event in await engine.start():
            view.show(event)
        if lines is not None:
            for line in lines:
                if engine.ended:
                    break
                view.echo_trainee(line)
                async for event in engine.turn(line):
                    view.show(event)
        else:
            await _interactive(engine, view, console)
        if not engine.ended:
            view.show(await engine.end("trainee"))
    finally:
        await runtime.store.close()


async def _interactive(
    engine: SessionEngine, view: TerminalView | JsonView, console: Console
) -> None:
    console.print(f"[dim]{COMMANDS_HELP}[/dim]")
    while not engine.ended:
        try:
            text = await asyncio.to_thread(console.input, "[bold cyan]you>[/bold cyan] ")
        except EOFError:
            return
        command = text.strip().lower()
        if command in ("/quit", "/exit"):
            return
        if command == "/end":
            return
        if command == "/hint":
            console.print(f"[yellow]hint:[/yellow] {hint_for(engine.persona, engine.grades)}")
            continue
        if not command:
            continue
        try:
            async for event in engine.turn(text):
                view.show(event)
        except CoachError as exc:
            console.print(f"[red]{exc}[/red]")


class JsonView:
    """One JSON object per event and line; streamed chunks are left out."""

    def echo_trainee(self, text: str) -> None:
        return None

    def show(self, event: BaseModel) -> None:
        if isinstance(event, CustomerChunk):
            return
        print(json.dumps(event.model_dump(mode="json"), ensure_ascii=False), flush=True)


class TerminalView:
    def __init__(self, console: Console, persona: Persona) -> None:
        self.console = console
        self.persona = persona
        self.lang = persona.language
        self._streaming = False

    def echo_trainee(self, text: str) -> None:
        self.console.print(f"[bold cyan]you>[/bold cyan] {text}", highlight=False)

    def show(self, event: BaseModel) -> None:
        c = self.console
        if isinstance(event, SessionStarted):
            c.rule(f"{self.persona.name}  ·  {self.persona.channel}  ·  {self.persona.difficulty}")
            c.print(f"[dim]{self.persona.summary}[/dim]")
            c.print(f"[dim]{event.backend}[/dim]")
        elif isinstance(event, CustomerChunk):
            if not self._streaming:
                c.print("[bold magenta]customer>[/bold magenta] ", end="")
                self._streaming = True
            c.print(event.text, end="", markup=False)
        elif isinstance(event, CustomerSaid):
            if self._streaming:
                c.print()
                self._streaming = False
                if event.status == "replaced":  # the guard swapped a line that broke character
                    c.print(
                        f"[bold magenta]customer>[/bold magenta] {event.content} "
                        "[dim](replaced: the model stepped out of character)[/dim]"
                    )
            else:
                c.print(f"[bold magenta]customer>[/bold magenta] {event.content}")
        elif isinstance(event, TraineeSaid):
            return
        elif isinstance(event, GradeReady):
            self._grade(event.grade)
        elif isinstance(event, MoodChanged):
            bar = "█" * event.after + "·" * (MOOD_MAX - event.after)
            sign = f"{event.delta:+d}" if event.delta else "±0"
            c.print(
                f"  mood {bar} {event.after}/{MOOD_MAX} ({event.band}) {sign}: {event.reason}",
                markup=False,
                style="dim",
            )
        elif isinstance(event, Failure):
            if self._streaming:
                c.print()
                self._streaming = False
            c.print(f"[red]{event.message}[/red]")
        elif isinstance(event, SessionEnded):
            self._debrief(event)

    def _grade(self, grade: Grade) -> None:
        c = self.console
        score = "ungraded" if grade.score is None else f"{grade.score}/100"
        c.print(f"  [bold]grade[/bold] {score} [dim]({grade.mode})[/dim]")
        for cid, result in grade.criteria.items():
            if result.verdict == "missed":
                label = CRITERIA_BY_ID[cid].label[self.lang]
                evidence = f' "{result.evidence}"' if result.evidence else ""
                c.print(f"   [red]✗[/red] {label}{evidence}", highlight=False)
        for cid, result in grade.criteria.items():
            if result.verdict == "met" and result.evidence:
                label = CRITERIA_BY_ID[cid].label[self.lang]
                c.print(f"   [green]✓[/green] {label}", highlight=False)
        if grade.feedback:
            c.print(f"  [italic]{grade.feedback}[/italic]", highlight=False)
        if grade.better_reply:
            c.print(f"  [dim]better: {grade.better_reply}[/dim]", highlight=False)

    def _debrief(self, event: SessionEnded) -> None:
        c, d = self.console, event.debrief
        c.rule("debrief")
        c.print(d.outcome_text)
        average = "n/a" if d.average_score is None else f"{d.average_score}/100"
        c.print(
            f"turns: {d.turns}  ·  average score: {average}  ·  mood: "
            f"{' → '.join(str(m) for m in d.mood_trajectory)}"
        )
        if d.strengths:
            c.print("[green]strengths:[/green] " + ", ".join(s.label for s in d.strengths))
        for item in d.improvements:
            c.print(f"[yellow]improve:[/yellow] {item.label}: {item.tip}", highlight=False)
            c.print(f'   turn {item.turn}: "{item.quote}"', highlight=False, style="dim")
            if item.better_reply:
                c.print(f"   better: {item.better_reply}", highlight=False, style="dim")
