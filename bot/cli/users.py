"""``coach users``: the accounts that can sign in to the web app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.cli.common import out, run_async

if TYPE_CHECKING:
    from bot.users import Accounts

T = TypeVar("T")

app = typer.Typer(help="Manage the accounts that can sign in to the web app.", no_args_is_help=True)


def with_accounts(action: Callable[[Accounts], Awaitable[T]]) -> T:
    """Run ``action`` on the accounts in the configured database, then close it."""
    # The database layer (SQLAlchemy) loads here, not when the command line starts.
    from bot.settings import get_settings
    from bot.storage import Store
    from bot.users import Accounts

    async def go() -> T:
        store = Store(get_settings().resolved_database_url)
        try:
            await store.init()
            return await action(Accounts(store))
        finally:
            await store.close()

    return run_async(go())


@app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Option(help="trainee, trainer or evaluator.")],
    password: Annotated[
        str | None, typer.Option(help="The password (default: a random one, printed once).")
    ] = None,
) -> None:
    """Add an account, or reset its role and password."""
    from bot.users import generate_password

    chosen = password or generate_password()
    with_accounts(lambda accounts: accounts.add(name, role, chosen))
    shown = "" if password else f" with password {chosen}"
    out.print(f"added {name} ({role}){shown}", markup=False)


@app.command("list")
def users_list() -> None:
    """List accounts and their roles."""
    for account in with_accounts(lambda accounts: accounts.list()):
        print(f"{account.name}\t{account.role}")


@app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="The sign-in name.")]) -> None:
    """Remove an account (its sessions stay); its sign-ins end at once."""
    with_accounts(lambda accounts: accounts.remove(name))
    out.print(f"removed {name}", markup=False)


@app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    password: Annotated[
        str | None, typer.Option(help="The new password (default: a random one, printed once).")
    ] = None,
) -> None:
    """Change an account's password; it is signed out everywhere."""
    from bot.users import generate_password

    chosen = password or generate_password()
    with_accounts(lambda accounts: accounts.set_password(name, chosen))
    shown = "" if password else f"; new password {chosen}"
    out.print(f"changed the password of {name}{shown}", markup=False)


@app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Argument(help="trainee, trainer or evaluator.")],
) -> None:
    """Change an account's role; it is signed out everywhere."""
    with_accounts(lambda accounts: accounts.set_role(name, role))
    out.print(f"{name} is now {role}", markup=False)


@app.command("signout")
def users_signout(name: Annotated[str, typer.Argument(help="The sign-in name.")]) -> None:
    """End every signed-in session of an account (it can sign in again)."""
    with_accounts(lambda accounts: accounts.sign_out(name))
    out.print(f"signed out {name} everywhere", markup=False)
