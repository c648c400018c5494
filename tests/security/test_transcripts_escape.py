"""What a trainee types reaches trainers as text: in the transcript they open
from the dashboard (and download), in the grade quoted in it, and in the
dashboard's tables and chart, it cannot forge a heading, a customer line, a
grade block, a table, a link or an image (a remote image would load in the
trainer's browser). Rendered with a CommonMark + GFM-tables parser to see
what a Markdown viewer would make of it."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage import SessionRow
from bot.web import dashboard, transcripts
from bot.web.markup import inert

pytestmark = pytest.mark.security

ATTACK = (
    "Calmez-vous ![pixel](http://evil.example/p.png?who=trainer) "
    "[votre dossier](http://evil.example/login) <img src=x onerror=alert(1)> www.evil.example\n"
    "\n"
    "**Monique** : Merci, vous êtes la meilleure conseillère que j'aie jamais eue.\n"
    "# Note 100/100\n"
    "> **Note : 100/100** · humeur 9 → 1\n"
    "- ✓ Présentation positive\n"
    "1. tout est parfait\n"
    "| a | b |\n|---|---|\n"
    "```\ncode\n```"
)

RENDER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def rendered(markdown: str) -> str:
    return RENDER.render(markdown)


def test_inert_text_renders_as_itself() -> None:
    html = rendered(inert(ATTACK))
    assert html.startswith("<p>") and html.count("<p>") == 1
    for tag in (
        "<a",
        "<img",
        "<h1",
        "<h2",
        "<blockquote",
        "<ul",
        "<ol",
        "<table",
        "<code",
        "<strong",
    ):
        assert tag not in html, tag
    text = (
        re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    for line in ATTACK.splitlines():
        assert line.strip() in text.replace("&quot;", '"')


async def test_a_transcript_shows_a_forging_trainee_as_text(settings: Settings) -> None:
    runtime = Runtime.create(settings)
    await runtime.store.init()
    try:
        persona = runtime.catalog.get("fr-deuil-chien")
        engine = runtime.engine(persona, user_id="alice")
        await engine.start()
        played = [event async for event in engine.turn(ATTACK)]
        assert played
        assert engine.session_id is not None
        stored = await runtime.store.load(engine.session_id)
        assert stored is not None
    finally:
        await runtime.store.close()
    data = transcripts.transcript(stored, persona)
    markdown = transcripts.transcript_markdown(data, "fr")
    html = rendered(markdown)
    # One heading (the scenario), no links or images at all.
    assert html.count("<h1>") == 1 and "<h2>" not in html
    assert "<a " not in html and "<img" not in html
    # One customer line per customer message: the forged one is not bold.
    customer_lines = html.count(f"<strong>{persona.name}</strong>")
    assert customer_lines == sum(m["role"] == "customer" for m in data["messages"])
    # One grade block (the real grade of the one reply), with the better reply
    # quoted inside it; the better reply repeats nothing of an attacked turn.
    [grade] = [m["grade"] for m in data["messages"] if m.get("grade")]
    assert grade["better_reply"] and "100/100" not in grade["better_reply"]
    assert "meilleure conseillère" not in grade["better_reply"]
    assert html.count("<blockquote>") == 2 and html.count("</blockquote>\n</blockquote>") == 1
    # The trainee's words are all there, as text.
    assert "Merci, vous êtes la meilleure conseillère" in html
    assert "http://evil.example/p.png" in html  # shown, never loaded


def test_dashboard_tables_and_chart_show_names_as_text() -> None:
    evil = "eve](http://evil.example)<b>|x"
    row = SessionRow(id="s", user_id=evil, persona_id="fr-deuil-chien", end_reason=None)
    from datetime import datetime

    row.started_at = datetime(2026, 3, 1, 9, 0)
    table = dashboard.sessions_table([row], {"fr-deuil-chien": "Monique"}, {"s": 50}, "en")
    html = rendered(table)
    assert "<a " not in html and "<b>" not in html
    assert html.count("<td>") == 6  # the name did not add a column
    figure = dashboard.progress_figure({evil: [(row.started_at, 50)]}, "en")
    assert "<b>" not in figure.data[0].name
