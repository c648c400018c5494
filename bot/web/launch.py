"""Preparing and launching the web app (`coach run`).

Chainlit needs an auth secret, its app root (for .chainlit/ and public/) and
the database tables before it starts. The secret comes from
CHAINLIT_AUTH_SECRET or is generated once into the data folder (git-ignored);
none is ever committed. The data folder is private to the account running
the app (0700): it holds the database, the secret and the demo passwords.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.files import private_dir, write_private
from bot.settings import PROJECT_ROOT, Settings
from bot.storage import Store
from bot.users import Accounts, generate_password

#: The file Chainlit runs: it loads it by path, not as a module of this package.
HANDLERS = Path(__file__).resolve().parent / "handlers.py"
DEMO_USERS = (("demo", "trainee"), ("trainer", "trainer"))


def private_data_dir(settings: Settings) -> Path:
    """The data folder, created 0700 (or tightened to it)."""
    return private_dir(settings.data_dir)


def auth_secret(settings: Settings) -> str:
    """The key sign-in tokens are signed with: CHAINLIT_AUTH_SECRET, or one
    generated once into the data folder, 0600 from its first byte."""
    if secret := os.environ.get("CHAINLIT_AUTH_SECRET"):
        return secret
    path = private_data_dir(settings) / "auth_secret"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(48) + "\n", replace=False)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class DemoAccount:
    name: str
    role: str
    password: str


async def ensure_demo_accounts(settings: Settings) -> list[DemoAccount]:
    """Demo sign-ins for a local try-out, with random passwords kept in the data
    folder. Only `coach run --demo` creates them; a real deployment adds its
    own users with `coach users add`."""
    path = settings.data_dir / "demo_accounts"
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, password = line.partition(" ")
            known[name] = password
    store = Store(settings.resolved_database_url)
    await store.init()
    accounts = Accounts(store)
    out = []
    try:
        for name, role in DEMO_USERS:
            password = known.get(name, "")
            if not password or await accounts.authenticate(name, password) is None:
                password = generate_password()
                await accounts.add(name, role, password)
            out.append(DemoAccount(name, role, password))
    finally:
        await store.close()
    write_private(path, "".join(f"{a.name} {a.password}\n" for a in out))
    return out


async def prepare_database(settings: Settings) -> int:
    """Create the tables; return how many accounts exist."""
    private_data_dir(settings)
    store = Store(settings.resolved_database_url)
    try:
        await store.init()
        return len(await store.list_users())
    finally:
        await store.close()


def launch(settings: Settings, host: str, port: int, headless: bool) -> None:
    # Whatever the server writes (the database and its -wal/-shm, Chainlit's
    # .files/ and the files in it) is private to the account running it.
    os.umask(0o077)
    os.environ["CHAINLIT_AUTH_SECRET"] = auth_secret(settings)
    os.environ["CHAINLIT_APP_ROOT"] = str(PROJECT_ROOT)
    os.environ["CHAINLIT_HOST"] = host
    os.environ["CHAINLIT_PORT"] = str(port)
    # Imported only now: chainlit reads its app root and .env at import time.
    from chainlit.cli import run_chainlit
    from chainlit.config import FILES_DIRECTORY, config

    private_dir(FILES_DIRECTORY)  # Chainlit made it at import, with the old umask

    config.run.headless = headless
    config.run.host = host
    config.run.port = port
    # A sign-in lasts this long (Chainlit signs it into the token and the cookie).
    config.project.user_session_timeout = int(settings.token_lifetime_hours * 3600)
    run_chainlit(str(HANDLERS))


def prepare(settings: Settings) -> int:
    return asyncio.run(prepare_database(settings))
