"""The reliability tests: the real SQLite file, a real PostgreSQL server, the
real app on loopback and the fault-injecting model server
(bot/testing/openai_server.py).

Each load test records its figures with :func:`report`; they are printed at
the end of the run (the CI log), and one run's are quoted in the README.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_postgres import fresh_database
from tests.test_postgres import postgres_url as postgres_url

#: (test, figures) in the order they were reported.
FIGURES: list[tuple[str, dict[str, object]]] = []


def report(name: str, **figures: object) -> None:
    """Keep ``figures`` for the end-of-run summary."""
    FIGURES.append((name, figures))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES:
        line = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in figures.items())
        terminalreporter.write_line(f"{name}: {line}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'coach.db'}"
        return
    yield await fresh_database(request.getfixturevalue("postgres_url"))
