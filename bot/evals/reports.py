"""Eval reports: JSON for machines, Markdown and HTML for people, JUnit XML for CI."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from bot.evals.metrics import VERDICTS
from bot.rubric import CRITERION_IDS

FORMATS = ("json", "md", "html", "junit")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def grader_rows(metrics: dict[str, Any], only: Sequence[str] = CRITERION_IDS) -> list[list[str]]:
    """One row per labelled criterion: accuracy, kappa, missed P/R and n per language."""
    languages = [k for k in metrics if k != "all"]
    rows = []
    for cid in CRITERION_IDS:
        if cid not in only or cid not in metrics["all"]["criteria"]:
            continue
        row = [cid]
        for language in languages:
            m = metrics[language]["criteria"].get(cid)
            if m is None:
                row += ["–"] * 4
                continue
            row += [
                _pct(m["accuracy"]),
                _pct(m["kappa"]),
                _pct(m["precision"]["missed"]),
                _pct(m["recall"]["missed"]),
            ]
        row.append(str(metrics["all"]["criteria"][cid]["n"]))
        rows.append(row)
    return rows


def grader_header(metrics: dict[str, Any]) -> list[str]:
    header = ["criterion"]
    for language in (k for k in metrics if k != "all"):
        header += [
            f"{language} acc",
            f"{language} κ",
            f"{language} P(missed)",
            f"{language} R(missed)",
        ]
    return [*header, "n"]


def pooled_confusion(metrics: dict[str, Any], language: str) -> dict[str, dict[str, int]]:
    table = {e: dict.fromkeys(VERDICTS, 0) for e in VERDICTS}
    for summary in metrics[language]["criteria"].values():
        for expected, row in summary["confusion"].items():
            for predicted, count in row.items():
                table[expected][predicted] += count
    return table


def flip_line(metrics: dict[str, Any]) -> str:
    """The per-criterion flip rates of a --repeat run, the ones that flipped first."""
    rates = metrics.get("flip_rate_by_criterion", {})
    flipped = sorted(((r, c) for c, r in rates.items() if r), reverse=True)
    if not flipped:
        return "flip rate per criterion: no verdict changed between repeats"
    listed = ", ".join(f"{c} {r}" for r, c in flipped)
    return f"flip rate per criterion (share of cases whose verdict changed): {listed}"


def to_markdown(report: dict[str, Any]) -> str:
    meta = report["metadata"]
    lines = [
        "# Eval report",
        "",
        f"- result: **{'passed' if report['passed'] else 'FAILED'}**",
        f"- when: {meta['timestamp']}; commit: {meta.get('commit') or 'unknown'}",
        f"- prompts: {', '.join(f'{k} {v}' for k, v in meta['prompts'].items())}",
        f"- datasets: {', '.join(f'{k} {v}' for k, v in meta['datasets'].items())}",
        "",
    ]
    for name, suite in report["suites"].items():
        lines += [f"## {name} ({suite['mode']})", "", f"Backend: {suite.get('backend', '–')}", ""]
        if suite["failures"]:
            lines += ["Failures:", ""] + [f"- {f}" for f in suite["failures"]] + [""]
        else:
            lines += ["All thresholds met." if suite.get("pinned") else "Not pinned.", ""]
        if suite["kind"] == "grader":
            metrics = suite["metrics"]
            header = grader_header(metrics)
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(row) + " |" for row in grader_rows(metrics)]
            lines.append("")
            for language in (k for k in metrics if k != "all"):
                m = metrics[language]
                lines += [
                    f"**{language}**: {m['cases']} cases, accuracy {_pct(m['accuracy'])}, "
                    f"κ {_pct(m['kappa'])}, score error {m['score_mae']}, "
                    f"ungraded {m['ungraded']}, flip rate {m['flip_rate']}",
                    "",
                ]
                if meta.get("repeat", 1) > 1:
                    lines += [f"**{language}**: {flip_line(m)}", ""]
                confusion = pooled_confusion(metrics, language)
                lines += [
                    "| expected \\ predicted | " + " | ".join(VERDICTS) + " |",
                    "|---|---|---|---|",
                ]
                lines += [
                    f"| {e} | " + " | ".join(str(confusion[e][p]) for p in VERDICTS) + " |"
                    for e in VERDICTS
                ]
                lines.append("")
            if suite.get("flips"):
                lines += ["Flips against the last accepted run:", ""]
                lines += [
                    f"- {f['case']} {f['criterion']}: {f['was']} → {f['now']} "
                    f"(expected {f['expected']})"
                    for f in suite["flips"]
                ]
                lines.append("")
            wrong = [c for c in suite["cases"] if c["wrong"]]
            if wrong:
                lines += [
                    f"<details><summary>{len(wrong)} cases with a wrong verdict</summary>",
                    "",
                ]
                for case in wrong:
                    for w in case["wrong"]:
                        lines.append(
                            f"- {case['id']} `{w['criterion']}`: expected "
                            f"{w['expected']}, got {w['predicted']}"
                            + (f' ("{w["evidence"]}")' if w["evidence"] else "")
                        )
                lines += ["", "</details>", ""]
        else:
            m = suite["metrics"]
            lines += [
                f"{m['passed']}/{m['runs']} runs passed; mood direction "
                f"{_pct(m['mood_direction'])}; lines that broke character {m['violations']}; "
                f"replaced by the guard {m['guarded']}",
                "",
                "| persona | script | moods | end | violations |",
                "|---|---|---|---|---|",
            ]
            for run in suite["runs"]:
                lines.append(
                    f"| {run['persona']} | {run['script']} | "
                    f"{' → '.join(map(str, run['moods']))} | {run['end'] or '–'} | "
                    f"{len(run['violations'])} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"


def to_html(report: dict[str, Any]) -> str:
    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!doctype html><meta charset='utf-8'><title>Eval report</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
        "padding:.25rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".ok{color:#1a7f37}.bad{color:#cf222e}</style>",
        f"<h1>Eval report: <span class='{'ok' if report['passed'] else 'bad'}'>"
        f"{'passed' if report['passed'] else 'FAILED'}</span></h1>",
        f"<p>{html.escape(report['metadata']['timestamp'])} · commit "
        f"{html.escape(str(report['metadata'].get('commit') or 'unknown'))}</p>",
    ]
    for name, suite in report["suites"].items():
        parts.append(f"<h2>{html.escape(name)} ({html.escape(suite['mode'])})</h2>")
        parts.append(f"<p>Backend: {html.escape(str(suite.get('backend', '–')))}</p>")
        if suite["failures"]:
            parts.append(
                "<ul class='bad'>"
                + "".join(f"<li>{html.escape(f)}</li>" for f in suite["failures"])
                + "</ul>"
            )
        if suite["kind"] == "grader":
            metrics = suite["metrics"]
            parts.append(table(grader_header(metrics), grader_rows(metrics)))
            for language in (k for k in metrics if k != "all"):
                confusion = pooled_confusion(metrics, language)
                parts.append(
                    f"<h3>Confusion matrix, {html.escape(language)} "
                    "(rows expected, columns predicted)</h3>"
                )
                parts.append(
                    table(
                        ["", *VERDICTS],
                        [[e, *(str(confusion[e][p]) for p in VERDICTS)] for e in VERDICTS],
                    )
                )
        else:
            parts.append(
                table(
                    ["persona", "script", "moods", "end", "violations"],
                    [
                        [
                            r["persona"],
                            r["script"],
                            " → ".join(map(str, r["moods"])),
                            r["end"] or "–",
                            str(len(r["violations"])),
                        ]
                        for r in suite["runs"]
                    ],
                )
            )
    return "\n".join(parts) + "\n"


def to_junit(report: dict[str, Any]) -> str:
    root = ET.Element("testsuites", name="coach eval")
    for name, suite in report["suites"].items():
        cases: list[tuple[str, str | None]] = []
        if suite["kind"] == "grader":
            for check in suite.get("checks", []):
                failed = [f for f in suite["failures"] if f.startswith(check + ":")]
                cases.append((check, "; ".join(failed) or None))
            others = [
                f
                for f in suite["failures"]
                if not any(f.startswith(c + ":") for c in suite.get("checks", []))
            ]
            cases.append(("suite", "; ".join(others) or None))
        else:
            for run in suite["runs"]:
                problem = None
                if not run["passed"]:
                    problem = run["error"] or (
                        "mood went the wrong way"
                        if not run["mood_ok"]
                        else "; ".join(f"{v['kind']}: {v['matched']}" for v in run["violations"])
                    )
                cases.append((f"{run['persona']}.{run['script']}", problem))
        element = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(sum(1 for _, p in cases if p)),
        )
        for case_name, problem in cases:
            case = ET.SubElement(element, "testcase", classname=name, name=case_name)
            if problem:
                ET.SubElement(case, "failure", message=problem[:500]).text = problem
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def summary_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report as ``coach eval --json`` prints it.

    The whole report, plus the first grader suite's metrics at the top level
    under ``metrics``: a run on the user's own case files has one grader
    suite, and a script then reads ``["metrics"]`` without knowing its name.
    """
    summary = dict(report)
    grader = next((s for s in report["suites"].values() if s["kind"] == "grader"), None)
    if grader is not None:
        summary["metrics"] = grader["metrics"]
    return summary


def write_reports(
    report: dict[str, Any], directory: Path, formats: tuple[str, ...] = FORMATS
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)

    def to_json(r: dict[str, Any]) -> str:
        return json.dumps(r, indent=1, ensure_ascii=False) + "\n"

    writers: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
        "json": ("report.json", to_json),
        "md": ("report.md", to_markdown),
        "html": ("report.html", to_html),
        "junit": ("junit.xml", to_junit),
    }
    written = []
    for fmt in formats:
        filename, render = writers[fmt]
        path = directory / filename
        path.write_text(render(report), encoding="utf-8")
        written.append(path)
    return written
