"""The end-of-session debrief as the web app shows it: markdown and a chart.

The debrief itself (what went well, what to improve) is computed in
bot.debrief; this only lays it out in the UI language.
"""

from __future__ import annotations

import plotly.graph_objects as go

from bot.debrief import Debrief, goal_line, hints_line, strength_text
from bot.i18n import Language, format_number, t
from bot.mood import MOOD_MAX
from bot.rubric import CRITERIA_BY_ID
from bot.web.chat_view import NONE
from bot.web.markup import inert


def debrief_markdown(debrief: Debrief, lang: Language, *, downloads: bool = True) -> str:
    """The debrief; ``downloads``: say the transcript files follow (in the chat)."""
    mean = debrief.average_score
    average = NONE if mean is None else f"{format_number(mean, lang)}/100"
    moods = " → ".join(map(str, debrief.mood_trajectory))
    lines = [
        f"## {t('debrief.title', lang)}",
        "",
        # The outcome in the UI language, like everything around it.
        t("debrief.outcome", lang, outcome=t(f"outcome.{debrief.outcome}", lang)),
        t("debrief.summary", lang, average=average, turns=debrief.turns, moods=moods),
        hints_line(debrief.hints, lang),
        "",
    ]
    if debrief.goals:
        met, total = debrief.goals_met, len(debrief.goals)
        lines += [f"### {t('debrief.goals', lang)}", ""]
        lines += [t("debrief.goals_reached", lang, met=met, total=total), ""]
        lines += [f"- {goal_line(g, lang, inert(g.label))}" for g in debrief.goals]
        lines.append("")
    if debrief.retries:
        lines += [f"### {t('debrief.retries', lang)}", ""]
        for retry in debrief.retries:
            score = NONE if retry.score is None else f"{retry.score}/100"
            quote = inert(retry.text)
            line = t("debrief.retry_line", lang, turn=retry.turn, score=score, quote=quote)
            lines.append(f"- {line}")
        lines.append("")
    if debrief.strengths:
        lines += [f"### {t('debrief.strengths', lang)}", ""]
        lines += [f"- {strength_text(s.criterion, s.turns, lang)}" for s in debrief.strengths]
        lines.append("")
    if debrief.improvements:
        lines += [f"### {t('debrief.improve', lang)}", ""]
        for n, item in enumerate(debrief.improvements, start=1):
            criterion = CRITERIA_BY_ID[item.criterion]
            improvement = t(
                "debrief.improvement", lang, label=criterion.label[lang], tip=criterion.tip[lang]
            )
            lines.append(f"{n}. {improvement}")
            quote = inert(item.quote)  # the trainee's words, shown as typed
            lines.append(f"   - {t('debrief.you_said', lang, turn=item.turn, quote=quote)}")
            if item.better_reply:
                reply = inert(item.better_reply)
                lines.append(f"   - {t('debrief.better', lang, reply=reply)}")
        lines.append("")
    if debrief.criteria:
        lines += [
            f"### {t('debrief.per_criterion', lang)}",
            "",
            f"| {t('debrief.criterion', lang)} | ✓ | ✗ |",
            "|---|---|---|",
        ]
        lines += [
            f"| {CRITERIA_BY_ID[c.criterion].label[lang]} | {c.met} | {c.missed} |"
            for c in debrief.criteria
        ]
        lines.append("")
    if downloads:
        lines.append(t("debrief.downloads", lang))
    return "\n".join(lines).rstrip("\n")


def debrief_figure(debrief: Debrief, lang: Language) -> go.Figure:
    """The mood after each reply (a line) over each reply's score (bars)."""
    turns = list(range(0, len(debrief.mood_trajectory)))
    score, mood, turn = (
        t(k, lang) for k in ("debrief.score_axis", "mood.axis", "debrief.turn_axis")
    )
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=turns[1:],
            y=[s if s is not None else 0 for s in debrief.scores],
            name=score,
            marker_color="#6e7781",
            opacity=0.5,
            yaxis="y2",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=turns,
            y=debrief.mood_trajectory,
            name=mood,
            mode="lines+markers",
            line={"color": "#cf222e", "width": 3},
        )
    )
    figure.update_layout(
        margin={"l": 40, "r": 40, "t": 30, "b": 40},
        height=320,
        legend={"orientation": "h", "y": 1.15},
        xaxis={"title": turn, "dtick": 1},
        yaxis={"title": mood, "range": [0, MOOD_MAX]},
        yaxis2={"title": score, "range": [0, 100], "overlaying": "y", "side": "right"},
    )
    return figure
