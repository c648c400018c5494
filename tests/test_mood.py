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


def test_the_mood_ends_a_session_only_past_a_limit_or_calm_with_every_goal_met() -> None:
    limits = {"calm_at": 2, "walkout_at": 9}
    assert mood.end_by_mood(9, goals_met=True, **limits) == "walkout"
    assert mood.end_by_mood(9, goals_met=False, **limits) == "walkout"
    assert mood.end_by_mood(2, goals_met=False, **limits) is None
    assert mood.end_by_mood(2, goals_met=True, **limits) == "calm"
    assert mood.end_by_mood(5, goals_met=True, **limits) is None
