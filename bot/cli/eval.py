"""``coach eval``: run the eval suites, show or print the report, fail on a regression.

Which suites run and in which mode is decided in bot/evals/modes.py; the
report is built by bot/evals/runner.py. This module only turns flags into
options and the report into output.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EXIT_FAILED, EXIT_USAGE, err, fail, out, run_async


class SuiteChoice(StrEnum):
    grader = "grader"
    personas = "personas"
    all = "all"


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
