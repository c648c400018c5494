"""Feedback that teaches offline: a better reply built from the conversation, the
persona and what the turn missed; a debrief that quotes the worst turn and
names what was done; no internal words where a trainee reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import goals
from bot.checks import run_checks
from bot.conversation import Message
from bot.debrief import build_debrief
from bot.grader import Grader
from bot.i18n import catalogue
from bot.personas import Persona, load_catalog
from bot.rubric import CRITERION_IDS, Grade
from bot.runtime import Runtime
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CATALOG = load_catalog(ROOT / "personas")


def persona(pid: str) -> Persona:
    return CATALOG.get(pid)


def grade(
    settings: Settings, p: Persona | None, customer: str, turn: str, lang: str = "fr"
) -> Grade:
    history = [Message(role="customer", content=customer)]
    return Grader(settings, None).grade_checks_only(
        turn,
        p.language if p else lang,  # type: ignore[arg-type]
        history,
        persona=p,
    )


def test_every_shipped_offer_meets_its_goal() -> None:
    for p in CATALOG.personas.values():
        for goal in p.goals:
            assert goal.offer, (p.id, goal.id)
            report = run_checks(goal.offer, p.language, [])
            assert goal.id in goals.met_in_turn([goal], p.language, goal.offer, None, report), (
                p.id,
                goal.id,
            )


def test_the_better_reply_answers_this_conversation_not_any(settings: Settings) -> None:
    dog = persona("fr-deuil-chien")
    turn = "Euh, calmez-vous madame, quel est votre numéro de commande ?"
    first = grade(settings, dog, "Je n'arrive pas à y croire, il est parti hier soir.", turn)
    other = grade(settings, dog, "Je voudrais juste que ce colis ne parte pas.", turn)
    assert first.better_reply and other.better_reply and first.better_reply != other.better_reply
    better = first.better_reply
    # It says back the customer's own words, in her language, for a grieving customer.
    assert "«\u00a0Je n'arrive pas à y croire, il est parti hier soir\u00a0»" in better
    assert "douloureux" in better
    # The harm is cut, the filler gone, the trainee's good question kept.
    assert "calmez-vous" not in better.lower() and "euh" not in better.lower()
    assert "Madame, quel est votre numéro de commande\u202f?" in better or (
        "Quel est votre numéro de commande" in better
    )
    # The persona's own offer for her first open goal, which meets it.
    assert dog.goals[0].offer.split(":")[0] in better
    regraded = run_checks(better, "fr", [])
    assert regraded.findings["no_blocking_phrase"].verdict == "met"
    assert regraded.findings["no_filler"].verdict == "met"
    assert regraded.findings["apologize"].verdict == "met"


def test_a_turn_that_met_every_goal_is_completed_with_the_close(settings: Settings) -> None:
    dog = persona("fr-deuil-chien")
    done = (
        "C'est fait : j'ai annulé la commande 58-2291, vous serez remboursée sous 3 jours ouvrés."
    )
    better = grade(settings, dog, "Je ne veux pas recevoir ce colis.", done).better_reply
    assert better is not None
    assert "j'ai annulé la commande 58-2291" in better  # the trainee's own words kept
    assert "autre chose que je puisse faire" in better and dog.goals[0].offer not in better


def test_english_abuse_gets_a_limit_and_the_next_goal(settings: Settings) -> None:
    caller = persona("en-abusive-caller")
    better = grade(
        settings, caller, "You useless idiots, where is my sofa?", "You should have stayed home."
    ).better_reply
    assert better is not None and better.startswith("I really want to help you")
    assert "should have" not in better and caller.goals[0].offer in better


def test_without_a_persona_the_reply_still_follows_the_conversation(settings: Settings) -> None:
    better = grade(
        settings,
        None,
        "I've waited three weeks and nobody answers.",
        "You should have read the terms.",
        "en",
    ).better_reply
    assert better is not None
    assert '"I\'ve waited three weeks and nobody answers"' in better
    assert "read the terms" not in better and "today before 5 pm" in better


def test_an_apology_already_made_is_not_asked_for_again(settings: Settings) -> None:
    parcel = persona("en-late-parcel")
    history = [
        Message(role="customer", content=parcel.opening),
        Message(role="trainee", content="I'm so sorry, I can see how stressful this is."),
        Message(role="customer", content="Thank you. So where is it?"),
    ]
    graded = Grader(settings, None).grade_checks_only("Let me look.", "en", history, persona=parcel)
    assert graded.better_reply is not None
    assert "sorry" not in graded.better_reply.lower()
    assert parcel.goals[0].offer in graded.better_reply


def turn(text: str, score: int, mood_after: int, **verdicts: tuple[str, str | None]) -> tuple:
    from bot.rubric import CriterionResult

    criteria = {c: CriterionResult(verdict="na", source="check") for c in CRITERION_IDS}
    for cid, (verdict, evidence) in verdicts.items():
        criteria[cid] = CriterionResult(verdict=verdict, source="check", evidence=evidence)  # type: ignore[arg-type]
    return (text, Grade(criteria=criteria, score=score, better_reply=f"better {text}"), mood_after)


def test_the_debrief_quotes_the_worst_turn_and_names_what_was_done() -> None:
    turns = [
        turn("Bonjour.", 60, 7, apologize=("missed", None), no_filler=("met", None)),
        turn("Toutes mes excuses.", 80, 6, apologize=("met", "excuses"), no_filler=("met", None)),
        turn(
            "Euh, ben, je regarde.",
            40,
            8,
            no_filler=("missed", "Euh; ben"),
            apologize=("missed", None),
        ),
        turn("Je suis désolée.", 90, 5, apologize=("met", "désolée"), no_filler=("met", None)),
    ]
    debrief = build_debrief(outcome="trainee", language="fr", mood_start=7, turns=turns)
    by_id = {i.criterion: i for i in debrief.improvements}
    # The filler turn, with its words and its own better reply; not reply 1.
    assert by_id["no_filler"].turn == 3 and by_id["no_filler"].evidence == "Euh; ben"
    assert by_id["no_filler"].better_reply == "better Euh, ben, je regarde."
    # Apologising missed twice: the turn that cost the most mood (3: +2), not reply 1.
    assert by_id["apologize"].turn == 3
    # Nothing to praise that is also to improve, and no harm avoided ("no filler 3×").
    assert debrief.strengths == []
    praised = build_debrief(outcome="trainee", language="fr", mood_start=7, turns=turns[1:2])
    assert [s.text for s in praised.strengths] == ["Vous avez présenté des excuses (réponse 1)"]
    many = build_debrief(outcome="trainee", language="en", mood_start=7, turns=turns[1::2])
    assert "You apologised in replies 1 and 2" in [s.text for s in many.strengths]


#: Words of the machinery a trainee must never read.
INTERNAL = re.compile(
    r"(?i:\bna\b|\bn/a\b|check)|" + "|".join(rf"\b{c}\b" for c in CRITERION_IDS if "_" in c)
)


def strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_internal_word_in_what_a_trainee_reads(lang: str) -> None:
    found = [s for s in strings(catalogue()[lang]) if INTERNAL.search(s)]  # type: ignore[index]
    assert found == []


async def test_no_internal_word_in_an_offline_debrief(offline: Runtime) -> None:
    from rich.console import Console

    from bot.cli.chat_views import TerminalView
    from bot.web.debrief_view import debrief_markdown

    dog = persona("fr-deuil-chien")
    engine = offline.engine(dog)
    await engine.start()
    for line in (
        "Euh, calmez-vous madame.",
        "Toutes mes excuses, je comprends à quel point c'est douloureux.",
        "Je vous mets en attente.",
    ):
        [event async for event in engine.turn(line)]  # play the turn to its end
    ended = await engine.end()
    assert all(t.better_reply for _, t, _ in engine.turns if t is not None)
    for lang in ("fr", "en"):
        text = debrief_markdown(ended.debrief, lang)  # type: ignore[arg-type]
        # The trainee's own words are quoted as typed; the rest must be plain words.
        for said, _, _ in engine.turns:
            text = text.replace(said, "")
        assert not INTERNAL.search(text), INTERNAL.search(text)
    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    TerminalView(console, dog).show(ended)
    assert not INTERNAL.search(console.export_text())
