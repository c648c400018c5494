"""Whether a sign-in token still speaks for its account.

Chainlit's tokens are signed JWTs that it trusts until they expire, whatever
happened to the account since. Here every use of a token (each HTTP request
that needs a user, each socket connection and event) is checked against the
account as it is *now*: it must still exist, still have the role the token
was issued with, and still carry the credential stamp the token carries.
The stamp changes when the password or the role changes, when the account
signs out and when it is removed and added again (bot/users.py), so each of
those ends every token issued before it, on the next request.

OAuth identities have no account here (their role comes from
COACH_OAUTH_TRAINERS at sign-in): their tokens are refused after a sign-out
(kept in memory until they would have expired), after the configured
lifetime, and when their role in COACH_OAUTH_TRAINERS has changed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from bot.storage import Store
from bot.users import Accounts

#: The claim of the user's metadata that holds the account's credential stamp.
STAMP = "stamp"


class TokenRefused(Exception):
    """The token no longer speaks for anyone: sign in again."""


@dataclass(frozen=True)
class Claims:
    """Who a valid token speaks for, and with which role now."""

    identifier: str
    role: str
    oauth: bool


def _secret() -> str:
    # The same variable Chainlit signs with (set by bot/web/launch.py).
    from chainlit.auth.jwt import get_jwt_secret

    secret = get_jwt_secret()
    if not secret:
        raise TokenRefused("the server has no auth secret; restart it with coach run")
    return str(secret)


def decode(token: str) -> dict[str, Any]:
    """The token's claims if its signature and expiry are good."""
    try:
        claims: dict[str, Any] = jwt.decode(token, _secret(), algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"invalid sign-in token ({exc}); sign in again") from None
    return claims


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Credentials:
    """Checks tokens against the accounts in ``store``.

    ``lifetime`` gives the longest a token may live in seconds (read at each
    check, so a lower setting also cuts tokens issued under a higher one);
    ``oauth_role`` gives an OAuth identity's role today.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        lifetime: Callable[[], float],
        oauth_role: Callable[[str], str],
    ) -> None:
        self._store = store
        self._lifetime = lifetime
        self._oauth_role = oauth_role
        #: Digests of tokens ended by a sign-out -> when they would have expired.
        self._ended: dict[str, float] = {}

    async def check(self, token: str) -> Claims:
        """The token's :class:`Claims`, or :class:`TokenRefused` saying why not."""
        claims = decode(token)
        if _digest(token) in self._ended:
            raise TokenRefused("this sign-in was ended by signing out; sign in again")
        issued = claims.get("iat")
        if not isinstance(issued, int | float) or time.time() - issued > self._lifetime():
            raise TokenRefused("this sign-in is too old; sign in again")
        identifier = claims.get("identifier")
        metadata = claims.get("metadata")
        if not isinstance(identifier, str) or not isinstance(metadata, dict):
            raise TokenRefused("this sign-in token names nobody; sign in again")
        role = metadata.get("role")
        if metadata.get("provider"):
            if role != self._oauth_role(identifier):
                raise TokenRefused("your role has changed; sign in again")
            return Claims(identifier, str(role), oauth=True)
        account = await Accounts(self._store()).current(identifier)
        if account is None:
            raise TokenRefused(f"there is no account '{identifier}' any more")
        stamp = metadata.get(STAMP)
        if not isinstance(stamp, str) or not account.stamp:
            raise TokenRefused("this sign-in predates the current credentials; sign in again")
        if not hmac.compare_digest(stamp, account.stamp):
            raise TokenRefused(
                "this sign-in was ended (signed out, password or role changed); sign in again"
            )
        if role != account.role:
            raise TokenRefused("your role has changed; sign in again")
        return Claims(identifier, account.role, oauth=False)

    async def end(self, token: str) -> None:
        """Sign-out: a password account's every token ends (a new stamp); an
        OAuth token ends alone. A token that is already refused changes nothing."""
        try:
            claims = await self.check(token)
        except TokenRefused:
            return
        if claims.oauth:
            now = time.time()
            self._ended = {d: exp for d, exp in self._ended.items() if exp > now}
            self._ended[_digest(token)] = float(decode(token).get("exp", now + self._lifetime()))
            return
        await Accounts(self._store()).sign_out(claims.identifier)
