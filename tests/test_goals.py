"""Scenario goals: the persona data, how `coach personas validate` reports them,
and which trainee turns meet them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.checks import run_checks
from bot.conversation import Message
from bot.errors import PersonaError
from bot.events import CustomerSaid
from bot.goals import met_in_turn, progress
from bot.lexicon.phrases import parse_phrase
from bot.personas import Persona, load_catalog, load_persona_file
from bot.runtime import Runtime
from bot.simulator import CustomerTurn, LLMCustomer, ScriptedCustomer, still_needed
from tests.conftest import fake_chat
from tests.test_mood import grade

PERSONAS = Path(__file__).resolve().parent.parent / "personas"
EXAMPLE = PERSONAS / "fr-deuil-chien.yaml"
#: The first goal of the example persona, as its file writes it.
FIRST_GOAL = "  - id: order_cancelled\n    label: La commande est annulée avant son départ\n"


def persona(pid: str) -> Persona:
    return load_catalog(PERSONAS).personas[pid]


def test_every_shipped_persona_has_goals_a_customer_can_remind_of() -> None:
    for p in load_catalog(PERSONAS).personas.values():
        assert p.goals, p.id
        for goal in p.goals:
            assert goal.label and goal.evidence, (p.id, goal.id)
            assert len(goal.reminders) >= 2, (p.id, goal.id)
            assert all(parse_phrase(line) for line in goal.evidence), (p.id, goal.id)


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / EXAMPLE.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            FIRST_GOAL,
            FIRST_GOAL + "    evidense: [annuler]\n",
            r"goals\.0\.evidense: unknown field",
        ),
        (
            "    needs: [concrete_timeline]\n",
            "    needs: [a_date]\n",
            r"goals\.1\.needs: unknown criterion 'a_date'; use rubric ids",
        ),
        (
            "  - id: refund_dated\n",
            "  - id: order_cancelled\n",
            r"goals: duplicate goal ids: order_cancelled; give each its own",
        ),
    ],
)
def test_validation_names_file_line_and_what_to_fix(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = edited(tmp_path, old, new)
    with pytest.raises(PersonaError, match=rf"^{path.name}:\d+: {message}") as exc:
        load_persona_file(path)
    assert "\n" not in str(exc.value)


def test_empty_evidence_and_wordless_lines_are_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("    evidence:\n", text.index(FIRST_GOAL))
    end = text.index("    reminders:", start)
    empty = tmp_path / "empty" / EXAMPLE.name
    empty.parent.mkdir()
    empty.write_text(text[:start] + "    evidence: []\n" + text[end:], encoding="utf-8")
    with pytest.raises(PersonaError, match=r":\d+: goals\.0\.evidence: evidence is empty: list"):
        load_persona_file(empty)
    wordless = edited(tmp_path, "      - ~ annuler colis\n", "      - '~ ...'\n")
    line = line_of(wordless, "'~ ...'")
    with pytest.raises(
        PersonaError, match=rf":{line - 1}: goals\.0\.evidence: evidence line 2 \('~ \.\.\.'\)"
    ):
        load_persona_file(wordless)


def test_a_persona_without_goals_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    start, end = text.index("goals:\n"), text.index("priority:")
    path = tmp_path / EXAMPLE.name
    path.write_text(text[:start] + "goals: []\n" + text[end:], encoding="utf-8")
    with pytest.raises(PersonaError, match=r"goals: no goals: list what must happen"):
        load_persona_file(path)


def test_validate_prints_one_line_per_broken_goal(tmp_path: Path) -> None:
    path = edited(tmp_path, "    needs: [concrete_timeline]\n", "    needs: [soon]\n")
    run = subprocess.run(
        ["coach", "personas", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "fr-deuil-chien.yaml" in run.stderr and "unknown criterion 'soon'" in run.stderr


# --- which turns meet which goals ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "met"),
    [
        # Every inflection of a "~" line, and a word or two between its words.
        ("C'est fait : j'ai annulé votre commande.", {"order_cancelled"}),
        ("Votre commande est annulée, elle ne partira pas.", {"order_cancelled"}),
        ("Pas de souci, j'annule la commande tout de suite.", {"order_cancelled"}),
        ("Je bloque l'envoi de votre colis maintenant.", {"order_cancelled"}),
        # Denied in its clause: not met; a denial in another clause does not count.
        ("Je ne peux pas annuler la commande.", set()),
        ("Je n'ai pas encore annulé la commande.", set()),
        ("Ne vous inquiétez pas, j'annule la commande.", {"order_cancelled"}),
        # Quoted speech is not what the trainee does.
        ("Vous m'avez dit « annulez la commande », c'est ça ?", set()),
        # Nor is asking, or restating what the customer wants.
        ("Voulez-vous que j'annule la commande ?", set()),
        ("Si je comprends bien, vous voulez annuler la commande avant l'envoi.", set()),
        ("Si je comprends bien, c'est pour Filou. J'annule la commande.", {"order_cancelled"}),
        # A refund needs its date: the turn's grade must meet concrete_timeline.
        ("Je vous rembourse sur votre carte.", set()),
        ("Quel est votre numéro de commande ?", set()),
    ],
)
def test_goal_evidence_in_french(text: str, met: set[str]) -> None:
    p = persona("fr-deuil-chien")
    assert set(met_in_turn(p.goals, "fr", text, grade())) == met


def test_a_goal_that_needs_a_criterion_is_met_only_with_it() -> None:
    p = persona("fr-deuil-chien")
    text = "Vous serez remboursée sur votre carte sous 3 jours ouvrés."
    assert met_in_turn(p.goals, "fr", text, grade()) == {}
    assert met_in_turn(p.goals, "fr", text, None) == {}  # an ungraded turn proves no date
    assert met_in_turn(p.goals, "fr", text, grade(concrete_timeline="met")) == {
        "refund_dated": "remboursée"
    }


@pytest.mark.parametrize(
    ("text", "met"),
    [
        ("I'm checking with the depot right now.", {"depot_checked"}),
        ("I have contacted the courier and they found it.", {"depot_checked"}),
        # Passing the ball is not checking.
        ("You'll need to contact the courier yourself.", set()),
        ("I can't redirect it, I'm afraid.", set()),
        ("Would you like me to redirect it to your sister's for Saturday?", set()),
        ("So what you're saying is it should be redirected to your sister's by Saturday.", set()),
        ("I'll redirect it to your sister's for Saturday morning.", {"plan_before_friday"}),
    ],
)
def test_goal_evidence_in_english(text: str, met: set[str]) -> None:
    p = persona("en-late-parcel")
    assert set(met_in_turn(p.goals, "en", text, grade(concrete_timeline="met"))) == met


def test_progress_keeps_the_first_turn_that_met_each_goal() -> None:
    p = persona("fr-deuil-chien")
    dated = grade(concrete_timeline="met")
    turns = [
        ("Je suis tellement désolée pour Filou.", grade(), 6),
        ("J'annule la commande tout de suite.", grade(), 4),
        ("La commande est annulée, et remboursée sous 3 jours.", dated, 2),
    ]
    results = {r.id: r for r in progress(p.goals, "fr", turns)}
    assert results["order_cancelled"].met and results["order_cancelled"].turn == 2
    assert results["order_cancelled"].evidence == "annule la commande"
    assert results["refund_dated"].turn == 3 and results["refund_dated"].label.startswith("Le")
    assert not progress(p.goals, "fr", turns[:1])[0].met


# --- sessions: calm is not enough, the goals must be met ---------------------------------

POLITE_FR = [
    "Je suis vraiment désolée pour Filou, madame. Je comprends à quel point c'est douloureux.",
    "Prenez tout votre temps, je suis là pour vous écouter. Merci de m'avoir appelée.",
    "Si je comprends bien, Filou était toute votre vie, c'est bien cela ?",
    "Je suis sincèrement désolée. Je comprends votre peine, c'est tellement difficile.",
    "Merci pour votre patience, madame, et encore toutes mes condoléances.",
    # A time and an offer, but not what she needs: before goals, this ended "satisfied".
    "Je vous rappelle demain avant midi, je peux vous proposer un geste commercial.",
    "Je comprends, madame. Je suis vraiment désolée pour vous.",
    "Merci de me faire confiance, je suis là pour vous.",
]
GOOD_FR = [
    "Je suis vraiment désolée pour Filou, madame. Je comprends à quel point c'est douloureux.",
    "Je m'en occupe personnellement : j'annule votre commande tout de suite, le colis ne "
    "partira pas.",
    "Vous serez remboursée sur votre carte sous 3 jours ouvrés, je vous envoie la confirmation "
    "par e-mail.",
    "Y a-t-il autre chose que je puisse faire pour vous ? Merci pour votre patience, madame.",
    "Merci à vous, madame, et encore toutes mes condoléances.",
]
POLITE_EN = [
    "Thank you for reaching out, and I'm so sorry about the delay. I can see how stressful "
    "this is.",
    "I completely understand how worrying this must be, with the party so close.",
    "If I understand correctly, you've been waiting since Monday with no update, is that right?",
    "I'm really sorry. I understand your frustration, it's a gift that matters.",
    "Thank you so much for your patience with this.",
    # A time and an offer, but not what she needs: before goals, this ended "satisfied".
    "I'll call you back by 5 pm today, and I can offer you a discount code.",
    "I do understand, and I'm sorry for the stress this is causing.",
    "Thanks for bearing with me.",
]
GOOD_EN = [
    "Thank you for reaching out, and I'm so sorry about the delay. I can see how stressful "
    "this is with the party on Saturday.",
    "I'm checking with the depot right now: the parcel is stuck at the regional hub.",
    "I'll redirect it to your sister's address for Saturday morning, by 11 am at the latest, "
    "and I'll refund the express fee today.",
    "Is there anything else I can help you with? Thank you for your patience.",
    "Thank you, and I hope Idris loves his train.",
]


async def play_script(runtime: Runtime, pid: str, lines: list[str]) -> tuple[Any, list[str]]:
    engine = runtime.engine(persona(pid))
    await engine.start()
    said: list[str] = []
    for line in lines:
        if engine.ended:
            break
        async for event in engine.turn(line):
            if isinstance(event, CustomerSaid):
                said.append(event.content)
    return engine, said


@pytest.mark.parametrize(
    ("pid", "lines"), [("fr-deuil-chien", POLITE_FR), ("en-late-parcel", POLITE_EN)]
)
async def test_a_polite_trainee_who_solves_nothing_never_satisfies(
    offline: Runtime, pid: str, lines: list[str]
) -> None:
    engine, said = await play_script(offline, pid, lines)
    p = engine.persona
    # Calm enough to leave, but nothing solved: the customer says what is missing and stays.
    assert min(engine.mood_trajectory) <= p.mood.calm_at
    assert engine.ended is None and engine.goals_reached == frozenset()
    reminders = {r for g in p.goals for r in g.reminders}
    assert any(r in line for line in said for r in reminders)
    assert not any(s in line for line in said for s in p.lines.satisfied)


@pytest.mark.parametrize(
    ("pid", "lines"), [("fr-deuil-chien", GOOD_FR), ("en-late-parcel", GOOD_EN)]
)
async def test_a_trainee_who_reaches_the_goals_ends_calm_and_satisfied(
    offline: Runtime, pid: str, lines: list[str]
) -> None:
    engine, said = await play_script(offline, pid, lines)
    assert engine.goals_reached == {g.id for g in engine.persona.goals}
    assert engine.ended == "calm"
    assert said[-1] in [line.strip() for line in engine.persona.lines.satisfied]


# --- the debrief lists the goals ------------------------------------------------------------


async def test_the_debrief_shows_which_goals_were_reached(offline: Runtime) -> None:
    from rich.console import Console

    from bot.cli.chat_views import TerminalView
    from bot.web.debrief_view import debrief_markdown

    engine, _ = await play_script(offline, "fr-deuil-chien", GOOD_FR[:2])
    ended = await engine.end()
    goals = {g.id: g for g in ended.debrief.goals}
    assert goals["order_cancelled"].met and goals["order_cancelled"].turn == 2
    assert not goals["refund_dated"].met and ended.debrief.goals_met == 1

    # The web debrief in either UI language; the labels are the persona's own.
    fr = debrief_markdown(ended.debrief, "fr")
    assert "### Les objectifs du client" in fr and "Objectifs atteints\u00a0: 1 sur 2" in fr
    assert "- ✓ La commande est annulée avant son départ (réponse 2)" in fr
    assert "- ✗ Le remboursement sur sa carte, avec un délai annoncé\u00a0: pas atteint" in fr
    en = debrief_markdown(ended.debrief, "en")
    assert "Goals reached: 1 of 2" in en and "(reply 2)" in en and ": not reached" in en

    # The terminal debrief, in the persona's language.
    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    TerminalView(console, engine.persona).show(ended)
    text = console.export_text()
    assert "Objectifs atteints\u00a0: 1 sur 2\n" in text
    assert "  ✓ La commande est annulée avant son départ (réponse 2)\n" in text


async def test_a_restored_session_reaches_the_same_goals(offline: Runtime) -> None:
    engine, _ = await play_script(offline, "en-late-parcel", GOOD_EN[:2])
    assert engine.session_id is not None
    restored = offline.engine(engine.persona)
    await restored.restore(engine.session_id)
    assert restored.goals_reached == engine.goals_reached == {"depot_checked"}
    assert restored.debrief().goals == engine.debrief().goals


# --- the offline customer hears what was done, and does not repeat itself ------------------


async def test_the_customer_acknowledges_what_the_turn_did(offline: Runtime) -> None:
    _, said = await play_script(offline, "fr-deuil-chien", GOOD_FR[:3])
    cancelled, refunded = persona("fr-deuil-chien").goals
    assert said[1] in cancelled.acknowledgements  # not « Vous avez bien compris »
    assert said[2] in refunded.acknowledgements
    _, said = await play_script(offline, "en-late-parcel", GOOD_EN[:3])
    checked, planned = persona("en-late-parcel").goals
    # She is easy to soothe: calm already, she adds what she still needs.
    assert any(said[1].startswith(line) for line in checked.acknowledgements)
    assert any(said[1].endswith(line) for line in planned.reminders)
    assert said[2] in planned.acknowledgements


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_line_comes_back_while_an_unused_one_fits(seed: int) -> None:
    p = persona("fr-deuil-chien")
    soothing = grade().model_copy(update={"deescalation": 1})
    customer = ScriptedCustomer(p, seed=seed)
    # Soothed, upset: every soothed line, then every line of the mood, before a repeat.
    fresh = len(p.lines.soothed) + len(p.lines.upset)
    said = [customer.compose("Je comprends.", 5, soothing) for _ in range(fresh)]
    assert len(set(said)) == fresh
    # Calm with both goals open: every reminder once, and never « j'ai tout ce qu'il me faut ».
    customer = ScriptedCustomer(p, seed=seed)
    reminders = [r for g in p.goals for r in g.reminders]
    said = [customer.compose("Merci.", 1, grade(), p.goals) for _ in reminders]
    assert sorted(said) == sorted(reminders)
    customer = ScriptedCustomer(p, seed=seed)
    said = [customer.compose("Je comprends.", 1, soothing, p.goals) for _ in range(4)]
    assert not any(line.strip() in s for s in said for line in p.lines.calm)


async def test_the_cancellation_of_issue_10_is_heard(offline: Runtime) -> None:
    """Replayed from the issue: the trainee cancels and dates the refund in one reply,
    and the customer answered « Vous avez bien compris » as to anything else."""
    reply = (
        "C'est fait : j'ai annulé la commande 58-2291, vous serez remboursée sur votre carte "
        "sous 3 jours ouvrés."
    )
    _, said = await play_script(offline, "fr-deuil-chien", [GOOD_FR[0], reply])
    cancelled, refunded = persona("fr-deuil-chien").goals
    assert any(line in said[1] for line in cancelled.acknowledgements)
    assert any(line in said[1] for line in refunded.acknowledgements)
    assert "Vous avez bien compris" not in said[1]


# --- the LLM customer is told what it still needs, once calm ---------------------------------


def llm_turn(text: str, mood: int) -> CustomerTurn:
    p = persona("fr-deuil-chien")
    history = [Message(role="customer", content=p.opening), Message(role="trainee", content=text)]
    return CustomerTurn(p, history, mood, run_checks(text, "fr", history[:1]))


def test_a_calm_llm_customer_hears_which_goals_are_still_open() -> None:
    cancelled, refunded = persona("fr-deuil-chien").goals
    assert still_needed(llm_turn("J'annule votre commande.", 2)) == [refunded.label]
    assert still_needed(llm_turn("Je suis désolée.", 2)) == [cancelled.label, refunded.label]
    assert still_needed(llm_turn("Je suis désolée.", 5)) == []  # not calm: nothing to say yet
    # The refund's date comes from the checks: the LLM customer does not wait for the grade.
    done = "J'annule la commande, vous serez remboursée sous 3 jours ouvrés."
    assert still_needed(llm_turn(done, 2)) == []


async def test_the_llm_customer_prompt_says_so_only_when_calm() -> None:
    async def prompt(turn: CustomerTurn) -> tuple[str, str]:
        """The system prompt and the turn's note (the last message)."""
        chat = fake_chat("Bon.")
        customer = LLMCustomer(turn.persona, chat, 4000)
        _ = [chunk async for chunk in customer.reply(turn)]
        return str(chat.calls[0][0].content), str(chat.calls[0][-1].content)

    system, calm = await prompt(llm_turn("J'annule votre commande.", 2))
    assert "you still need Le remboursement sur sa carte, avec un délai annoncé." in calm
    assert "you are not satisfied yet" not in system  # the same bytes all session
    _, upset = await prompt(llm_turn("J'annule votre commande.", 5))
    assert "you are not satisfied yet" not in upset


@pytest.mark.parametrize(
    ("pid", "text", "met"),
    [
        # Asking about what went wrong is not offering the fix.
        ("en-abusive-caller", "Which slot did you have on Tuesday between 8 and 12?", set()),
        ("en-abusive-caller", "What credit card did you pay with?", set()),
        (
            "en-abusive-caller",
            "I've booked you a slot on Thursday between 10 and 12.",
            {"firm_slot"},
        ),
        ("fr-rappel-superviseur", "La réparation était prévue le 10, c'est ça ?", set()),
    ],
)
def test_evidence_is_specific_to_what_the_customer_needs(
    pid: str, text: str, met: set[str]
) -> None:
    p = persona(pid)
    assert set(met_in_turn(p.goals, p.language, text, grade(concrete_timeline="met"))) == met
