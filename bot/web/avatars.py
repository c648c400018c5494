"""An avatar for every author in the chat: the first letter of the name on a colour of its own.

Chainlit's page asks ``/avatars/<author>`` for each message, with the author
as written ("Monique, son chien Filou est mort", "Gérard, ..."), and
Chainlit's own route answers 400 to any name with a comma or an accent, so
customers showed as a blank circle. This route is put ahead of it and draws
the avatar from the name in the path alone: it reads nothing, stores nothing
and shows nothing the page did not already hold (an initial and a colour),
so it asks for no sign-in, like Chainlit's logo and favicon.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

PATH = "/avatars/{avatar_id:path}"
#: Dark enough for white text (WCAG AA at this size) on every one of them.
COLOURS = ("#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#cf222e", "#57606a", "#0550ae")
MAX_NAME = 200


def initial(name: str) -> str:
    """The first letter or digit of the name, upper case ("?" if it has none)."""
    return next((c.upper() for c in name if c.isalnum()), "?")


def colour(name: str) -> str:
    """The same colour for the same name, whichever process draws it."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return COLOURS[digest[0] % len(COLOURS)]


def avatar_svg(name: str) -> str:
    name = name.strip()[:MAX_NAME]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="{colour(name)}"/>'
        '<text x="32" y="33" text-anchor="middle" dominant-baseline="central" '
        'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="30" '
        f'font-weight="bold" fill="#ffffff">{escape(initial(name))}</text></svg>'
    )


def install(app: Any) -> None:
    """Answer ``/avatars/<name>`` on ``app`` (Chainlit's FastAPI app) before Chainlit does."""
    from fastapi import Response

    if any(getattr(route, "name", None) == "coach_avatar" for route in app.router.routes):
        return

    async def coach_avatar(avatar_id: str) -> Response:
        return Response(
            avatar_svg(avatar_id),
            media_type="image/svg+xml",
            headers={"cache-control": "public, max-age=86400"},
        )

    app.add_api_route(PATH, coach_avatar, methods=["GET"], name="coach_avatar")
    # Routes match in order: ours first, ahead of Chainlit's and its catch-all.
    app.router.routes.insert(0, app.router.routes.pop())
