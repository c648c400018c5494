"""``coach eval``: run the eval suites, show or print the report, fail on a regression;
``coach eval export-corrections``: trainers' corrections as eval cases.

Which suites run and in which mode is decided in bot/evals/modes.py; the
report is built by bot/evals/runner.py; the cases from corrections in
bot/corrections.py. This module only turns flags into options and the
report into output.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EXIT_FAILED, EXIT_USAGE, err, fail, note, out, run_async

app = typer.Typer(add_completion=False)


class SuiteChoice(StrEnum):
    grader = "grader"
    personas = "personas"
    all = "all"


@app.callback(invoke_without_command=True)
def eval_command(
    ctx: typer.Context,
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
        int,
        typer.Option(
            min=1,
            help="With --live: grade each LLM case N times and report the flip rate per "
            "criterion (the share of cases whose verdict changed between repeats).",
        ),
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
    min_accuracy: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="With --dataset: the accuracy each language must reach."
        ),
    ] = 0.0,
    min_criterion_accuracy: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="With --dataset: the accuracy each criterion the files label must reach.",
        ),
    ] = 0.0,
) -> None:
    """Run the eval suites; exit 1 on a regression against the pins.

    Case files given with --dataset are gated too: an attacked turn that scores
    above its twin fails the run, and so does an accuracy under --min-accuracy
    or --min-criterion-accuracy.
    """
    if ctx.invoked_subcommand is not None:
        return  # `coach eval export-corrections`: only the subcommand runs
    from bot.evals.modes import FlagConflict, choose_mode, choose_suites

    try:
        mode = choose_mode(
            live=live, record=record, record_missing=record_missing, checks_only=checks_only
        )
        names = choose_suites(
            [s.value for s in suite or ()], mode=mode, checks_only=checks_only, ad_hoc=bool(dataset)
        )
    except FlagConflict as exc:
        fail(str(exc), EXIT_USAGE)
    if repeat > 1 and mode == "replay" and not checks_only:
        fail(
            "--repeat grades each case N times against a live model (the recordings hold one "
            "sample per case): add --live, with OPENAI_BASE_URL or OPENAI_API_KEY set",
            EXIT_USAGE,
        )

    # The runner brings the grader, storage and the model SDK: only now.
    from bot.evals.console import progress_bars, show_report
    from bot.evals.reports import summary_json
    from bot.evals.runner import EvalOptions, Evaluator
    from bot.settings import get_settings

    options = EvalOptions(
        suites=names,
        datasets=tuple(dataset or ()),
        mode=mode,
        repeat=repeat,
        concurrency=concurrency,
        report_dir=None if no_reports else report_dir,
        accept=accept,
        min_accuracy=min_accuracy,
        min_criterion_accuracy=min_criterion_accuracy,
    )
    with progress_bars(err) as progress:
        evaluator = Evaluator(get_settings(), options, progress)
        run = run_async(evaluator.run())
    if as_json:
        print(json.dumps(summary_json(run.report), ensure_ascii=False))
    else:
        show_report(run.report, out)
        for path in run.written:
            out.print(f"wrote {path}", style="dim", markup=False)
    if not run.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command("export-corrections")
def export_corrections(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the cases to this file (JSON Lines) instead of stdout."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="The app's database URL (default: COACH_DATABASE_URL or the data folder's)."
        ),
    ] = None,
) -> None:
    """Trainers' corrections of verdicts as eval cases, one JSON line per corrected reply.

    Run them with `coach eval --dataset FILE --checks-only` (or with the model).
    """
    from bot.corrections import cases_jsonl, export_cases
    from bot.files import write_private
    from bot.personas import load_catalog
    from bot.settings import get_settings
    from bot.storage import Store, sqlite_file

    settings = get_settings()
    url = db or settings.resolved_database_url
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        fail(f"no database at {path}; give the app's database with --db URL or COACH_DATABASE_URL")
    personas = set(load_catalog(settings.personas_dir).personas)

    async def collect() -> list[dict[str, object]]:
        store = Store(url)
        try:
            await store.init()  # a database from before corrections gets the table
            return await export_cases(store, personas)
        finally:
            await store.close()

    cases = run_async(collect())
    if not cases:
        fail("no corrections in the database; mark a verdict as wrong from a transcript first")
    text = cases_jsonl(cases)
    if out_file is None:
        print(text, end="")
        return
    if out_file.is_dir():
        fail(f"{out_file} is a folder; give a file name, such as {out_file / 'corrections.jsonl'}")
    try:
        write_private(out_file, text)  # trainees' words: readable by the owner only
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    note(f"wrote {len(cases)} case{'s' if len(cases) != 1 else ''} to {out_file}")
