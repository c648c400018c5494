"""How a grade moves the customer's mood, the reason shown, and when mood ends a session."""

from __future__ import annotations

from bot import mood
from bot.rubric import CRITERION_IDS, CriterionResult, Grade


def results(**verdicts: str) -> dict[str, CriterionResult]:
    out = {c: CriterionResult(verdict="na", source="check") for c in CRITERION_IDS}
    for cid, verdict in verdicts.items():
        out[cid] = CriterionResult(verdict=verdict, source="check")  # type: ignore[arg-type]
    return out


def grade(**verdicts: str) -> Grade:
    return Grade(criteria=results(**verdicts))


def test_bands_cover_the_scale() -> None:
    assert [mood.mood_band(m) for m in range(mood.MOOD_MIN, mood.MOOD_MAX + 1)] == [
        "calm", "calm", "calm", "uneasy", "uneasy", "upset", "upset", "angry", "angry",
        "furious", "furious",
    ]  # fmt: skip
    assert mood.apply(9, -2) == 10 and mood.apply(1, 2) == 0 and mood.apply(5, 1) == 4


def test_deescalation_estimate_and_caps() -> None:
    assert mood.estimate_deescalation(results(apologize="met", acknowledge_emotion="met")) == 2
    assert mood.estimate_deescalation(results(apologize="met")) == 1
    assert mood.estimate_deescalation(results(no_blocking_phrase="missed")) == -2
    # A blocking phrase never calms, whatever else the turn does.
    assert (
        mood.estimate_deescalation(
            results(
                apologize="met",
                acknowledge_emotion="met",
                reformulate="met",
                no_blocking_phrase="missed",
            )
        )
        == -1
    )
    assert mood.cap_deescalation(2, results(no_blocking_phrase="missed")) == -1
    assert mood.cap_deescalation(2, results(no_filler="missed")) == 0
    assert mood.cap_deescalation(1, results(apologize="met")) == 1


def test_the_mood_move_agrees_with_the_grade_whatever_the_model_says() -> None:
    def judged(**verdicts: str) -> dict[str, CriterionResult]:
        out = results()
        for cid, verdict in verdicts.items():
            out[cid] = CriterionResult(verdict=verdict, source="llm")  # type: ignore[arg-type]
        return out

    # No violation: the model's "this inflamed them" is overruled.
    assert mood.cap_deescalation(-2, judged(apologize="met")) == 0
    assert mood.cap_deescalation(-1, results()) == 0
    # A violation of the heaviest weight, even one the model found, cannot calm.
    assert mood.cap_deescalation(2, judged(no_blame="missed")) == 0
    assert mood.cap_deescalation(-2, judged(no_blame="missed")) == -2
    # A lighter violation the model found leaves its judgement alone.
    assert mood.cap_deescalation(1, judged(no_filler="missed", apologize="met")) == 1


def test_the_reason_names_what_moved_the_mood_first() -> None:
    both = grade(no_blocking_phrase="missed", no_filler="missed", apologize="met")
    assert mood.reason(both, 2, "fr") == "phrase bloquante"
    assert mood.reason(grade(no_filler="missed"), 1, "en") == "fillers"
    calmer = grade(reformulate="met", apologize="met")
    assert mood.reason(calmer, -1, "en") == "you apologised"
    # Setting a limit calms, and is said as such (not as "you answered in kind").
    assert mood.reason(grade(set_boundaries="met"), -1, "en") == "you set a clear limit"
    assert mood.reason(grade(set_boundaries="missed"), 1, "fr") == "insulte en retour"
    assert mood.reason(grade(), 1, "en") == "the reply did not land"
    assert mood.reason(grade(), 0, "fr") == "pas d'effet"


def evidenced(**found: tuple[str, str | None]) -> Grade:
    out = results()
    for cid, (verdict, evidence) in found.items():
        out[cid] = CriterionResult(verdict=verdict, source="check", evidence=evidence)  # type: ignore[arg-type]
    return Grade(criteria=out)


