"""Lines a chat's socket delivered, played in the order they arrived.

Chainlit handles each socket event in a task of its own, and every one
awaits the database (the token check, storing the message's step) before
the message handler runs, so two lines sent back to back can reach
``on_message`` in either order. :func:`install` notes each line as its event
arrives, before anything is awaited; :func:`in_turn` lets a line's handler
run only once the lines that arrived before it on that chat are done. A
line whose handler never comes (its event refused) holds the others back
for :data:`WAIT_SECONDS` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: The longest a line waits for the lines before it.
WAIT_SECONDS = 120.0


@dataclass
class _Chat:
    #: The ids of the lines not yet done, in arrival order.
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


#: Per chat (Chainlit's session id), while it has lines in flight.
_chats: dict[str, _Chat] = {}


def arrived(session_id: str, message_id: str) -> None:
    """Note a line as its event arrives (synchronously: arrival order is kept)."""
    _chats.setdefault(session_id, _Chat()).lines.append(message_id)


@contextlib.asynccontextmanager
async def in_turn(session_id: str, message_id: str) -> AsyncIterator[None]:
    """Wait until every line that arrived before this one on the chat is done."""
    chat = _chats.get(session_id)
    if chat is None or message_id not in chat.lines:
        yield  # not noted on arrival (a handler called directly): nothing to wait for
        return
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT_SECONDS), chat.changed:
                await chat.changed.wait_for(lambda: chat.lines[0] == message_id)
        yield
    finally:
        chat.lines.remove(message_id)
        if not chat.lines and _chats.get(session_id) is chat:
            del _chats[session_id]
        async with chat.changed:
            chat.changed.notify_all()


def install(sio: Any) -> None:
    """Note every ``client_message`` as it arrives, before its handler awaits anything."""
    handlers: dict[str, Callable[..., Awaitable[Any]]] = sio.handlers.setdefault("/", {})
    inner = handlers["client_message"]

    async def noted(sid: str, payload: Any, *args: Any) -> Any:
        from chainlit.session import WebsocketSession

        session = WebsocketSession.get(sid)
        message_id = _message_id(payload)
        if session is not None and message_id is not None:
            arrived(session.id, message_id)
        return await inner(sid, payload, *args)

    handlers["client_message"] = noted


def _message_id(payload: Any) -> str | None:
    """The line's id, when Chainlit will accept it (a version 4 UUID)."""
    try:
        message_id = str(payload["message"]["id"])
        return message_id if uuid.UUID(message_id).version == 4 else None
    except (KeyError, TypeError, ValueError):
        return None
