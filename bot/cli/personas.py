"""``coach personas``: list, validate, print the schema, scaffold a new one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EXIT_FAILED, LanguageChoice, err, fail, out

app = typer.Typer(help="List, validate and scaffold personas.", no_args_is_help=True)

#: The commented persona that ``coach personas new`` copies.
TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "persona.yaml"


@app.command("list")
def personas_list(
    language: Annotated[LanguageChoice | None, typer.Option(help="Only this language.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per persona.")] = False,
) -> None:
    """List the personas (files with errors are reported on stderr and skipped)."""
    from rich.table import Table

    from bot.personas import load_catalog
    from bot.settings import get_settings

    catalog = load_catalog(get_settings().personas_dir)
    personas = [
        p for p in catalog.personas.values() if language is None or p.language == language.value
    ]
    personas.sort(key=lambda p: (p.language, p.id))
    if as_json:
        for p in personas:
            line = {
                "id": p.id,
                "name": p.name,
                "language": p.language,
                "channel": p.channel,
                "difficulty": p.difficulty,
                "summary": p.summary,
            }
            print(json.dumps(line, ensure_ascii=False))
    else:
        table = Table("id", "lang", "channel", "difficulty", "summary", box=None)
        for p in personas:
            table.add_row(p.id, p.language, p.channel, p.difficulty, p.summary)
        out.print(table)
    for error in catalog.errors:
        err.print(f"error: {error}", markup=False)
    if catalog.errors:
        raise typer.Exit(EXIT_FAILED)


@app.command("validate")
def personas_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Persona files or folders (default: every file in the personas folder)."
        ),
    ] = None,
) -> None:
    """Check persona files; one line per problem, exit 1 if any."""
    from bot.errors import CoachError
    from bot.personas import load_persona_file, persona_files
    from bot.settings import get_settings

    named = paths or [get_settings().personas_dir]
    files = [f for p in named for f in (persona_files(p) if p.is_dir() else [p])]
    if not files:
        fail("no persona files to validate; pass a file, or set COACH_PERSONAS_DIR to a folder")
    problems = 0
    for path in files:
        try:
            persona = load_persona_file(path)
        except CoachError as exc:
            problems += 1
            err.print(f"error: {exc}", markup=False)
            continue
        except Exception as exc:  # one bad file never stops the others being checked
            problems += 1
            err.print(f"error: {path}: cannot be read: {type(exc).__name__}", markup=False)
            continue
        out.print(f"ok: {path} ({persona.label()})", markup=False)
    if problems:
        raise typer.Exit(EXIT_FAILED)


@app.command("schema")
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
        err.print(f"wrote {output}", markup=False)
    else:
        sys.stdout.write(text)


@app.command("new")
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
    template = TEMPLATE.read_text(encoding="utf-8")
    target.write_text(
        template.replace("{id}", persona_id).replace("{language}", language.value), encoding="utf-8"
    )
    out.print(f"wrote {target}; edit it, then run: coach personas validate {target}", markup=False)
