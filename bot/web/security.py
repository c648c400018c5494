"""The web app's doors: which origins may drive it, what every response says
about framing and sniffing, how fast one client may try passwords, which
Chainlit surfaces the product does not use are shut, and which tokens still
count.

Chainlit is archived upstream and ships permissive defaults (any origin,
with credentials; a socket server that checks no origin; uploads, message
editing and thread sharing answered server-side even when the config turns
them off). :func:`install` closes them on Chainlit's own objects before the
server starts: an ASGI middleware in front of everything (HTTP and the
socket.io websocket), the CORS middleware narrowed to the allowed origins,
the socket.io server's origin list and connect handler, and a FastAPI
dependency override that re-checks every token (bot/web/credentials.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bot.web.credentials import Credentials, TokenRefused

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: On every HTTP response. The CSP only adds what cannot break Chainlit's
#: page (it needs inline scripts and styles): no framing by anyone, images
#: only from the app itself (a remote image in a message is not fetched),
#: no plugins, forms and <base> only to the app itself.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"frame-ancestors 'none'; img-src 'self' data: blob:; object-src 'none'; "
        b"base-uri 'self'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)

#: Methods that change something: a foreign Origin or Referer is refused.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Chainlit routes the product does not use, refused whatever the config says
#: (method, path prefix) -> why, for the 403 answer.
SHUT_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/project/file", "file uploads are turned off in this app"),
    ("PUT", "/project/thread/share", "thread sharing is turned off in this app"),
    ("GET", "/project/share/", "thread sharing is turned off in this app"),
    ("POST", "/auth/jwt", "signing in with a bare token is turned off; use the sign-in form"),
    ("POST", "/auth/header", "header sign-in is turned off; use the sign-in form"),
    ("POST", "/mcp", "MCP servers are turned off in this app"),
    ("DELETE", "/mcp", "MCP servers are turned off in this app"),
)

#: Socket events the product does not use: ignored, whatever the config says.
SHUT_EVENTS = ("edit_message", "message_favorite", "fetch_favorites")

#: Set in a chat's user session when it was opened in place of a refused thread.
REFUSED_THREAD = "refused_thread"

LOGIN_PATH = "/login"
#: A sign-in form is a name and a password; anything bigger is refused unread.
MAX_LOGIN_BODY = 16 * 1024


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL (lower case), None if it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def default_origins(host: str, port: int) -> list[str]:
    """What `coach run --host HOST --port PORT` is opened from."""
    origins = [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    if host not in ("127.0.0.1", "localhost", "0.0.0.0", "::", ""):
        origins.append(f"http://{host}:{port}")
    return origins


@dataclass
class LoginLimiter:
    """At most ``attempts`` sign-ins failing or in progress per client address
    within ``window`` seconds; successful ones do not count (a classroom
    behind one address signs in at nine). Bounded memory: the oldest
    addresses are forgotten past ``max_clients``."""

    attempts: int = 10
    window: float = 60.0
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try again; 0 if it may try now."""
        now = time.monotonic()
        recent = self._failures.get(client)
        while recent and now - recent[0] > self.window:
            recent.popleft()
        used = len(recent or ()) + self._pending.get(client, 0)
        if used < self.attempts:
            return 0.0
        return self.window - (now - recent[0]) if recent else 1.0

    def start(self, client: str) -> None:
        self._pending[client] = self._pending.get(client, 0) + 1

    def finish(self, client: str, succeeded: bool) -> None:
        left = self._pending.get(client, 1) - 1
        if left > 0:
            self._pending[client] = left
        else:
            self._pending.pop(client, None)
        if not succeeded:
            self.failed(client)

    def failed(self, client: str) -> None:
        self._failures.setdefault(client, deque()).append(time.monotonic())
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]


