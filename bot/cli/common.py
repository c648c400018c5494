"""What every command shares: the consoles, one-line failures, running a coroutine.

Every user mistake ends as one line on stderr and a non-zero exit: 1 for bad
input or a failed check, 2 for a usage error (a flag missing, unknown or
combined with one it cannot go with). Nothing here imports more than Typer and
rich: the command modules import what they need inside their commands, so a
quick command starts quickly.
"""

from __future__ import annotations

from collections.abc import Coroutine
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

T = TypeVar("T")

#: Exit codes: bad input or a failed check, a usage error, interrupted (128 + SIGINT).
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class LanguageChoice(StrEnum):
    fr = "fr"
    en = "en"


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print ``error: message`` (one line saying what is wrong and what to do) and exit."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A one-line remark on stderr that does not change the outcome."""
    err.print(f"note: {message}", markup=False)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a new event loop (a command is one ``asyncio.run``)."""
    import asyncio  # not at the top: the commands that never await should not load it

    return asyncio.run(coro)
