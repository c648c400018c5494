"""``coach run``: the web app (Chainlit and everything behind it load only here)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import note, out, run_async


def run(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = False,
    demo: Annotated[
        bool,
        typer.Option(
            help="Create demo accounts (a trainee and a trainer) and print how to sign in."
        ),
    ] = False,
) -> None:
    """Start the web app."""
    from bot.backends import resolve_backend
    from bot.settings import get_settings
    from bot.web.launch import ensure_demo_accounts, launch, prepare

    settings = get_settings()
    backend = resolve_backend(settings)
    users = prepare(settings)
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    if demo:
        accounts = run_async(ensure_demo_accounts(settings))
        out.print(f"Open {url} and sign in as:", markup=False)
        for account in accounts:
            out.print(f"  {account.name} / {account.password}   ({account.role})", markup=False)
    elif users == 0:
        note(
            "no accounts yet, so nobody can sign in; add one with "
            "coach users add NAME --role trainee (or run with --demo)"
        )
    if host not in ("127.0.0.1", "localhost") and not settings.allowed_origin_list:
        note(
            f"only http://localhost:{port} and http://127.0.0.1:{port} may open the app; "
            "set COACH_ALLOWED_ORIGINS to the address people will use "
            f"(e.g. http://coach.example.org:{port})"
        )
    out.print(f"Model: {backend.describe()}", markup=False)
    if backend.notice:
        out.print(backend.notice, markup=False, style="dim")
    launch(settings, host, port, headless)
