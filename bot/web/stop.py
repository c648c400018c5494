"""The Stop button, as Chainlit does it but in the trainee's language.

Chainlit's own handler posts "Task manually stopped." in English before it
cancels the running message task; this one only cancels it and calls
``on_stop``, where the app says what happened to the line in the session's
language. Installed before the socket checks (bot/web/security.py), which
wrap it like every other event.
"""

from __future__ import annotations

from typing import Any


def install(sio: Any) -> None:
    handlers = sio.handlers.setdefault("/", {})

    async def stop(sid: str) -> None:
        from chainlit.config import config
        from chainlit.context import init_ws_context
        from chainlit.session import WebsocketSession

        session = WebsocketSession.get(sid)
        if session is None:
            return
        init_ws_context(session)
        if session.current_task:
            session.current_task.cancel()
        if config.code.on_stop:
            await config.code.on_stop()

    handlers["stop"] = stop
