"""The ``coach`` command line. DESIGN.md's command-line section is its contract.

Every user mistake ends as one line on stderr and a non-zero exit: 1 for bad
input or a failed check, 2 for a usage error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.errors import CoachError

T = TypeVar("T")

app = typer.Typer(
    name="coach",
    help="De-escalation coach: practise with simulated customers and get every reply graded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
personas_app = typer.Typer(help="List, validate and scaffold personas.", no_args_is_help=True)
app.add_typer(personas_app, name="personas")
users_app = typer.Typer(
    help="Manage the accounts that can sign in to the web app.", no_args_is_help=True
)
app.add_typer(users_app, name="users")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class LanguageChoice(StrEnum):
    fr = "fr"
    en = "en"


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --- personas -------------------------------------------------------------------------


@personas_app.command("list")
def personas_list(
    language: Annotated[LanguageChoice | None, typer.Option(help="Only this language.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per persona.")] = False,
) -> None:
    """List the personas (files with errors are reported on stderr and skipped)."""
    from bot.personas import load_catalog
    from bot.settings import get_settings

    catalog = load_catalog(get_settings().personas_dir)
    personas = [
        p for p in catalog.personas.values() if language is None or p.language == language.value
    ]
    personas.sort(key=lambda p: (p.language, p.id))
    if as_json:
        for p in personas:
            print(
                json.dumps(
                    {
                        "id": p.id,
                        "name": p.name,
                        "language": p.language,
                        "channel": p.channel,
                        "difficulty": p.difficulty,
                        "summary": p.summary,
                    },
                    ensure_ascii=False,
                )
            )
    else:
        table = Table("id", "lang", "channel", "difficulty", "summary", box=None)
        for p in personas:
            table.add_row(p.id, p.language, p.channel, p.difficulty, p.summary)
        out.print(table)
    for error in catalog.errors:
        err.print(f"error: {error}", markup=False)
    if catalog.errors:
        raise typer.Exit(1)


@personas_app.command("validate")
def personas_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Persona files (default: every file in the personas folder)."),
    ] = None,
) -> None:
    """Check persona files; one line per problem, exit 1 if any."""
    from bot.personas import load_persona_file, persona_files
    from bot.settings import get_settings

    files = paths or persona_files(get_settings().personas_dir)
    if not files:
        fail("no persona files to validate")
    problems = 0
    for path in files:
        try:
            persona = load_persona_file(path)
        except CoachError as exc:
            problems += 1
            err.print(f"error: {exc}", markup=False)
            continue
        out.print(f"ok: {path} ({persona.label()})", markup=False)
    if problems:
        raise typer.Exit(1)


@personas_app.command("schema")
def personas_schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Print the persona JSON Schema (editors use it to validate and autocomplete)."""
    from bot.personas import persona_json_schema_text

    text = persona_json_schema_text()
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@personas_app.command("new")
def personas_new(
    persona_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. fr-colis-perdu")],
    language: Annotated[
        LanguageChoice, typer.Option(help="The persona's language.")
    ] = LanguageChoice.fr,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Scaffold a commented persona file in the personas folder."""
    import re

    from bot.settings import get_settings

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", persona_id):
        fail(f"'{persona_id}' is not a valid id; use lower case letters, digits and dashes")
    target = get_settings().personas_dir / f"{persona_id}.yaml"
    if target.exists() and not force:
        fail(f"{target} already exists; pick another id or pass --force")
    template = (Path(__file__).parent.parent / "templates" / "persona.yaml").read_text(encoding="utf-8")
    target.write_text(
        template.replace("{id}", persona_id).replace("{language}", language.value), encoding="utf-8"
    )
    out.print(f"wrote {target}; edit it, then run: coach personas validate {target}", markup=False)


# --- run and users ----------------------------------------------------------------------


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = False,
    demo: Annotated[
        bool,
        typer.Option(
            help="Create demo accounts (a trainee and a trainer) and print how to sign in."
        ),
    ] = False,
) -> None:
    """Start the web app."""
    from bot.backends import OFFLINE_HELP, resolve_backend
    from bot.settings import get_settings
    from bot.webapp import ensure_demo_accounts, launch, prepare

    settings = get_settings()
    backend = resolve_backend(settings)
    users = prepare(settings)
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    if demo:
        accounts = run_async(ensure_demo_accounts(settings))
        out.print(f"Open {url} and sign in as:", markup=False)
        for account in accounts:
            out.print(f"  {account.name} / {account.password}   ({account.role})", markup=False)
    elif users == 0:
        err.print(
            "note: no accounts yet, so nobody can sign in; add one with "
            "coach users add NAME --role trainee (or run with --demo)",
            markup=False,
        )
    out.print(f"Model: {backend.describe()}", markup=False)
    if backend.offline:
        out.print(OFFLINE_HELP, markup=False, style="dim")
    launch(settings, host, port, headless)


async def with_accounts(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action`` on the accounts in the configured database."""
    from bot.settings import get_settings
    from bot.storage import Store
    from bot.users import Accounts

    store = Store(get_settings().resolved_database_url)
    try:
        await store.init()
        return await action(Accounts(store))
    finally:
        await store.close()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Option(help="trainee, trainer or evaluator.")],
    password: Annotated[
        str | None, typer.Option(help="The password (default: a random one, printed once).")
    ] = None,
) -> None:
    """Add an account, or reset its role and password."""
    from bot.users import generate_password

    chosen = password or generate_password()

    run_async(with_accounts(lambda accounts: accounts.add(name, role, chosen)))
    shown = "" if password else f" with password {chosen}"
    out.print(f"added {name} ({role}){shown}", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List accounts and their roles."""

    for account in run_async(with_accounts(lambda accounts: accounts.list())):
        print(f"{account.name}\t{account.role}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="The sign-in name.")]) -> None:
    """Remove an account (its sessions stay)."""

    run_async(with_accounts(lambda accounts: accounts.remove(name)))
    out.print(f"removed {name}", markup=False)


# --- grade ----------------------------------------------------------------------------


@app.command()
def grade(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="[FILE|-]", help="Cases as JSON or JSONL; '-' or nothing reads stdin."
        ),
    ] = None,
    checks_only: Annotated[
        bool,
        typer.Option("--checks-only", help="Use only the deterministic checks, never a model."),
    ] = False,
) -> None:
    """Grade trainee turns; prints one JSON grade per line."""
    from bot.cases import load_cases, parse_cases
    from bot.runtime import Runtime

    runtime = Runtime.create(checks_only=checks_only)
    catalog = runtime.catalog
    if source in (None, "-"):
        if source is None and sys.stdin.isatty():
            fail("give a FILE of cases, or pipe them on stdin (see coach grade --help)", 2)
        cases = parse_cases(sys.stdin.read(), "stdin", catalog)
    else:
        cases = load_cases(Path(source), catalog)
    if runtime.backend.offline and not checks_only:
        err.print(
            "note: offline, so the checks alone grade (set OPENAI_API_KEY or "
            "OPENAI_BASE_URL for the full grader)",
            markup=False,
        )

    async def grade_all() -> None:
        limit = asyncio.Semaphore(4)

        async def one(case: Any) -> Any:
            async with limit:
                persona = catalog.personas.get(case.persona) if case.persona else None
                return await runtime.grader.grade(case.turn, case.language, case.history, persona)

        results = await asyncio.gather(*(one(c) for c in cases))
        for case, result in zip(cases, results, strict=True):
            print(
                json.dumps({"id": case.id, **result.model_dump(mode="json")}, ensure_ascii=False),
                flush=True,
            )

    run_async(grade_all())


# --- chat -----------------------------------------------------------------------------


@app.command()
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
    from bot.cli.chat import run_chat

    run_chat(
        persona_id=persona,
        script=script,
        as_json=as_json,
        checks_only=checks_only,
        console=out,
        errors=err,
    )


# --- eval -----------------------------------------------------------------------------


class SuiteChoice(StrEnum):
    grader = "grader"
    personas = "personas"
    all = "all"


@app.command("eval")
def eval_command(
    suite: Annotated[
        list[SuiteChoice] | None,
        typer.Option(help="Which suites: grader, personas or all (default)."),
    ] = None,
    dataset: Annotated[
        list[Path] | None,
        typer.Option(help="Grade these case files instead of the pinned datasets (JSON/JSONL)."),
    ] = None,
    checks_only: Annotated[
        bool,
        typer.Option(
            "--checks-only", help="Only the deterministic checks and the offline customer."
        ),
    ] = False,
    live: Annotated[
        bool, typer.Option(help="Use the configured model backend instead of the recordings.")
    ] = False,
    record: Annotated[
        bool, typer.Option(help="Like --live, and refresh the recordings in the repo.")
    ] = False,
    record_missing: Annotated[
        bool, typer.Option(help="Like --record, only for prompts with no recording yet.")
    ] = False,
    repeat: Annotated[
        int, typer.Option(min=1, help="Grade each LLM case N times (flip rate).")
    ] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Cases run at once.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    report_dir: Annotated[Path, typer.Option(help="Where to write the reports.")] = Path(
        "evals/reports"
    ),
    no_reports: Annotated[
        bool, typer.Option("--no-reports", help="Write no report files.")
    ] = False,
    accept: Annotated[
        bool,
        typer.Option(help="Make this run the accepted baseline that later runs are compared with."),
    ] = False,
) -> None:
    """Run the eval suites; exit 1 on a regression against the pins."""
    from bot.evals.console import progress_bars, show_report
    from bot.evals.runner import SUITES, EvalOptions, Evaluator
    from bot.settings import get_settings

    if sum((live, record, record_missing)) > 1:
        fail("choose one of --live, --record and --record-missing", 2)
    if checks_only and (live or record or record_missing):
        fail("--checks-only uses no model; drop --live/--record", 2)
    chosen = {s.value for s in suite or [SuiteChoice.all]}
    names = [n for n in SUITES if "all" in chosen or n.split("-")[0] in chosen]
    if checks_only:
        names = [n for n in names if n in ("grader-checks", "personas-offline")]
    if dataset:
        # Ad-hoc files are graded by the checks, or by the configured model with --live.
        names = ["grader-llm"] if (live or record or record_missing) else ["grader-checks"]
    options = EvalOptions(
        suites=names,
        datasets=tuple(dataset or ()),
        mode="record" if record else "fill" if record_missing else "live" if live else "replay",
        repeat=repeat,
        concurrency=concurrency,
        report_dir=None if no_reports else report_dir,
        accept=accept,
    )
    with progress_bars(err) as progress:
        evaluator = Evaluator(get_settings(), options, progress)
        run = run_async(evaluator.run())
    if as_json:
        report = dict(run.report)
        grader = next((s for s in report["suites"].values() if s["kind"] == "grader"), None)
        if grader is not None:
            report["metrics"] = grader["metrics"]
        print(json.dumps(report, ensure_ascii=False))
    else:
        show_report(run.report, out)
        for path in run.written:
            out.print(f"wrote {path}", style="dim")
    if not run.passed:
        raise typer.Exit(1)


# --- bench ---------------------------------------------------------------------------


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    rounds: Annotated[int, typer.Option(min=1, help="Repeats of each measure.")] = 5,
    turns: Annotated[int, typer.Option(min=2, help="Turns in the offline session.")] = 40,
) -> None:
    """Measure the offline path: checks, a whole turn, history trimming, memory."""
    from bot.bench import run_bench
    from bot.settings import get_settings

    figures = run_bench(get_settings(), rounds=rounds, turns=turns)
    if as_json:
        print(json.dumps(figures))
        return
    c, s, t = figures["checks"], figures["offline_turn"], figures["history_trim"]
    out.print(
        f"checks          {c['median_ms_per_turn']} ms/turn median over {c['turns']} "
        f"labelled turns ({c['turns_per_second']} turns/s)",
        markup=False,
    )
    out.print(
        f"offline turn    {s['median_ms_per_turn']} ms median, {s['p90_ms_per_turn']} ms "
        f"p90, over {s['turns']} turns (SQLite, checks, scripted customer)",
        markup=False,
    )
    out.print(
        f"history trim    {t['median_ms']} ms median: {t['messages']} messages to "
        f"{t['kept']} within {t['budget_tokens']} tokens",
        markup=False,
    )
    out.print(
        f"memory          {s['peak_python_memory_mib']} MiB peak (Python heap) over the session",
        markup=False,
    )
    out.print(f"checks are {figures['checks_share_of_turn']:.1%} of an offline turn", markup=False)


# --- entry point ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: one line for every error, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="coach", standalone_mode=False)
    except CoachError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except (KeyboardInterrupt, EOFError):
        sys.exit(130)
    except Exception as exc:
        # Usage errors come from the click that Typer vendors; they carry
        # their own message and exit code (2).
        if type(exc).__name__ == "NoArgsIsHelpError":
            err.print(exc.format_message(), markup=False)  # type: ignore[attr-defined]
            sys.exit(2)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            err.print(f"error: {exc.format_message()}{hint}", markup=False)
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            err.print("aborted", markup=False)
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
