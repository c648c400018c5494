from __future__ import annotations

import pytest

from bot.backends import resolve_backend
from bot.backends.openai_compat import chat_model
from bot.conversation import Message
from bot.errors import BackendError, ConfigError
from bot.settings import CHAINLIT_FAKE_KEY, Settings, get_settings
from bot.tokens import count_tokens, message_tokens, trim_history


def test_tokens_are_counted_offline() -> None:
    assert count_tokens("Bonjour, je suis désolée pour ce double prélèvement.") > 5
    assert count_tokens("") == 0


def test_a_long_session_sends_only_what_fits_the_budget() -> None:
    history = [Message(role="customer", content="Opening: my internet is down since Monday.")]
    for i in range(40):
        history.append(Message(role="trainee", content=f"Reply number {i}: " + "words " * 30))
        history.append(Message(role="customer", content=f"Answer number {i}: " + "more " * 30))
    kept, dropped = trim_history(history, 600)
    assert sum(message_tokens(m) for m in kept) <= 600
    assert kept[0] == history[0]  # the opening states the problem: always kept
    assert kept[-1] == history[-1]  # the latest messages are kept
    assert dropped == len(history) - len(kept) and dropped > 60


def test_trim_keeps_everything_that_fits() -> None:
    history = [Message(role="customer", content="Hi"), Message(role="trainee", content="Hello")]
    assert trim_history(history, 1000) == (history, 0)


def env_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


def test_backend_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_backend(env_settings(monkeypatch)).kind == "offline"
    s = env_settings(monkeypatch, OPENAI_API_KEY="sk-test")
    assert (resolve_backend(s).kind, resolve_backend(s).structured_method) == (
        "openai",
        "json_schema",
    )
    s = env_settings(monkeypatch, OPENAI_BASE_URL="http://127.0.0.1:8080/v1")
    assert (resolve_backend(s).kind, resolve_backend(s).structured_method) == (
        "compatible",
        "function_calling",
    )
    s = env_settings(monkeypatch, COACH_STRUCTURED_OUTPUT="json_mode")
    assert resolve_backend(s).structured_method == "json_mode"
    s = env_settings(monkeypatch, COACH_BACKEND="offline")
    assert resolve_backend(s).kind == "offline"


def test_chainlit_ci_placeholder_is_not_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    s = env_settings(monkeypatch, OPENAI_API_KEY=CHAINLIT_FAKE_KEY)
    assert resolve_backend(s).kind == "offline"


def test_forcing_a_backend_without_its_variable_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="needs OPENAI_BASE_URL"):
        resolve_backend(env_settings(monkeypatch, COACH_BACKEND="compatible"))
    monkeypatch.delenv("COACH_BACKEND")
    with pytest.raises(BackendError, match="offline"):
        chat_model(env_settings(monkeypatch), "persona")


def test_compatible_servers_get_max_tokens_in_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    s = env_settings(
        monkeypatch, OPENAI_BASE_URL="http://127.0.0.1:8080/v1", COACH_GRADER_MAX_TOKENS="777"
    )
    model = chat_model(s, "grader")
    assert model.extra_body == {"max_tokens": 777}  # type: ignore[attr-defined]
    assert model.max_tokens is None  # type: ignore[attr-defined]
