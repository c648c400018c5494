"""The trainer dashboard: what every trainee did and how they are progressing.

Two halves. The aggregation (the filters, which sessions count, each one's
average score and hints, each trainee's scores over time and met rate per
criterion from their first session to their latest, the criteria the whole
group misses most, the corrections of the grader) is plain functions from
stored rows to plain data, testable on a real database without Chainlit.
The rendering turns that data into the tables, chart, button labels and
export files (CSV, Markdown) the handler sends. Trainee names, and what
trainers wrote in corrections, are escaped where they go into Markdown or a
chart (an OAuth identity is not ours to trust), and cells that a spreadsheet
would run as a formula are made plain text in the CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import plotly.graph_objects as go
from chainlit.input_widget import InputWidget, Select, TextInput

from bot.errors import CoachError
from bot.i18n import LANGUAGES, Language, date_ticks, format_date, format_datetime, t
from bot.rubric import CRITERIA_BY_ID
from bot.storage import CorrectionRow, GradeRow, HintRow, SessionRow, Store
from bot.web.chat_view import NONE
from bot.web.markup import inert, plain_label
from bot.web.transcripts import outcome_label, verdict_label

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


class FilterError(CoachError):
    """A dashboard filter that cannot be read; ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filters:
    """Which sessions the dashboard counts; None: any."""

    trainee: str | None = None
    scenario: str | None = None
    language: str | None = None
    #: Sessions started on or after this day, and on or before that one.
    since: date | None = None
    until: date | None = None

    def keep(self, row: SessionRow) -> bool:
        day = row.started_at.date()
        return (
            (self.trainee is None or trainee_of(row) == self.trainee)
            and (self.scenario is None or row.persona_id == self.scenario)
            and (self.language is None or row.language == self.language)
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
        )

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (self.trainee, self.scenario, self.language, self.since, self.until)
        )


#: The value of a filter's "any" choice.
ANY = "*"


def _day(value: Any, name: str) -> date | None:
    """A day from a date picker or a typed date: ``YYYY-MM-DD`` (a datetime's
    date part is enough); empty is no filter."""
    if value is None or value == "" or value == ANY:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a date: the error below names it
            return date.fromisoformat(value.strip()[:10])
    raise FilterError(f"{name}: not a date; write it as YYYY-MM-DD", name)


