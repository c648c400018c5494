"""The project's errors.

Every error a user can cause derives from :class:`CoachError`; its message is
one line that says what is wrong and what to do. The CLI prints that line and
exits non-zero; nothing else should print a traceback for user mistakes.
"""

from __future__ import annotations


class CoachError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ConfigError(CoachError):
    """A setting is missing or invalid."""


class PersonaError(CoachError):
    """A persona file is invalid or a persona id is unknown."""


class CaseError(CoachError):
    """A grading case (``coach grade`` input or an eval dataset line) is invalid."""


class PromptError(CoachError):
    """A prompt template is missing or was rendered without a variable it needs."""


class LexiconError(CoachError):
    """A phrase list under ``bot/lexicon`` is malformed."""


class BackendError(CoachError):
    """A model backend failed (unreachable server, bad key, timeout)."""


class IncompleteReply(BackendError):
    """A streamed reply ended without the server's end marker (a cut stream)."""


class StorageError(CoachError):
    """The database could not be reached or written."""


class RecordingMissing(CoachError):
    """Replaying evals found a model call that was never recorded."""


class EvalError(CoachError):
    """An eval suite could not run (bad dataset, thresholds file, recordings)."""


class RubricError(CoachError):
    """The rubric file (``bot/rubric.yaml``) is malformed or incomplete."""


class CorrectionError(CoachError):
    """A trainer's correction of a verdict does not apply (unknown reply or
    criterion, the verdict the grade already has, no comment). ``key`` names
    the problem in the UI's catalogue (``corrections.error.<key>``)."""

    def __init__(self, message: str, key: str = "invalid", **params: object) -> None:
        super().__init__(message)
        self.key, self.params = key, params