@dataclass
class Policy:
    """What the middleware enforces (kept apart from ASGI, to test and to share)."""

    origins: frozenset[str]
    login: LoginLimiter
    #: What to answer a sign-in as this account name (locked out), None to let it try.
    account_locked: Callable[[str], str | None] = lambda _name: None

    def allows_origin(self, origin: str | None) -> bool:
        """A missing Origin is allowed (not a cross-origin browser request:
        browsers send one on every cross-origin request); "null" is not."""
        return origin is None or origin.rstrip("/").lower() in self.origins

    def foreign(self, method: str, headers: dict[bytes, bytes]) -> str | None:
        """Why a request is refused as cross-origin, None if it is not."""
        origin = headers.get(b"origin")
        if origin is not None and not self.allows_origin(origin.decode("latin-1")):
            return (
                f"requests from {origin.decode('latin-1')} are refused; open the app from "
                f"{' or '.join(sorted(self.origins))} (or list its origin in COACH_ALLOWED_ORIGINS)"
            )
        referer = headers.get(b"referer")
        if (
            origin is None
            and referer
            and method in UNSAFE_METHODS
            and not self.allows_origin(origin_of(referer.decode("latin-1")) or "null")
        ):
            return "cross-site requests are refused; use the app's own page"
        return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _answer(
    send: Send, status: int, detail: str, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The ASGI middleware in front of the whole app (pages, API, socket.io)."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        method = str(scope.get("method", "GET")).upper()
        path = str(scope.get("path", ""))
        reason = self.policy.foreign(method, headers)
        if scope["type"] == "websocket":
            if reason:
                log.warning("websocket refused: %s", reason)
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if reason:
            await _answer(send, 403, reason)
            return
        for shut_method, prefix, why in SHUT_ROUTES:
            if method == shut_method and (path == prefix or path.startswith(prefix)):
                await _answer(send, 403, why)
                return
        if method == "POST" and path == LOGIN_PATH:
            await self._login(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send))

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client, limiter = _client(scope), self.policy.login
        wait = limiter.wait(client)
        if wait:
            seconds = max(1, int(wait + 0.999))
            await _answer(
                send,
                429,
                f"too many sign-in attempts from your address; wait {seconds} s and try again",
                [(b"retry-after", str(seconds).encode())],
            )
            return
        # Counted from now, before any await: 30 requests arriving together
        # must not all pass the check above before the first is counted.
        limiter.start(client)
        status = 500
        try:
            status = await self._sign_in(scope, receive, send)
        finally:
            limiter.finish(client, succeeded=status < 400)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Read the form (bounded), refuse a locked account, else let Chainlit
        sign in; the status answered."""
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return 499  # the client went away
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                await _answer(
                    send, 413, "the sign-in form is too large; send a name and a password"
                )
                return 413
            if not message.get("more_body", False):
                break
        name = await _form_field(scope, body, "username")
        if name and (why := self.policy.account_locked(name)):
            await _answer(send, 429, why, [(b"retry-after", b"60")])
            return 429
        status = 500
        inner = _with_headers(send)

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await inner(message)

        await self.app(scope, _replay(body, receive), watch)
        return status


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` again, then whatever comes after."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


async def _form_field(scope: Scope, body: bytes, field_name: str) -> str | None:
    """One field of a (urlencoded or multipart) form body, None if unreadable."""
    from starlette.requests import Request

    async def nothing_more() -> Message:
        return {"type": "http.disconnect"}

    try:
        form = await Request(scope, _replay(body, nothing_more)).form()
        value = form.get(field_name)
        await form.close()
    except Exception:  # a malformed form: Chainlit's own parser will answer it
        return None
    return value if isinstance(value, str) else None


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message["headers"] = [
                *message.get("headers", []),
                *(h for h in SECURITY_HEADERS if h[0] not in present),
            ]
        await send(message)

    return sending


# --- installing it on Chainlit ------------------------------------------------------------


def install(
    policy: Policy,
    credentials: Credentials,
    app: Any | None = None,
    sio: Any | None = None,
) -> None:
    """Put the guard, the origin lists, the token checks and the shut socket
    events on Chainlit's app and socket.io server (before it starts)."""
    from chainlit.auth import authenticate_user, get_current_user, require_login
    from chainlit.auth.cookie import get_token_from_cookies
    from chainlit.server import app as chainlit_app
    from chainlit.server import sio as chainlit_sio
    from fastapi import Depends, HTTPException
    from socketio.exceptions import ConnectionRefusedError as Refused
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import cookie_parser

    from bot.web.data_layer import is_uuid

    app = app if app is not None else chainlit_app
    sio = sio if sio is not None else chainlit_sio
    origins = sorted(policy.origins)

    # HTTP: the guard outermost; Chainlit's CORS answers only our origins.
    if not any(m.cls is Guard for m in app.user_middleware):
        app.add_middleware(Guard, policy=policy)
    for middleware in app.user_middleware:
        if middleware.cls is CORSMiddleware:
            middleware.kwargs["allow_origins"] = origins

    from chainlit.auth import reuseable_oauth

    async def checked_user(token: str | None = Depends(reuseable_oauth)) -> Any:
        if not require_login():
            return None
        if not token:
            raise HTTPException(status_code=401, detail="not signed in; sign in first")
        try:
            claims = await credentials.check(token)
        except TokenRefused as exc:
            raise HTTPException(status_code=401, detail=str(exc)) from None
        user = await authenticate_user(token)
        if user is not None:
            # The role as it is now, whatever an older copy of the user says.
            user.metadata = {**(user.metadata or {}), "role": claims.role}
        return user

    app.dependency_overrides[get_current_user] = checked_user

    # Socket.io: engine.io refuses a foreign Origin at the transport, the
    # connect handler refuses it again and checks the token.
    sio.eio.cors_allowed_origins = origins
    handlers: dict[str, Callable[..., Any]] = sio.handlers.setdefault("/", {})
    connect = handlers.get("connect")
    if connect is None or getattr(connect, "_coach_guarded", False):
        return

    def token_of(environ: dict[str, Any]) -> str | None:
        cookie = environ.get("HTTP_COOKIE")
        return get_token_from_cookies(cookie_parser(cookie)) if cookie else None

    async def guarded_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        if not policy.allows_origin(origin):
            log.warning("socket connection refused: origin %s", origin)
            raise Refused(
                f"origin {origin} is not allowed; open the app from {' or '.join(origins)}"
            )
        claims = None
        if require_login():
            token = token_of(environ)
            if not token:
                raise Refused("not signed in; sign in first")
            try:
                claims = await credentials.check(token)
            except TokenRefused as exc:
                log.warning("socket connection refused: %s", exc)
                raise Refused(str(exc)) from None
        try:
            result = await connect(sid, environ, auth)
        except ConnectionRefusedError:
            thread_id = auth.get("threadId") if isinstance(auth, dict) else None
            if not is_uuid(thread_id):
                raise
            # Someone else's thread (an old or shared link): it stays refused,
            # but the page gets a new chat that says so rather than a dead
            # "cannot reach the server".
            log.warning("socket: thread %s refused; a new chat is opened instead", thread_id)
            result = await connect(sid, environ, {**auth, "threadId": None})
            mark_refused_thread(sid)
        if claims is not None:
            _set_role(sid, claims.role)
        return result

    guarded_connect._coach_guarded = True  # type: ignore[attr-defined]
    handlers["connect"] = guarded_connect

    for event in SHUT_EVENTS:
        if event in handlers:
            handlers[event] = _shut(event)

    for event, handler in list(handlers.items()):
        if event not in ("connect", "disconnect"):
            handlers[event] = _rechecked(event, handler, credentials, sio)