def test_the_reason_quotes_the_words_that_moved_the_mood() -> None:
    hurt = evidenced(no_blame=("missed", "ce n'est qu'un chien"))
    assert mood.reason(hurt, 2, "fr") == (
        "vous avez blâmé ou rabaissé le client\u00a0: «\u00a0ce n'est qu'un chien\u00a0»"
    )
    timed = evidenced(concrete_timeline=("met", "by Friday 5 pm"))
    assert mood.reason(timed, -1, "en") == 'you gave a clear time: "by Friday 5 pm"'
    long = evidenced(no_blocking_phrase=("missed", "word " * 40))
    assert mood.reason(long, 1, "en").endswith('…"') and len(mood.reason(long, 1, "en")) < 90
    # No move: what cancelled the good the reply did is named, not "no change".
    both = evidenced(apologize=("met", "sorry"), no_filler=("missed", "um"))
    said = 'no change: you apologised: "sorry", but also fillers: "um"'
    assert mood.reason(both, 0, "en") == said
    assert mood.reason(evidenced(no_filler=("missed", "euh")), 0, "fr") == (
        "pas d'effet\u00a0: tics verbaux\u00a0: «\u00a0euh\u00a0»"
    )


def test_each_temperament_names_and_colours_the_bands_its_own_way() -> None:
    # A grieving customer is hurt, not angry; an angry one irritated, then furious.
    assert mood.mood_label(8, "distressed", "en") == "hurt"
    assert mood.mood_label(10, "distressed", "en") == "heartbroken"
    assert mood.mood_label(6, "distressed", "en") == "upset"
    assert [mood.mood_label(m, "angry", "en") for m in (5, 7, 9)] == [
        "irritated",
        "angry",
        "furious",
    ]
    assert mood.mood_label(8, "distressed", "fr") == "blessure"
    assert mood.mood_label(8, "angry", "fr") == "colère"
    assert mood.mood_label(6, "anxious", "en") == "worried"
    for temperament in mood.TEMPERAMENTS:
        for lang in ("fr", "en"):
            labels = [mood.mood_label(m, temperament, lang) for m in range(11)]
            assert len(set(labels)) == len(mood.BANDS), (temperament, lang)
        colours = mood.mood_colours(range(11), temperament)
        # The colour follows the band: one per band, and the alarm colour only from 7.
        assert len(set(colours)) == len(mood.BANDS)
        assert colours[0] == colours[2] != colours[3]
        assert colours[6] != colours[7] and colours[7] == colours[8] != colours[9]
    # Red is the angry customer's alarm, never the grieving one's, and never below 7.
    reds = {"#cf222e", "#82071e"}
    assert set(mood.mood_colours(range(7), "angry")).isdisjoint(reds)
    assert set(mood.mood_colours(range(11), "distressed")).isdisjoint(reds)
    look = mood.mood_look(9, "angry", "fr")
    assert (look.band, look.label, look.colour) == ("furious", "fureur", "#82071e")


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_band_colour_carries_white_text() -> None:
    for palette in mood.BAND_COLOURS.values():
        for colour in palette.values():
            assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, colour


def test_the_mood_ends_a_session_only_past_a_limit_or_calm_with_every_goal_met() -> None:
    limits = {"calm_at": 2, "walkout_at": 9}
    assert mood.end_by_mood(9, goals_met=True, **limits) == "walkout"
    assert mood.end_by_mood(9, goals_met=False, **limits) == "walkout"
    assert mood.end_by_mood(2, goals_met=False, **limits) is None
    assert mood.end_by_mood(2, goals_met=True, **limits) == "calm"
    assert mood.end_by_mood(5, goals_met=True, **limits) is None


def test_difficulty_changes_patience() -> None:
    easy, medium, hard = (mood.PATIENCE[d] for d in mood.DIFFICULTIES)
    # A great turn soothes an easy customer most, a hard one least.
    assert mood.apply(7, 2, "easy") == 4 and mood.apply(7, 2, "medium") == 5
    assert mood.apply(7, 2, "hard") == 6
    # A trigger (-2) inflames the hard customer fastest.
    assert mood.apply(6, -2, "easy") == 7 and mood.apply(6, -2, "medium") == 8
    assert mood.apply(6, -2, "hard") == 9
    assert mood.apply(6, -1, "hard") == 8 and mood.apply(6, -1, "easy") == 7
    assert mood.apply(5, 0, "hard") == 5 and mood.apply(1, 2, "easy") == 0
    # Medium is the grade's de-escalation as it is.
    assert all(medium.move(d) == d for d in range(-2, 3))
    # Hard starts higher than easy may.
    assert hard.start[0] > easy.start[1] - 1 and easy.start[1] < hard.start[1]
