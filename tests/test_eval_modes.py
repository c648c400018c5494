"""How `coach eval` flags become a model mode and a list of suites, and the --json summary."""

from __future__ import annotations

from typing import Any

import pytest

from bot.evals.modes import SUITES, FlagConflict, choose_mode, choose_suites
from bot.evals.reports import summary_json


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        ({}, "replay"),
        ({"live": True}, "live"),
        ({"record": True}, "record"),
        ({"record_missing": True}, "fill"),
        ({"checks_only": True}, "replay"),
    ],
)
def test_each_flag_picks_its_mode(flags: dict[str, bool], mode: str) -> None:
    assert choose_mode(**{"checks_only": False, **flags}) == mode


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"live": True, "record": True}, "choose one of"),
        ({"record": True, "record_missing": True}, "choose one of"),
        ({"checks_only": True, "live": True}, "--checks-only uses no model"),
        ({"checks_only": True, "record_missing": True}, "--checks-only uses no model"),
    ],
)
def test_conflicting_flags_are_refused(flags: dict[str, bool], message: str) -> None:
    with pytest.raises(FlagConflict, match=message):
        choose_mode(**{"checks_only": False, **flags})


@pytest.mark.parametrize(
    ("groups", "checks_only", "suites"),
    [
        ([], False, list(SUITES)),
        (["all"], False, list(SUITES)),
        (["grader"], False, ["grader-checks", "grader-llm"]),
        (["personas"], False, ["personas-offline", "personas-llm"]),
        (["personas", "grader"], False, list(SUITES)),
        ([], True, ["grader-checks", "personas-offline"]),
        (["grader"], True, ["grader-checks"]),
    ],
)
def test_groups_pick_suites_in_run_order(
    groups: list[str], checks_only: bool, suites: list[str]
) -> None:
    assert choose_suites(groups, mode="replay", checks_only=checks_only, ad_hoc=False) == suites


def test_own_case_files_go_to_the_checks_unless_a_model_is_asked_for() -> None:
    assert choose_suites([], mode="replay", checks_only=False, ad_hoc=True) == ["grader-checks"]
    assert choose_suites(["personas"], mode="replay", checks_only=True, ad_hoc=True) == [
        "grader-checks"
    ]
    for mode in ("live", "record", "fill"):
        assert choose_suites([], mode=mode, checks_only=False, ad_hoc=True) == ["grader-llm"]


def test_an_unknown_group_names_the_choices() -> None:
    with pytest.raises(FlagConflict, match="unknown suite judge; choose from grader, personas"):
        choose_suites(["judge"], mode="replay", checks_only=False, ad_hoc=False)


def test_the_json_summary_lifts_the_first_grader_metrics() -> None:
    report: dict[str, Any] = {
        "passed": True,
        "suites": {
            "personas-offline": {"kind": "personas", "metrics": {"runs": 2}},
            "grader-checks": {"kind": "grader", "metrics": {"all": {"cases": 3}}},
            "grader-llm": {"kind": "grader", "metrics": {"all": {"cases": 1}}},
        },
    }
    summary = summary_json(report)
    assert summary["metrics"] == {"all": {"cases": 3}}
    assert summary["suites"] is report["suites"] and "metrics" not in report
    personas_only = {"passed": True, "suites": {"p": {"kind": "personas", "metrics": {}}}}
    assert "metrics" not in summary_json(personas_only)
