from __future__ import annotations

from bot.rubric import (
    CHECK_CRITERIA,
    CRITERIA,
    CRITERION_IDS,
    CriterionResult,
    Grade,
    cap_deescalation,
    compute_score,
    estimate_deescalation,
)

RUBRIC_IDS = [
    "acknowledge_emotion",
    "reformulate",
    "explore",
    "prioritize",
    "apologize",
    "personal_language",
    "positive_opening",
    "plain_register",
    "no_filler",
    "no_blocking_phrase",
    "no_blame",
    "ownership",
    "narrate_action",
    "concrete_timeline",
    "propose_solution",
    "simplify",
    "no_hold",
    "check_other_concerns",
    "thank_close",
    "set_boundaries",
]


def results(**verdicts: str) -> dict[str, CriterionResult]:
    out = {c: CriterionResult(verdict="na", source="check") for c in CRITERION_IDS}
    for cid, verdict in verdicts.items():
        out[cid] = CriterionResult(verdict=verdict, source="check")  # type: ignore[arg-type]
    return out


def test_ids_are_the_rubric_contract() -> None:
    assert list(CRITERION_IDS) == RUBRIC_IDS
    assert set(CHECK_CRITERIA) == {
        "reformulate",
        "apologize",
        "personal_language",
        "positive_opening",
        "no_filler",
        "no_blocking_phrase",
        "narrate_action",
        "concrete_timeline",
        "no_hold",
        "check_other_concerns",
        "thank_close",
    }
    assert all(1 <= c.weight <= 3 and c.label["fr"] and c.tip["en"] for c in CRITERIA)


def test_score_is_the_weighted_share_of_applicable_criteria_met() -> None:
    # apologize (2) met, no_blocking_phrase (3) missed, no_filler (1) met: 3 / 6.
    assert (
        compute_score(results(apologize="met", no_blocking_phrase="missed", no_filler="met")) == 50
    )
    assert compute_score(results(apologize="met")) == 100
    assert compute_score(results()) is None


def test_grade_requires_every_criterion_and_keeps_rubric_order() -> None:
    criteria = dict(reversed(list(results().items())))
    grade = Grade(criteria=criteria, score=None)
    assert list(grade.criteria) == RUBRIC_IDS
    partial = dict(criteria)
    partial.pop("thank_close")
    try:
        Grade(criteria=partial)
    except ValueError as exc:
        assert "thank_close" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a grade without every criterion must not validate")


def test_deescalation_estimate_and_caps() -> None:
    assert estimate_deescalation(results(apologize="met", acknowledge_emotion="met")) == 2
    assert estimate_deescalation(results(apologize="met")) == 1
    assert estimate_deescalation(results(no_blocking_phrase="missed")) == -2
    # A blocking phrase never calms, whatever else the turn does.
    assert (
        estimate_deescalation(
            results(
                apologize="met",
                acknowledge_emotion="met",
                reformulate="met",
                no_blocking_phrase="missed",
            )
        )
        == -1
    )
    assert cap_deescalation(2, results(no_blocking_phrase="missed")) == -1
    assert cap_deescalation(2, results(no_filler="missed")) == 0
    assert cap_deescalation(1, results(apologize="met")) == 1
