"""A thread's name in the history list: the scenario and when it started, from the first moment.

Chainlit names a thread after its first interaction, whatever that was: the
trainee's first reply, or the name of the first button clicked ("hint",
"open_session"), and tells the page that name at once, so the history list
shows it until a reload. :func:`install` makes that first name the app's own:
Chainlit still decides *when* a thread is first stored (a chat nobody
interacted with stays out of the history), the app decides *what* it is
called (``name_for``, given the chat's websocket session; ``None`` keeps
Chainlit's word).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Given the chat's websocket session, the thread's name (or None).
Namer = Callable[[Any], str | None]


def install(name_for: Namer) -> None:
    from chainlit.emitter import ChainlitEmitter

    original = getattr(ChainlitEmitter.init_thread, "_coach_original", ChainlitEmitter.init_thread)

    async def init_thread(self: ChainlitEmitter, interaction: str) -> None:
        await original(self, name_for(self.session) or interaction)

    init_thread._coach_original = original  # type: ignore[attr-defined]
    ChainlitEmitter.init_thread = init_thread  # type: ignore[method-assign]
