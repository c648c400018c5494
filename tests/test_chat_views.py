"""`coach chat`'s views: one method per event type, reached through one dispatch."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel
from rich.console import Console

from bot.cli.chat_views import JsonView, TerminalView
from bot.grader import Grader
from bot.personas import cached_catalog
from bot.session import (
    CustomerChunk,
    CustomerSaid,
    Failure,
    GradeReady,
    MoodChanged,
    SessionStarted,
    TraineeSaid,
)
from bot.settings import Settings


def terminal(settings: Settings) -> tuple[TerminalView, Console]:
    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    persona = cached_catalog(settings.personas_dir).get("en-late-parcel")
    return TerminalView(console, persona), console


def test_a_streamed_line_that_the_guard_replaced_is_shown_again(settings: Settings) -> None:
    view, console = terminal(settings)
    for word in ("As ", "an ", "AI..."):
        view.show(CustomerChunk(text=word))
    view.show(CustomerSaid(turn=1, content="Where is my parcel?", status="replaced"))
    view.show(CustomerSaid(turn=2, content="Fine."))  # not streamed: printed whole
    assert console.export_text().splitlines() == [
        "customer> As an AI...",
        "customer> Where is my parcel? (replaced: the model stepped out of character)",
        "customer> Fine.",
    ]


def test_grade_mood_and_failure(settings: Settings) -> None:
    view, console = terminal(settings)
    grade = Grader(settings, None).grade_checks_only("Um, calm down.", "en")
    view.show(TraineeSaid(turn=1, content="Um, calm down.", message_id=1))  # typed: not repeated
    view.show(GradeReady(turn=1, grade=grade))
    view.show(
        MoodChanged(
            turn=1, before=6, after=8, delta=2, band="angry", label="hurt", reason="blocking"
        )
    )
    view.show(CustomerChunk(text="I want"))
    view.show(Failure(turn=2, where="customer", message="the model did not answer"))
    text = console.export_text()
    assert text.startswith(f"  grade {grade.score}/100 (automatic review only)")
    assert '   ✗ No fillers "Um"\n' in text and '   ✗ No blocking phrase "calm down"\n' in text
    assert "mood ████████·· 8/10 (hurt) +2: blocking" in text
    assert text.endswith("customer> I want\nthe model did not answer\n")


def test_json_lines_leave_out_the_streamed_chunks(capsys: pytest.CaptureFixture[str]) -> None:
    view = JsonView()
    view.echo_trainee("hello")
    view.show(CustomerChunk(text="Hel"))
    view.show(CustomerSaid(turn=1, content="Hello."))
    view.show(Failure(turn=1, where="grade", message="x"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["type"] for line in lines] == ["customer", "error"]
    assert lines[0]["content"] == "Hello."


def test_an_event_without_a_view_method_is_a_loud_bug() -> None:
    class Surprise(BaseModel):
        """An event type no view knows."""

    with pytest.raises(TypeError, match="no view method for Surprise"):
        JsonView().show(Surprise())


def test_the_mood_panel_names_and_colours_the_band_for_the_persona(settings: Settings) -> None:
    from bot.web.chat_view import mood_props

    catalog = cached_catalog(settings.personas_dir)
    grieving = mood_props(catalog.get("fr-deuil-chien"), 8, "fr", history=[7, 8])
    assert (grieving["label"], grieving["colour"]) == ("blessure", "#8250df")
    assert grieving["historyColours"] == ["#8250df", "#8250df"]
    angry = mood_props(catalog.get("fr-panne-entreprise"), 8, "en", history=[8, 6, 8])
    assert (angry["label"], angry["colour"]) == ("angry", "#cf222e")
    # Upset is not yet red: the history bars follow each mood's band.
    assert angry["historyColours"] == ["#cf222e", "#bc4c00", "#cf222e"]


def test_a_french_session_is_shown_in_french_and_typed_text_stays_text(
    settings: Settings,
) -> None:
    """Issue 13, item 6: no English around a French conversation; and what the
    trainee or a model wrote is never read as rich markup (trainee text is data)."""
    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    persona = cached_catalog(settings.personas_dir).get("fr-deuil-chien")
    view = TerminalView(console, persona)
    view.show(
        SessionStarted(
            session_id="s",
            persona=persona.id,
            language="fr",
            channel=persona.channel,
            backend="offline",
            mood=7,
            band="angry",
        )
    )
    typed = "[bold red]Calmez-vous[/bold red] madame"
    view.echo_trainee(typed)
    grade = Grader(settings, None).grade_checks_only(typed, "fr")
    view.show(GradeReady(turn=1, grade=grade))
    view.show(CustomerSaid(turn=1, content="[link=http://x]Quoi ?[/link]"))
    text = console.export_text()
    assert "téléphone" in text and "phone ·" not in text
    assert f"vous> {typed}" in text and "client> [link=http://x]Quoi ?[/link]" in text
    assert f"note {grade.score}/100" in text and "grade " not in text
    assert "Calmez-vous" in text and "[bold red]" in text  # shown as typed, not styled
