"""The trainer dashboard: what every trainee did and how they are progressing.

Two halves. The aggregation (which sessions count, each one's average score,
each trainee's scores over time and met rate per criterion) is plain
functions from stored rows to plain data, testable on a real database
without Chainlit. The rendering turns that data into the tables, chart and
button labels the handler sends. Trainee names are escaped where they go
into Markdown or a chart (an OAuth identity is not ours to trust).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from bot.i18n import Language, format_datetime, t
from bot.rubric import CRITERIA_BY_ID
from bot.storage import GradeRow, SessionRow, Store
from bot.web.chat_view import NONE
from bot.web.markup import inert, plain_label
from bot.web.transcripts import outcome_label

#: How many sessions get an "Open" button (the newest ones).
OPEN_LIMIT = 30


# --- aggregation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """How often a criterion was met or missed ("na" verdicts do not count)."""

    met: int = 0
    missed: int = 0

    @property
    def rate(self) -> int | None:
        """Percent met among the replies it was decided on; None if none."""
        decided = self.met + self.missed
        return round(100 * self.met / decided) if decided else None

    def add(self, verdict: str) -> Tally:
        return Tally(self.met + (verdict == "met"), self.missed + (verdict == "missed"))


@dataclass(frozen=True)
class Dashboard:
    #: Sessions with at least one graded reply, newest first (a scenario opened
    #: and left without a reply is noise here).
    sessions: list[SessionRow]
    #: Session id -> the average score of its scored replies (unscored ones,
    #: such as ungraded replies, are left out; a session with none has no entry).
    scores: dict[str, int]
    #: Trainee -> (session start, average score) for each scored session, oldest first.
    progress: dict[str, list[tuple[datetime, int]]]
    #: Trainee -> criterion id -> tally over all their graded replies.
    criteria: dict[str, dict[str, Tally]]


def trainee_of(row: SessionRow) -> str:
    return row.user_id or NONE


def replied_sessions(rows: Iterable[SessionRow], grades: Iterable[GradeRow]) -> list[SessionRow]:
    """The sessions (in the given order) that have at least one grade."""
    graded = {g.session_id for g in grades}
    return [r for r in rows if r.id in graded]


def session_scores(grades: Iterable[GradeRow]) -> dict[str, int]:
    by_session: dict[str, list[int]] = defaultdict(list)
    for g in grades:
        if g.score is not None:
            by_session[g.session_id].append(g.score)
    return {sid: round(sum(v) / len(v)) for sid, v in by_session.items()}


def score_progress(
    rows: Iterable[SessionRow], scores: Mapping[str, int]
) -> dict[str, list[tuple[datetime, int]]]:
    points: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.started_at):
        if row.id in scores:
            points[trainee_of(row)].append((row.started_at, scores[row.id]))
    return dict(points)


def _verdicts(grade: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(criterion, verdict) from a stored grade's JSON. Read leniently, not as a
    Grade: a grade stored under an older rubric must still count."""
    criteria = grade.get("criteria")
    if not isinstance(criteria, Mapping):
        return
    for cid, result in criteria.items():
        if isinstance(result, Mapping) and isinstance(result.get("verdict"), str):
            yield cid, result["verdict"]


def criterion_tallies(
    rows: Iterable[SessionRow], grades: Iterable[GradeRow]
) -> dict[str, dict[str, Tally]]:
    owner = {r.id: trainee_of(r) for r in rows}
    tallies: dict[str, dict[str, Tally]] = defaultdict(dict)
    for g in grades:
        if g.session_id not in owner:
            continue
        counts = tallies[owner[g.session_id]]
        for cid, verdict in _verdicts(g.grade):
            counts[cid] = counts.get(cid, Tally()).add(verdict)
    return dict(tallies)


def summarize(rows: Sequence[SessionRow], grades: Sequence[GradeRow]) -> Dashboard:
    """The dashboard's data from every session (newest first) and their grades."""
    sessions = replied_sessions(rows, grades)
    scores = session_scores(grades)
    return Dashboard(
        sessions=sessions,
        scores=scores,
        progress=score_progress(sessions, scores),
        criteria=criterion_tallies(sessions, grades),
    )


async def load_dashboard(store: Store) -> Dashboard:
    rows = await store.list_sessions()
    grades = await store.grades_for_sessions([r.id for r in rows])
    return summarize(rows, grades)


# --- rendering ------------------------------------------------------------------------------


def sessions_table(
    rows: Sequence[SessionRow], names: Mapping[str, str], scores: Mapping[str, int], lang: Language
) -> str:
    if not rows:
        return t("dashboard.no_sessions", lang)
    headers = ("trainee", "scenario", "date", "average", "status")
    lines = [
        "| " + " | ".join(t(f"dashboard.{h}", lang) for h in headers) + " |",
        "|---" * len(headers) + "|",
    ]
    for row in rows:
        score = scores.get(row.id)
        status = outcome_label(row.end_reason, lang) or t("dashboard.active", lang)
        lines.append(
            f"| {inert(trainee_of(row))} | {names.get(row.persona_id, row.persona_id)} | "
            f"{format_datetime(row.started_at, lang)} | "
            f"{NONE if score is None else score} | {status} |"
        )
    return "\n".join(lines)


def criteria_table(criteria: Mapping[str, Mapping[str, Tally]], lang: Language) -> str:
    """Met rate per criterion (rows, in rubric order) and trainee (columns)."""
    if not criteria:
        return ""
    trainees = sorted(criteria)
    lines = [
        f"| {t('dashboard.criterion', lang)} | " + " | ".join(map(inert, trainees)) + " |",
        "|---|" + "---|" * len(trainees),
    ]
    for cid, criterion in CRITERIA_BY_ID.items():
        rates = [criteria[trainee].get(cid, Tally()).rate for trainee in trainees]
        if any(rate is not None for rate in rates):
            cells = [NONE if rate is None else f"{rate}%" for rate in rates]
            lines.append(f"| {criterion.label[lang]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def dashboard_markdown(data: Dashboard, names: Mapping[str, str], lang: Language) -> str:
    progress = criteria_table(data.criteria, lang)
    parts = [
        f"## {t('dashboard.title', lang)}",
        f"### {t('dashboard.sessions', lang)}",
        sessions_table(data.sessions, names, data.scores, lang),
        f"### {t('dashboard.progress', lang)}" if data.progress or progress else "",
        progress,
    ]
    return "\n\n".join(p for p in parts if p)


def progress_figure(
    progress: Mapping[str, Sequence[tuple[datetime, int]]], lang: Language
) -> go.Figure:
    """Average score per session over time, one line per trainee."""
    figure = go.Figure()
    for trainee, series in sorted(progress.items()):
        figure.add_trace(
            go.Scatter(
                x=[when.isoformat(timespec="minutes") for when, _ in series],
                y=[score for _, score in series],
                mode="lines+markers",
                name=plain_label(trainee),
            )
        )
    figure.update_layout(
        margin={"l": 40, "r": 20, "t": 30, "b": 40},
        height=320,
        yaxis={"title": t("dashboard.average", lang), "range": [0, 100]},
        legend={"orientation": "h", "y": 1.15},
    )
    return figure


def open_label(row: SessionRow, names: Mapping[str, str], lang: Language) -> str:
    """The label of the button that opens a session's transcript."""
    return t(
        "dashboard.open",
        lang,
        trainee=trainee_of(row),
        scenario=names.get(row.persona_id, row.persona_id),
        date=format_datetime(row.started_at, lang, "short"),
    )
