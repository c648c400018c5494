"""Which eval suites run, and how they reach a model, from the `coach eval` flags.

Kept apart from the runner (which imports the grader, storage and the model
SDK) so the mapping is plain data in, plain data out, and testable as such.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from bot.errors import EvalError

#: How the LLM suites reach a model: ``replay`` answers from the committed
#: recordings (offline, reproducible), ``live`` calls the configured backend,
#: ``record`` calls it and rewrites every recording, ``fill`` records only the
#: prompts that have none yet.
Mode = Literal["replay", "live", "record", "fill"]

SUITES = ("grader-checks", "grader-llm", "personas-offline", "personas-llm")

#: The suites that need no model at all.
OFFLINE_SUITES = ("grader-checks", "personas-offline")

#: The suite groups a user names: a group picks every suite whose name starts with it.
GROUPS = ("grader", "personas", "all")


class FlagConflict(EvalError):
    """Two `coach eval` options that cannot go together (a usage error)."""


def choose_mode(
    *, live: bool = False, record: bool = False, record_missing: bool = False, checks_only: bool
) -> Mode:
    """The model mode the flags ask for; at most one of them, and none with --checks-only."""
    if sum((live, record, record_missing)) > 1:
        raise FlagConflict("choose one of --live, --record and --record-missing")
    if checks_only and (live or record or record_missing):
        raise FlagConflict("--checks-only uses no model; drop --live/--record/--record-missing")
    if record:
        return "record"
    if record_missing:
        return "fill"
    return "live" if live else "replay"


def choose_suites(
    groups: Collection[str], *, mode: Mode, checks_only: bool, ad_hoc: bool
) -> list[str]:
    """The suites to run, in the order the runner runs them.

    ``groups`` are names from :data:`GROUPS` (none means all). ``ad_hoc`` is
    true when the user gave their own case files: those are graded by the
    checks, or by the model when a non-replay mode asks for one (there are no
    recordings for a user's own files).
    """
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise FlagConflict(f"unknown suite {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if ad_hoc:
        return ["grader-llm"] if mode != "replay" else ["grader-checks"]
    wanted = set(groups) or {"all"}
    names = [n for n in SUITES if "all" in wanted or n.split("-")[0] in wanted]
    if checks_only:
        names = [n for n in names if n in OFFLINE_SUITES]
    return names
