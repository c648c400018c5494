"""Shared fixtures. No test touches the network or needs a key.

Every test runs in its own working directory with the model variables
cleared, so a developer's .env or OPENAI_API_KEY never changes a result.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from bot.runtime import Runtime
from bot.settings import PROJECT_ROOT, Settings, get_settings

#: The environment before any test cleared it (opt-in live tests read their key here).
ORIGINAL_ENV = dict(os.environ)


def flag(name: str) -> bool:
    """A COACH_* switch as the test run was started with (tests clear COACH_*)."""
    return ORIGINAL_ENV.get(name) == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live-api",
        action="store_true",
        help="also run tests that call a hosted model (needs OPENAI_API_KEY)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live-api"):
        return
    skip = pytest.mark.skip(reason="calls a hosted model; opt in with --live-api")
    for item in items:
        if "live_api" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("COACH_", "OPENAI_", "CHAINLIT_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COACH_SEED", "7")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
async def offline(settings: Settings) -> AsyncIterator[Runtime]:
    """The offline runtime on the test database, its store set up and closed after."""
    runtime = Runtime.create(settings)
    await runtime.store.init()
    yield runtime
    await runtime.store.close()


@pytest.fixture
def repo() -> Path:
    return PROJECT_ROOT


class FakeChat(GenericFakeChatModel):
    """A chat model that replays queued answers and records every call.

    Queue strings for plain replies (streamed word by word) and dicts for
    structured answers (returned as a forced tool call named after the schema,
    as OpenAI-compatible servers do with function calling). A callable gets
    the schema asked for and returns the answer. An Exception in the queue is
    raised instead of answering.
    """

    calls: list[list[BaseMessage]] = Field(default_factory=list)
    tool_name: str = "TurnGrade"
    #: The schema structured output asked for (set by bind_tools).
    bound: Any = None

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:  # structured output uses this
        self.bound = tools[0]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append(list(messages))
        nxt = next(self.messages)
        if isinstance(nxt, Exception):
            raise nxt
        if callable(nxt):  # an answer computed from the schema that was asked for
            nxt = nxt(self.bound)
        if isinstance(nxt, dict):
            nxt = AIMessage(
                content="",
                tool_calls=[{"name": self.tool_name, "args": nxt, "id": f"call-{len(self.calls)}"}],
            )
        return _result(nxt)


def _result(message: AIMessage | str) -> ChatResult:
    from langchain_core.outputs import ChatGeneration

    msg = AIMessage(content=message) if isinstance(message, str) else message
    return ChatResult(generations=[ChatGeneration(message=msg)])


def fake_chat(*answers: Any) -> FakeChat:
    return FakeChat(messages=iter(answers), calls=[])


@pytest.fixture
def make_fake_chat() -> Any:
    return fake_chat