def parse_filters(values: Mapping[str, Any]) -> Filters:
    """The filters from the settings panel (or any mapping), every field checked."""

    def choice(name: str, allowed: Iterable[str] | None = None) -> str | None:
        value = values.get(name)
        if value is None or value == "" or value == ANY:
            return None
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise FilterError(f"{name}: not one of the choices", name)
        return value

    filters = Filters(
        trainee=choice("trainee"),
        scenario=choice("scenario"),
        language=choice("language", LANGUAGES),
        since=_day(values.get("since"), "since"),
        until=_day(values.get("until"), "until"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise FilterError("since: after 'until'; swap the two dates", "order")
    return filters


@dataclass(frozen=True)
class CohortRow:
    """A criterion over the whole group: its tally, and how many trainees miss
    it more often than they meet it."""

    criterion: str
    tally: Tally
    struggling: int
    trainees: int


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
    #: Trainee -> criterion id -> (met rate in the first session that decided
    #: it, met rate in the latest one): where they started, where they are.
    criterion_progress: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    #: The criteria the group misses most first.
    cohort: list[CohortRow] = field(default_factory=list)
    #: Session id -> hints asked for.
    hints: dict[str, int] = field(default_factory=dict)
    #: The corrections of the grader on these sessions, newest first.
    corrections: list[CorrectionRow] = field(default_factory=list)
    filters: Filters = field(default_factory=Filters)
    #: The grades of these sessions (for the exports).
    grade_rows: list[GradeRow] = field(default_factory=list)
    #: Every trainee, scenario (persona id) and language with a replied
    #: session, whatever the filters: the filters' choices.
    choices: dict[str, list[str]] = field(default_factory=dict)


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


def criterion_progress(
    rows: Iterable[SessionRow], grades: Iterable[GradeRow]
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per trainee and criterion: the met rate in the first session that
    decided it and in the latest one (the same session when only one did)."""
    per_session: dict[str, dict[str, Tally]] = defaultdict(dict)
    for g in grades:
        counts = per_session[g.session_id]
        for cid, verdict in _verdicts(g.grade):
            counts[cid] = counts.get(cid, Tally()).add(verdict)
    progress: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    firsts: dict[tuple[str, str], int] = {}
    for row in sorted(rows, key=lambda r: r.started_at):
        trainee = trainee_of(row)
        for cid, tally in per_session.get(row.id, {}).items():
            rate = tally.rate
            if rate is None:
                continue
            first = firsts.setdefault((trainee, cid), rate)
            progress[trainee][cid] = (first, rate)
    return dict(progress)


def cohort(criteria: Mapping[str, Mapping[str, Tally]]) -> list[CohortRow]:
    """The criteria over the whole group, the most missed (lowest met rate) first."""
    rows = []
    for cid in CRITERIA_BY_ID:
        per_trainee = [counts[cid] for counts in criteria.values() if cid in counts]
        total = Tally()
        for tally in per_trainee:
            total = Tally(total.met + tally.met, total.missed + tally.missed)
        if total.rate is None:
            continue
        struggling = sum(1 for tally in per_trainee if tally.missed > tally.met)
        decided = sum(1 for tally in per_trainee if tally.rate is not None)
        rows.append(CohortRow(cid, total, struggling, decided))
    return sorted(rows, key=lambda r: (r.tally.rate or 0, -r.tally.missed, r.criterion))


def summarize(
    rows: Sequence[SessionRow],
    grades: Sequence[GradeRow],
    *,
    hints: Iterable[HintRow] = (),
    corrections: Iterable[CorrectionRow] = (),
    filters: Filters | None = None,
) -> Dashboard:
    """The dashboard's data from every session (newest first), their grades,
    hints and corrections, counting only the sessions ``filters`` keep."""
    filters = filters or Filters()
    replied = replied_sessions(rows, grades)
    sessions = [r for r in replied if filters.keep(r)]
    kept = {r.id for r in sessions}
    grades = [g for g in grades if g.session_id in kept]
    scores = session_scores(grades)
    criteria = criterion_tallies(sessions, grades)
    counted: dict[str, int] = defaultdict(int)
    for hint in hints:
        if hint.session_id in kept:
            counted[hint.session_id] += 1
    return Dashboard(
        sessions=sessions,
        scores=scores,
        progress=score_progress(sessions, scores),
        criteria=criteria,
        criterion_progress=criterion_progress(sessions, grades),
        cohort=cohort(criteria),
        hints=dict(counted),
        corrections=sorted((c for c in corrections if c.session_id in kept), key=lambda c: -c.id),
        filters=filters,
        grade_rows=grades,
        choices={
            "trainee": sorted({trainee_of(r) for r in replied}),
            "scenario": sorted({r.persona_id for r in replied}),
            "language": sorted({r.language for r in replied}),
        },
    )


async def load_dashboard(store: Store, filters: Filters | None = None) -> Dashboard:
    rows = await store.list_sessions()
    ids = [r.id for r in rows]
    grades = await store.grades_for_sessions(ids)
    hints = await store.hints_for_sessions(ids)
    corrections = await store.corrections()
    return summarize(rows, grades, hints=hints, corrections=corrections, filters=filters)


# --- rendering ------------------------------------------------------------------------------


def sessions_table(
    rows: Sequence[SessionRow],
    names: Mapping[str, str],
    scores: Mapping[str, int],
    lang: Language,
    hints: Mapping[str, int] | None = None,
) -> str:
    if not rows:
        return t("dashboard.no_sessions", lang)
    headers = [
        t(f"dashboard.{h}", lang) for h in ("trainee", "scenario", "date", "average", "status")
    ]
    headers.append(t("board.hints", lang))
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---" * len(headers) + "|",
    ]
    for row in rows:
        score = scores.get(row.id)
        status = outcome_label(row.end_reason, lang) or t("dashboard.active", lang)
        lines.append(
            f"| {inert(trainee_of(row))} | {names.get(row.persona_id, row.persona_id)} | "
            f"{format_datetime(row.started_at, lang)} | "
            f"{NONE if score is None else score} | {status} | {(hints or {}).get(row.id, 0)} |"
        )
    return "\n".join(lines)


def criteria_table(
    criteria: Mapping[str, Mapping[str, Tally]],
    lang: Language,
    progress: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
) -> str:
    """Met rate per criterion (rows, in rubric order) and trainee (columns);
    with ``progress``, where it started and where it is when that differs
    (first session → latest)."""
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
            cells = []
            for trainee, rate in zip(trainees, rates, strict=True):
                cell = NONE if rate is None else f"{rate}%"
                first, last = (progress or {}).get(trainee, {}).get(cid, (None, None))
                if rate is not None and first is not None and first != last:
                    cell += f" ({first}% → {last}%)"
                cells.append(cell)
            lines.append(f"| {criterion.label[lang]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cohort_table(rows: Sequence[CohortRow], lang: Language) -> str:
    """The criteria the group misses most, first."""
    if not rows:
        return ""
    headers = [t(f"board.cohort_{h}", lang) for h in ("criterion", "rate", "missed", "struggling")]
    lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for row in rows:
        label = CRITERIA_BY_ID[row.criterion].label[lang]
        lines.append(
            f"| {label} | {row.tally.rate}% | {row.tally.missed}/{row.tally.met + row.tally.missed}"
            f" | {row.struggling}/{row.trainees} |"
        )
    return "\n".join(lines)


def corrections_table(
    corrections: Sequence[CorrectionRow],
    sessions: Mapping[str, SessionRow],
    lang: Language,
) -> str:
    """The corrections of the grader, newest first; what trainers wrote is data."""
    if not corrections:
        return t("corrections.none", lang)
    keys = ("date", "trainer", "trainee", "reply", "criterion", "change", "comment")
    lines = [
        "| " + " | ".join(t(f"corrections.headers.{k}", lang) for k in keys) + " |",
        "|---" * len(keys) + "|",
    ]
    for c in corrections:
        row = sessions.get(c.session_id)
        criterion = CRITERIA_BY_ID.get(c.criterion)
        change = f"{verdict_label(c.old_verdict, lang)} → {verdict_label(c.new_verdict, lang)}"
        lines.append(
            f"| {format_datetime(c.created_at, lang)} | {inert(c.trainer)} | "
            f"{inert(trainee_of(row)) if row else NONE} | {c.turn} | "
            f"{criterion.label[lang] if criterion else inert(c.criterion)} | {change} | "
            f"{inert(' '.join(c.comment.split()))} |"
        )
    return "\n".join(lines)


def filters_line(filters: Filters, names: Mapping[str, str], lang: Language) -> str:
    """The filters in force, in a line (empty when none is)."""
    if not filters.active:
        return ""
    parts = []
    if filters.trainee is not None:
        parts.append(t("board.filter_trainee", lang, value=inert(filters.trainee)))
    if filters.scenario is not None:
        name = names.get(filters.scenario, filters.scenario)
        parts.append(t("board.filter_scenario", lang, value=inert(name)))
    if filters.language is not None:
        parts.append(
            t("board.filter_language", lang, value=t(f"board.language.{filters.language}", lang))
        )
    if filters.since is not None:
        parts.append(t("board.filter_since", lang, value=format_date(filters.since, lang)))
    if filters.until is not None:
        parts.append(t("board.filter_until", lang, value=format_date(filters.until, lang)))
    return t("board.filtered", lang, filters=" · ".join(parts))


def dashboard_markdown(data: Dashboard, names: Mapping[str, str], lang: Language) -> str:
    progress = criteria_table(data.criteria, lang, data.criterion_progress)
    cohort_part = cohort_table(data.cohort, lang)
    by_id = {row.id: row for row in data.sessions}
    parts = [
        f"## {t('dashboard.title', lang)}",
        filters_line(data.filters, names, lang),
        f"### {t('dashboard.sessions', lang)}",
        sessions_table(data.sessions, names, data.scores, lang, data.hints),
        f"### {t('dashboard.progress', lang)}" if data.progress or progress else "",
        progress,
        f"### {t('board.cohort', lang)}" if cohort_part else "",
        cohort_part,
        f"### {t('corrections.listed', lang)}",
        corrections_table(data.corrections, by_id, lang),
    ]
    return "\n\n".join(p for p in parts if p)


def filter_widgets(data: Dashboard, names: Mapping[str, str], lang: Language) -> list[InputWidget]:
    """The filters in Chainlit's settings panel, set to the ones in force."""
    every = t("board.any", lang)
    f = data.filters

    def select(name: str, items: dict[str, str], value: str | None) -> Select:
        # Labels are the keys: a trainee's name is shown as text by the panel.
        return Select(
            id=name,
            label=t(f"board.settings_{name}", lang),
            items={every: ANY, **items},
            initial_value=value or ANY,
        )

    scenarios = {names.get(pid, pid): pid for pid in data.choices.get("scenario", [])}
    languages = {
        t(f"board.language.{code}", lang): code for code in data.choices.get("language", [])
    }
    return [
        select("trainee", {name: name for name in data.choices.get("trainee", [])}, f.trainee),
        select("scenario", scenarios, f.scenario),
        select("language", languages, f.language),
        TextInput(
            id="since",
            label=t("board.settings_since", lang),
            initial=f.since.isoformat() if f.since else "",
            placeholder="2026-01-31",
        ),
        TextInput(
            id="until",
            label=t("board.settings_until", lang),
            initial=f.until.isoformat() if f.until else "",
            placeholder="2026-12-31",
        ),
    ]


def filter_refusal(exc: FilterError, lang: Language) -> str:
    field = "since" if exc.field == "order" else exc.field
    problem = {"order": "bad_order", "since": "bad_date", "until": "bad_date"}.get(
        exc.field, "bad_choice"
    )
    label = t(f"board.settings_{field}", lang) if field in _FIELDS else field
    return t("board.bad_filter", lang, field=label, problem=t(f"board.{problem}", lang))


_FIELDS = ("trainee", "scenario", "language", "since", "until")


def export_stem(when: datetime) -> str:
    return f"dashboard-{when:%Y%m%d-%H%M}"


# --- exports ----------------------------------------------------------------------------------

#: What a spreadsheet would read as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A name like "=HYPERLINK(...)" is a trainee's text, not a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text


def _rate_cell(tally: Tally | None) -> int | str:
    rate = tally.rate if tally is not None else None
    return "" if rate is None else rate


def sessions_csv(data: Dashboard, names: Mapping[str, str]) -> str:
    """One row per session the filters keep: its outcome, score, hints and
    met rate per criterion (columns by criterion id, so a script can read it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    per_session: dict[str, dict[str, Tally]] = defaultdict(dict)
    for g in data.grade_rows:
        counts = per_session[g.session_id]
        for cid, verdict in _verdicts(g.grade):
            counts[cid] = counts.get(cid, Tally()).add(verdict)
    criteria = list(CRITERIA_BY_ID)
    writer.writerow(
        [
            "session",
            "trainee",
            "persona",
            "scenario",
            "language",
            "started_at",
            "ended_at",
            "outcome",
            "replies",
            "average_score",
            "hints_used",
            "corrections",
            *(f"{cid}_met_rate" for cid in criteria),
        ]
    )
    corrected: dict[str, int] = defaultdict(int)
    for c in data.corrections:
        corrected[c.session_id] += 1
    replies: dict[str, int] = defaultdict(int)
    for g in data.grade_rows:
        replies[g.session_id] += 1
    for row in data.sessions:
        rates = per_session.get(row.id, {})
        writer.writerow(
            _cell(v)
            for v in (
                row.id,
                trainee_of(row),
                row.persona_id,
                names.get(row.persona_id, row.persona_id),
                row.language,
                row.started_at.isoformat(timespec="seconds"),
                row.ended_at.isoformat(timespec="seconds") if row.ended_at else "",
                row.end_reason or "",
                replies[row.id],
                data.scores.get(row.id, ""),
                data.hints.get(row.id, 0),
                corrected[row.id],
                *(_rate_cell(rates.get(cid)) for cid in criteria),
            )
        )
    return out.getvalue()


def export_markdown(
    data: Dashboard,
    names: Mapping[str, str],
    debriefs: Mapping[str, str],
    lang: Language,
) -> str:
    """The dashboard as a document: its tables, then each session's outcome,
    hints and debrief (``debriefs``: session id -> its debrief in Markdown)."""
    parts = [dashboard_markdown(data, names, lang), f"## {t('board.debriefs', lang)}"]
    for row in data.sessions:
        status = outcome_label(row.end_reason, lang) or t("dashboard.active", lang)
        heading = t(
            "board.session_heading",
            lang,
            trainee=inert(trainee_of(row)),
            scenario=names.get(row.persona_id, row.persona_id),
            date=format_datetime(row.started_at, lang),
        )
        hints = t("board.session_hints", lang, count=data.hints.get(row.id, 0))
        parts.append(f"### {heading}\n\n{status} · {hints}")
        if row.id in debriefs:
            # The debrief's own headings, one level down.
            parts.append(debriefs[row.id].replace("\n### ", "\n##### ").replace("## ", "#### ", 1))
    return "\n\n".join(p for p in parts if p) + "\n"


def progress_figure(
    progress: Mapping[str, Sequence[tuple[datetime, int]]], lang: Language
) -> go.Figure:
    """Average score per session over time, one line per trainee."""
    figure = go.Figure()
    for trainee, series in sorted(progress.items()):
        figure.add_trace(
            go.Scatter(
                x=[when for when, _ in series],
                y=[score for _, score in series],
                # Plotly writes dates in US English: the hover and axis say them in lang.
                customdata=[format_datetime(when, lang) for when, _ in series],
                hovertemplate="%{customdata} · %{y}<extra>%{fullData.name}</extra>",
                mode="lines+markers",
                name=plain_label(trainee),
            )
        )
    figure.update_layout(
        margin={"l": 40, "r": 20, "t": 30, "b": 40},
        height=320,
        yaxis={"title": t("dashboard.average", lang), "range": [0, 100]},
        xaxis=date_ticks([when for series in progress.values() for when, _ in series], lang),
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
