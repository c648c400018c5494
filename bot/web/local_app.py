"""The real web app as a subprocess on loopback: what benchmarks and end-to-end
tests run against.

It starts ``coach run`` exactly as a user would, on a free port of 127.0.0.1
with its own data folder, waits until it answers, and stops it (terminate,
then kill) however the caller ends. The environment keeps nothing of the
caller's ``COACH_``, ``OPENAI_`` or ``CHAINLIT_`` variables, so a run is
offline and reproducible unless the caller says otherwise.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any


def free_port() -> int:
    """A TCP port nobody listens on, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalApp:
    """``coach run`` in a subprocess, with its own data folder."""

    def __init__(
        self,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        demo: bool = False,
        port: int | None = None,
        timeout: float = 90.0,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = workdir / "data"
        self.demo = demo
        self.timeout = timeout
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COACH_", "OPENAI_", "CHAINLIT_"))
        }
        # Unbuffered, so the app's log says what it did by the time it did it.
        self.env = {
            **clean,
            "COACH_DATA_DIR": str(self.data),
            "COACH_SEED": "3",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "app.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def coach(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A ``coach`` command against the same data folder."""
        return subprocess.run(
            ["coach", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def start(self) -> None:
        """Start the app and wait until it answers (or fail with its log)."""
        command = ["coach", "run", "--headless", "--port", str(self.port)]
        if self.demo:
            command.append("--demo")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(self.log()[-3000:]) from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            self.process = None

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of the app's own SQLite file (read-only use)."""
        with sqlite3.connect(self.data / "coach.db") as conn:
            return conn.execute(query, params).fetchall()

    def __enter__(self) -> LocalApp:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
