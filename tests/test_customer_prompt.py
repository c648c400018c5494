"""The LLM customer's prompt, laid out for providers' prompt caching.

The system prompt (persona, mood scale, rules) is the same bytes for every
turn of a session; what changes turn to turn (the mood, what the trainee just
did, trimmed messages) is a note after the history, as the last message.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from bot.evals.persona_suite import load_scripts
from bot.grader import Grader
from bot.personas import Persona, load_catalog
from bot.session import SessionEngine
from bot.settings import Settings
from bot.simulator import LLMCustomer
from bot.storage import Store
from tests.conftest import fake_chat

ROOT = Path(__file__).resolve().parent.parent
TURNS = 12


def lasting(pid: str) -> Persona:
    """The persona with thresholds no session reaches, so it runs every turn."""
    persona = load_catalog(ROOT / "personas").personas[pid]
    return persona.model_copy(
        update={"mood": persona.mood.model_copy(update={"walkout_at": 11, "calm_at": -1})}
    )


def trainee_lines(persona: Persona) -> list[str]:
    """Bad lines then good ones, so the mood climbs then falls and the note changes."""
    scripts = load_scripts(ROOT / "evals" / "persona_scripts.yaml")
    lines = scripts.lines(persona, "bad") + scripts.lines(persona, "good")
    return [lines[i % len(lines)] for i in range(TURNS)]


async def played_calls(settings: Settings, persona: Persona) -> list[list[BaseMessage]]:
    """Every call the customer model got over a session of :data:`TURNS` turns,
    through the session engine (checks-only grader, so the mood moves)."""
    replies = [f"Customer reply number {i}, still waiting for my parcel." for i in range(TURNS)]
    chat = fake_chat(*replies)
    store = Store(settings.resolved_database_url)
    await store.init()
    engine = SessionEngine(
        persona=persona,
        customer=LLMCustomer(persona, chat, settings.history_token_budget),
        grader=Grader(settings),
        store=store,
        backend_label="fake",
    )
    try:
        await engine.start()
        for line in trainee_lines(persona):
            _ = [event async for event in engine.turn(line)]
    finally:
        await store.close()
    assert engine.ended is None
    return chat.calls


@pytest.mark.parametrize("pid", ["en-late-parcel", "fr-deuil-chien"])
async def test_the_system_prompt_is_the_same_bytes_every_turn(settings: Settings, pid: str) -> None:
    calls = await played_calls(settings, lasting(pid))
    assert len(calls) == TURNS
    systems = [call[0] for call in calls]
    assert all(s.type == "system" for s in systems)
    assert {s.content.encode() for s in systems} == {systems[0].content.encode()}
    # The turn's state is not in it: the mood moved, the notes differ, the system did not.
    notes = [call[-1].content for call in calls]
    assert len(set(notes)) > 1
    assert not any(str(note) in str(systems[0].content) for note in notes)


async def test_the_turn_note_comes_last_after_the_trainee_line(settings: Settings) -> None:
    persona = lasting("en-late-parcel")
    calls = await played_calls(settings, persona)
    lines = trainee_lines(persona)
    for number, call in enumerate(calls):
        note, trainee = call[-1], call[-2]
        assert note.type == "system" and "Simulation note" in str(note.content)
        assert trainee.type == "human" and trainee.content == lines[number]
        # Only the first and the last message are system messages.
        assert [m.type for m in call[1:-1]].count("system") == 0
    # The history grows between the system prompt and the note: each call
    # starts with the previous call minus its note (a prefix a cache can reuse).
    for before, after in itertools.pairwise(calls):
        kept = before[:-1]
        assert [m.content for m in after[: len(kept)]] == [m.content for m in kept]


async def test_the_note_tells_the_mood_and_what_the_trainee_did(settings: Settings) -> None:
    persona = lasting("en-late-parcel")
    calls = await played_calls(settings, persona)
    first = str(calls[0][-1].content)  # "Um, calm down, there's nothing I can do."
    assert f"Your mood right now is {persona.mood.start} of 10" in first
    assert "dismissive phrase" in first and "calm down" in first
    system = str(calls[0][0].content)
    assert "dismissive phrase" not in system and "Your mood right now" not in system
