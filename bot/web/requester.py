"""Who is asking: the signed-in user behind a call into the data layer.

Chainlit does not pass the user to its data layer, so it is found here:

- inside a socket handler (and the tasks it starts), Chainlit's context holds
  the websocket session, whose user is the one who signed in on that socket;
- in an HTTP route (``/feedback``, ``/project/threads``, ...) and in the
  socket's ``connect`` handler there is no context yet, but Chainlit resolves
  the signed JWT's user through ``data_layer.get_user`` first, in the same
  task (FastAPI awaits the ``get_current_user`` dependency in the task that
  then runs the route; ``connect`` awaits it itself). The data layer records
  that identity here, in a context variable, so it is seen by the rest of that
  request only and by no other request.

When both are known and disagree, nobody is asking: every check fails closed.
"""

from __future__ import annotations

from contextvars import ContextVar

from chainlit.context import context_var

_signed_in: ContextVar[str | None] = ContextVar("coach_signed_in", default=None)


def remember_signed_in(identifier: str) -> None:
    """Record the user Chainlit authenticated for this request or socket event."""
    _signed_in.set(identifier)


def current_identifier() -> str | None:
    """The identifier of the user behind the current call, or None if unknown."""
    recorded = _signed_in.get()
    try:
        chainlit_context = context_var.get()
    except LookupError:
        return recorded
    user = getattr(chainlit_context.session, "user", None)
    identifier = getattr(user, "identifier", None)
    if not isinstance(identifier, str):
        return recorded
    if recorded is not None and recorded != identifier:
        return None
    return identifier