def mark_refused_thread(sid: str) -> None:
    """Note on the new chat that it replaces a thread the user was refused."""
    from chainlit.session import WebsocketSession
    from chainlit.user_session import user_sessions

    session = WebsocketSession.get(sid)
    if session is not None:
        user_sessions.setdefault(session.id, {})[REFUSED_THREAD] = True


def _set_role(sid: str, role: str) -> None:
    from chainlit.session import WebsocketSession

    session = WebsocketSession.get(sid)
    if session is not None and session.user is not None:
        session.user.metadata = {**(session.user.metadata or {}), "role": role}


def _shut(event: str) -> Callable[..., Awaitable[None]]:
    async def refused(sid: str, *args: Any) -> None:
        log.warning("socket event %s refused: turned off in this app", event)

    return refused


def _rechecked(
    event: str, handler: Callable[..., Any], credentials: Credentials, sio: Any
) -> Callable[..., Awaitable[Any]]:
    """``handler``, run only while the session's token still counts: a removed
    or signed-out user's open tab is disconnected at its next event."""

    async def checked(sid: str, *args: Any) -> Any:
        from chainlit.session import WebsocketSession

        session = WebsocketSession.get(sid)
        token = getattr(session, "token", None) if session is not None else None
        if token:
            try:
                await credentials.check(token)
            except TokenRefused as exc:
                log.warning("socket event %s refused, disconnecting: %s", event, exc)
                await sio.disconnect(sid)
                return None
        return await handler(sid, *args)

    return checked
