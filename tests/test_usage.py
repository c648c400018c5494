"""The server's usage per customer turn: read from LangChain's messages, stored
beside the reply, and through a real OpenAI-compatible server (the local
fault server, which reports the cached prefix as ``cached_tokens``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

from bot.bench_prompt import play_against
from bot.personas import Persona, load_catalog
from bot.settings import Settings
from bot.storage import Store
from bot.testing.openai_server import Behaviour, FaultServer
from bot.usage import ModelUsage, add_usage, usage_of
from tests.test_postgres import postgres_url as postgres_url

ROOT = Path(__file__).resolve().parent.parent


def test_usage_is_read_from_usage_metadata_or_the_raw_token_usage() -> None:
    message = AIMessage(
        content="hi",
        usage_metadata={
            "input_tokens": 1200,
            "output_tokens": 30,
            "total_tokens": 1230,
            "input_token_details": {"cache_read": 1024},
        },
    )
    assert usage_of(message) == ModelUsage(1200, 1024, 30)
    raw = AIMessage(
        content="hi",
        response_metadata={
            "token_usage": {
                "prompt_tokens": 900,
                "completion_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 640},
            }
        },
    )
    assert usage_of(raw) == ModelUsage(900, 640, 12)
    assert usage_of(AIMessage(content="no usage")) is None
    assert usage_of(AIMessageChunk(content="a chunk")) is None


def test_usage_adds_up_over_chunks() -> None:
    assert add_usage(None, None) is None
    assert add_usage(None, ModelUsage(10, 0, 1)) == ModelUsage(10, 0, 1)
    assert add_usage(ModelUsage(10, 4, 1), ModelUsage(0, 0, 2)) == ModelUsage(10, 4, 3)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "sqlite":
        return settings.resolved_database_url
    return str(request.getfixturevalue("postgres_url"))


async def test_stored_usage_goes_with_its_message(database_url: str) -> None:
    store = Store(database_url)
    await store.init()
    try:
        sid = await store.create_session(persona_id="p", language="en", backend="b", mood=5)
        await store.add_message(sid, "trainee", "hello")
        reply = await store.add_message(sid, "customer", "hi", usage=ModelUsage(1100, 1024, 9))
        await store.add_message(sid, "customer", "authored, no usage")
        [row] = await store.usage_for_session(sid)
    finally:
        await store.close()
    assert (row.message_id, row.chain) == (reply, "customer")
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (1100, 1024, 9)


def lasting(pid: str) -> Persona:
    persona = load_catalog(ROOT / "personas").personas[pid]
    return persona.model_copy(
        update={"mood": persona.mood.model_copy(update={"walkout_at": 11, "calm_at": -1})}
    )


async def test_each_customer_turn_stores_what_the_server_reported(settings: Settings) -> None:
    """A session through the compatible backend against the local test server:
    one usage row per customer reply, the cached part growing with the prefix
    the prompt layout keeps stable."""
    lines = [
        "I'm so sorry, I can see how frustrating this is.",
        "If I understand correctly, the parcel has not arrived, is that right?",
        "I'm pulling up your order right now.",
        "I'll call you back by 5 pm today with the tracking.",
        "Is there anything else I can help you with?",
    ]
    async with FaultServer(Behaviour(reply="Fine. Where is my parcel, then?")) as server:
        rows = await play_against(settings, server, lasting("en-late-parcel"), lines)
        persona_calls = [r for r in server.requests if r.kind == "persona"]
    assert len(rows) == len(lines) == len(persona_calls)
    assert [r.prompt_tokens for r in rows] == [c.prompt_tokens for c in persona_calls]
    assert [r.cached_tokens for r in rows] == [c.cached_tokens for c in persona_calls]
    assert all(r.completion_tokens > 0 for r in rows)
    # From the second turn on, all but the new messages and the note is a cached prefix.
    for row in rows[1:]:
        assert row.cached_tokens / row.prompt_tokens > 0.8
