"""``coach grade``: grade trainee turns from a file or stdin, one JSON grade a line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EXIT_USAGE, fail, note, run_async


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
    from bot.grader import Grader
    from bot.grading import grade_many
    from bot.personas import cached_catalog
    from bot.settings import get_settings

    if source is None and sys.stdin.isatty():
        fail("give a FILE of cases, or pipe them on stdin (see coach grade --help)", EXIT_USAGE)
    settings = get_settings()
    catalog = cached_catalog(settings.personas_dir)
    if source in (None, "-"):
        from bot.errors import CaseError
        from bot.files import read_stdin

        cases = parse_cases(read_stdin(CaseError, "cases"), "stdin", catalog)
    else:
        cases = load_cases(Path(source), catalog)
    # The grader alone, not the whole runtime: grading needs no database, no
    # simulated customer and, with --checks-only, no model backend either.
    models = None
    if not checks_only:
        from bot.backends import resolve_backend

        backend = resolve_backend(settings)
        models = backend.grader_models()
        if models is None:
            note(
                "offline, so the checks alone grade (set OPENAI_API_KEY or "
                "OPENAI_BASE_URL for the full grader)"
            )
    grader = Grader(settings, models)
    grades = run_async(grade_many(cases, grader, catalog))
    for case, (result,) in zip(cases, grades, strict=True):
        line = {"id": case.id, **result.model_dump(mode="json")}
        # Offline, the verdicts that rest on words not found (not proven): listed apart.
        line["not_found"] = [c for c, r in result.criteria.items() if r.basis == "not_found"]
        print(json.dumps(line, ensure_ascii=False), flush=True)
