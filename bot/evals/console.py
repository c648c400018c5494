"""How `coach eval` shows a run in the terminal: progress bars and tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.evals.reports import flip_line, grader_header, grader_rows
from bot.rubric import CHECK_CRITERIA, CRITERION_IDS


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """A factory of progress callbacks (one bar per suite) on ``console``."""
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )

    def factory(label: str, total: int) -> Callable[[], None]:
        task = progress.add_task(label, total=total)
        return lambda: progress.advance(task)

    with progress:
        yield factory


def show_report(report: dict[str, Any], console: Console) -> None:
    for name, suite in report["suites"].items():
        status = (
            "[red]FAILED[/red]"
            if suite["failures"]
            else ("[green]passed[/green]" if suite["pinned"] else "[dim]not pinned[/dim]")
        )
        console.print(f"\n[bold]{name}[/bold] ({suite['mode']}; {suite['backend']}): {status}")
        if suite["kind"] == "grader":
            metrics = suite["metrics"]
            checks_only = suite["mode"] == "checks"
            table = Table(*grader_header(metrics), box=None, pad_edge=False)
            for row in grader_rows(metrics, CHECK_CRITERIA if checks_only else CRITERION_IDS):
                table.add_row(*row)
            console.print(table)
            if checks_only:
                console.print(
                    "  (judgement criteria need the LLM: see grader-llm and the report files)",
                    style="dim",
                )
            for language, m in metrics.items():
                if language == "all":
                    continue
                console.print(
                    f"  {language}: {m['cases']} cases, accuracy {m['accuracy']}, "
                    f"kappa {m['kappa']}, score error {m['score_mae']}, "
                    f"ungraded {m['ungraded']}, flip rate {m['flip_rate']}"
                )
                if report["metadata"].get("repeat", 1) > 1:
                    console.print(f"  {language}: {flip_line(m)}", markup=False)
            for language, figures in (suite.get("by_tag") or {}).items():
                tags = ", ".join(
                    f"{tag} {v['accuracy']}" for tag, v in figures["accuracy_by_tag"].items()
                )
                console.print(f"  {language} by tag: {tags}", markup=False)
                console.print(
                    f"  {language}: harms caught {figures['harms_caught']} "
                    f"of {figures['harm_cases']}, false alarms {figures['false_alarms']}, "
                    f"attacks above their twin {figures['attacks_above_twin']}",
                    markup=False,
                )
            worse = [f for f in suite["flips"] if f["worse"]]
            better = [f for f in suite["flips"] if not f["worse"]]
            if suite["flips"]:
                console.print(
                    f"  flips against the accepted run: {len(worse)} worse, {len(better)} other"
                )
                for f in suite["flips"][:20]:
                    console.print(
                        f"    {f['case']} {f['criterion']}: {f['was']} → {f['now']} "
                        f"(expected {f['expected']})",
                        markup=False,
                    )
        else:
            m = suite["metrics"]
            console.print(
                f"  {m['passed']}/{m['runs']} runs passed; mood moved the right way "
                f"in {m['mood_direction']}; {m['violations']} lines broke character "
                f"{m['by_kind']}; {m['guarded']} replaced by the guard"
            )
            if difficulty := m.get("difficulty"):
                means = ", ".join(f"{d} {v}" for d, v in difficulty["by_difficulty"].items())
                console.print(
                    f"  mediocre trainee: worse the harder the difficulty for "
                    f"{difficulty['ordered']} of personas; how badly it ended (mood, past "
                    f"10 a walk-out) by the personas' own difficulty: {means}",
                    markup=False,
                )
            for run in suite["runs"]:
                if not run["passed"]:
                    console.print(
                        f"    {run['persona']} {run['script']}: moods "
                        f"{run['moods']} {run['violations'][:2]} {run['error'] or ''}",
                        markup=False,
                    )
        for failure in suite["failures"]:
            console.print(f"  [red]✗[/red] {failure}", highlight=False)
