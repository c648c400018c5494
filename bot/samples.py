"""Which sample of a model call is running, for recordings to key on.

Kept apart from ``bot/recordings.py`` (which imports LangChain) so that the
grader can set them on its checks-only path without loading a model SDK.
"""

from __future__ import annotations

import contextvars

#: Which repeat of an eval case is running (``coach eval --repeat``): each
#: repeat replays its own recording instead of one response N times.
current_sample: contextvars.ContextVar[int] = contextvars.ContextVar("sample", default=0)
#: Which of the grader's votes on one turn is running (``COACH_GRADER_VOTES``):
#: each vote is a distinct sample, recorded apart.
current_vote: contextvars.ContextVar[int] = contextvars.ContextVar("vote", default=0)
