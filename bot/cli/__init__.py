"""The ``coach`` command line: one module per command group, put together here.

Each module defines its commands and imports what a command needs inside it,
so that starting the command line costs Typer and rich, not the web app or the
model SDK. ``main`` is the console-script entry point (``coach``).
"""

from __future__ import annotations

import sys

import typer

from bot.cli import bench, chat, grade, personas, run, users
from bot.cli import eval as evals
from bot.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, err
from bot.errors import CoachError

app = typer.Typer(
    name="coach",
    help="De-escalation coach: practise with simulated customers and get every reply graded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("run")(run.run)
app.command("chat")(chat.chat)
app.command("grade")(grade.grade)
app.add_typer(personas.app, name="personas")
app.add_typer(evals.app, name="eval")
app.add_typer(users.app, name="users")
app.command("bench")(bench.bench)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: one line for every error, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="coach", standalone_mode=False)
    except CoachError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_FAILED)
    except (KeyboardInterrupt, EOFError):
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # Usage errors come from the click that Typer vendors; they carry
        # their own message and exit code (2).
        if type(exc).__name__ == "NoArgsIsHelpError":
            err.print(exc.format_message(), markup=False)  # type: ignore[attr-defined]
            sys.exit(EXIT_USAGE)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            err.print(f"error: {exc.format_message()}{hint}", markup=False)
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            err.print("aborted", markup=False)
            sys.exit(EXIT_INTERRUPTED)
        raise
    sys.exit(code if isinstance(code, int) else 0)
