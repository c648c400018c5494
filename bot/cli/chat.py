"""``coach chat``: a session in the terminal, interactive or from a script.

The session engine, the runtime and the views load inside the command, so
that the other commands start without them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import err, out, run_async
from bot.errors import CoachError

if TYPE_CHECKING:
    from rich.console import Console

    from bot.cli.chat_views import SessionView
    from bot.personas import Persona
    from bot.runtime import Runtime
    from bot.session import SessionEngine


def chat(
    persona: Annotated[
        str, typer.Option("--persona", "-p", help="Persona id (coach personas list).")
    ],
    script: Annotated[
        str | None,
        typer.Option(help="Read the trainee's lines from FILE ('-' for stdin), one per line."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON event per line.")] = False,
    checks_only: Annotated[
        bool,
        typer.Option(
            "--checks-only", help="Offline customer and grader even if a model is configured."
        ),
    ] = False,
) -> None:
    """Play a session in the terminal: interactively, or from a script."""
    from bot.runtime import Runtime

    runtime = Runtime.create(checks_only=checks_only)
    chosen = runtime.catalog.get(persona)
    lines = read_script(script) if script is not None else None
    if lines is None and not sys.stdin.isatty() and not as_json:
        raise CoachError(
            "stdin is not a terminal; pass --script FILE (or --script -) to play a scripted session"
        )
    run_async(play(runtime, chosen, lines, as_json=as_json, console=out, errors=err))


def read_script(script: str) -> list[str]:
    """The trainee's lines from a file or stdin ('-'): blank lines and # comments skipped."""
    from bot.files import read_stdin, read_text

    if script == "-":
        text = read_stdin(CoachError, "script")
    else:
        text = read_text(Path(script), CoachError, "script file")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise CoachError(f"{script}: the script has no trainee lines; write one reply per line")
    return lines


async def play(
    runtime: Runtime,
    persona: Persona,
    lines: list[str] | None,
    *,
    as_json: bool,
    console: Console,
    errors: Console,
) -> None:
    """One session from start to debrief: scripted when ``lines`` is given, else interactive."""
    from bot.cli.chat_views import JsonView, TerminalView

    await runtime.store.init()
    view: SessionView = JsonView() if as_json else TerminalView(console, persona)
    engine = runtime.engine(persona)
    try:
        if runtime.backend.notice and not as_json:
            errors.print(runtime.backend.notice, markup=False, style="dim")
        for event in await engine.start():
            view.show(event)
        if lines is not None:
            for line in lines:
                if engine.ended:
                    break
                if line.lower() == "/back":  # a script may take a reply back too
                    view.show(await engine.take_back())
                    continue
                view.echo_trainee(line)
                async for event in engine.turn(line):
                    view.show(event)
        else:
            await interactive(engine, view, console)
        if not engine.ended:
            view.show(await engine.end("trainee"))
    finally:
        await runtime.store.close()


async def interactive(engine: SessionEngine, view: SessionView, console: Console) -> None:
    """Read the trainee's replies from the terminal until the session ends or they leave."""
    import asyncio

    from rich.markup import escape

    from bot.i18n import t

    lang = engine.persona.language
    console.print(t("cli.commands", lang), style="dim", markup=False, highlight=False)
    prompt = f"[bold cyan]{escape(t('cli.you', lang))}>[/bold cyan] "
    while not engine.ended:
        try:
            text = await asyncio.to_thread(console.input, prompt)
        except EOFError:
            return
        command = text.strip().lower()
        if command in ("/quit", "/exit", "/end"):
            return  # the caller ends the session, so /end and /quit both get the debrief
        if command == "/hint":
            hint = escape(await engine.hint())
            console.print(f"[yellow]{escape(t('cli.hint', lang))}[/yellow] {hint}")
            continue
        if command == "/back":
            try:
                view.show(await engine.take_back())
            except CoachError as exc:
                console.print(str(exc), style="red", markup=False, highlight=False)
            continue
        if not command:
            continue
        try:
            async for event in engine.turn(text):
                view.show(event)
        except CoachError as exc:
            console.print(str(exc), style="red", markup=False, highlight=False)
