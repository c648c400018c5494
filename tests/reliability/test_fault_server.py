"""The fault-injecting OpenAI-compatible server (bot/testing/openai_server.py),
over real HTTP on loopback, through httpx and through the same LangChain
client and grade schema the app uses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langchain_openai import ChatOpenAI

from bot.grader import llm_grade_model
from bot.testing.openai_server import (
    Behaviour,
    Fault,
    FaultMix,
    FaultServer,
    example_instance,
)


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    behaviour = Behaviour(
        retry_after=0.2, stall_seconds=0.6, keepalive_interval=0.1, trickle_interval=0.1
    )
    async with FaultServer(behaviour) as s:
        yield s


def chat(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


def events(raw: str) -> list[str]:
    return [line[len("data: ") :] for line in raw.splitlines() if line.startswith("data: ")]


async def post(s: FaultServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(s.base_url + "/chat/completions", json=body, headers=headers)


async def test_plain_answer_with_usage(server: FaultServer) -> None:
    response = await post(server, chat())
    data = response.json()
    assert response.status_code == 200
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["choices"][0]["message"]["content"].startswith("I have been waiting")
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    [record] = server.requests
    assert (record.kind, record.stream, record.fault, record.outcome) == (
        "persona",
        False,
        None,
        "ok",
    )


async def test_stream_ends_with_a_finish_reason_usage_and_done(server: FaultServer) -> None:
    body = chat(stream=True, stream_options={"include_usage": True})
    response = await post(server, body)
    lines = events(response.text)
    assert lines[-1] == "[DONE]"
    parsed = [json.loads(line) for line in lines[:-1]]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in parsed if p["choices"])
    assert text == Behaviour().reply
    assert [p["choices"][0]["finish_reason"] for p in parsed if p["choices"]][-1] == "stop"
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"]["completion_tokens"] == len(text.split(" "))


async def test_max_tokens_stops_with_length(server: FaultServer) -> None:
    data = (await post(server, chat(max_tokens=3))).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"] == "I have been"


async def test_cached_tokens_count_the_prefix_shared_with_an_earlier_request(
    server: FaultServer,
) -> None:
    system = {"role": "system", "content": "You are a customer. " * 50}
    first = await post(
        server, {"model": "m", "messages": [system, {"role": "user", "content": "a"}]}
    )
    second = await post(
        server, {"model": "m", "messages": [system, {"role": "user", "content": "b"}]}
    )
    other = await post(server, chat("something else entirely"))
    assert first.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    usage = second.json()["usage"]
    shared_chars = len("<|system|>" + system["content"] + "\n<|user|>")
    assert usage["prompt_tokens_details"]["cached_tokens"] == shared_chars // 4
    assert usage["prompt_tokens"] > usage["prompt_tokens_details"]["cached_tokens"]
    assert other.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_the_grade_schema_comes_back_valid_through_langchain(server: FaultServer) -> None:
    schema = llm_grade_model(["empathy", "next_step"], bounded=True)
    model = ChatOpenAI(base_url=server.base_url, api_key="x", model="m", max_retries=0)
    for method in ("function_calling", "json_schema"):
        kwargs: dict[str, Any] = {"method": method}
        if method == "json_schema":
            kwargs["strict"] = True
        result = await model.with_structured_output(schema, **kwargs).ainvoke("grade this")
        assert isinstance(result, schema)
    kinds = [(r.kind, r.finish_reason) for r in server.requests]
    assert kinds == [("grader", "tool_calls"), ("grader", "stop")]


def test_example_instance_follows_refs_unions_and_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "v": {"$ref": "#/$defs/V"},
            "n": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 2}]},
            "s": {"type": "string", "minLength": 5, "maxLength": 6},
            "xs": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 2},
        },
        "$defs": {"V": {"type": "object", "properties": {"k": {"const": 7}}}},
    }
    assert example_instance(schema) == {"v": {"k": 7}, "n": 2, "s": "okkkk", "xs": ["a", "a"]}


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 500), ("503", 503)])
async def test_status_faults(server: FaultServer, fault: str, status: int) -> None:
    response = await post(server, chat(), **{"X-Coach-Fault": fault})
    assert response.status_code == status
    assert "error" in response.json()
    if status == 429:
        assert response.headers["Retry-After"] == "0.2"
    assert server.requests[0].fault == Fault(fault)


async def test_reset_drops_the_connection(server: FaultServer) -> None:
    with pytest.raises(httpx.TransportError):
        await post(server, chat(), **{"X-Coach-Fault": "reset"})
    assert server.requests[0].outcome == "fault"


async def test_cut_stream_has_no_finish_reason_and_no_done(server: FaultServer) -> None:
    response = await post(server, chat(stream=True), **{"X-Coach-Fault": "cut"})
    lines = events(response.text)
    assert "[DONE]" not in lines
    parsed = [json.loads(line) for line in lines]
    assert all(p["choices"][0]["finish_reason"] is None for p in parsed)
    assert "".join(p["choices"][0]["delta"].get("content") or "" for p in parsed) == "I have been"
    whole = (await post(server, chat(), **{"X-Coach-Fault": "cut"})).json()
    assert whole["choices"][0]["finish_reason"] is None


async def test_reset_mid_stream(server: FaultServer) -> None:
    with pytest.raises(httpx.TransportError):
        await post(server, chat(stream=True), **{"X-Coach-Fault": "reset_mid"})
    assert server.requests[0].completion_tokens == Behaviour().cut_after


async def test_malformed_and_bad_output(server: FaultServer) -> None:
    response = await post(server, chat(), **{"X-Coach-Fault": "malformed"})
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    streamed = await post(server, chat(stream=True), **{"X-Coach-Fault": "malformed"})
    with pytest.raises(json.JSONDecodeError):
        json.loads(events(streamed.text)[0])
    tools = [
        {
            "type": "function",
            "function": {
                "name": "g",
                "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
        }
    ]
    bad = await post(server, chat(tools=tools), **{"X-Coach-Fault": "bad_output"})
    arguments = bad.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


async def test_stall_then_answer_and_a_client_that_gives_up(server: FaultServer) -> None:
    started = time.monotonic()
    response = await post(server, chat(), **{"X-Coach-Fault": "stall"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.6
    server.behaviour.stall_seconds = 3600
    async with httpx.AsyncClient(timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                server.base_url + "/chat/completions",
                json=chat(),
                headers={"X-Coach-Fault": "stall"},
            )
    # The server notices the hang-up instead of sleeping for an hour.
    for _ in range(40):
        if server.requests[-1].ended is not None:
            break
        await asyncio.sleep(0.05)
    assert server.requests[-1].outcome == "client_gone"


async def test_keepalive_sends_bytes_but_no_token_until_the_stall_ends(server: FaultServer) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream(
            "POST",
            server.base_url + "/chat/completions",
            json=chat(stream=True),
            headers={"X-Coach-Fault": "keepalive"},
        ) as response,
    ):
        seen: list[tuple[float, str]] = []
        started = time.monotonic()
        async for line in response.aiter_lines():
            if line:
                seen.append((time.monotonic() - started, line))
    beats = [t for t, line in seen if line.startswith(": keep-alive")]
    first_token = next(t for t, line in seen if line.startswith("data: "))
    assert len(beats) >= 3
    assert first_token >= 0.6 > beats[0]


async def test_trickle_spaces_the_tokens(server: FaultServer) -> None:
    server.behaviour.trickle_interval = 0.05
    started = time.monotonic()
    response = await post(server, chat(stream=True), **{"X-Coach-Fault": "trickle"})
    tokens = len(Behaviour().reply.split(" "))
    assert events(response.text)[-1] == "[DONE]"
    assert time.monotonic() - started >= 0.05 * (tokens - 1)


async def test_ttft_and_token_delay(server: FaultServer) -> None:
    server.behaviour.ttft = 0.3
    server.behaviour.token_delay = 0.01
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        async with client.stream(
            "POST", server.base_url + "/chat/completions", json=chat(stream=True)
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    first = time.monotonic() - started
                    break
    assert first >= 0.3


async def test_seeded_mix_is_reproducible_and_respects_kind() -> None:
    async def faults(seed: int) -> list[Fault | None]:
        mix = FaultMix(rate=0.3, modes=(Fault.SERVER_ERROR, Fault.RATE_LIMIT), seed=seed)
        async with FaultServer(Behaviour(), mix) as s:
            for _ in range(40):
                await post(s, chat())
            return [r.fault for r in s.requests]

    a, b, c = await faults(1), await faults(1), await faults(2)
    assert a == b != c
    assert 3 <= sum(f is not None for f in a) <= 25
    mix = FaultMix(rate=1.0, modes=(Fault.SERVER_ERROR,), applies_to="grader")
    async with FaultServer(Behaviour(), mix) as s:
        assert (await post(s, chat())).status_code == 200
        tools = [{"type": "function", "function": {"name": "g", "parameters": {}}}]
        assert (await post(s, chat(tools=tools))).status_code == 500


async def test_queue_by_kind_then_header_none(server: FaultServer) -> None:
    server.queue("503", kind="grader")
    server.queue("429")
    assert (await post(server, chat())).status_code == 429
    tools = [{"type": "function", "function": {"name": "g", "parameters": {}}}]
    assert (await post(server, chat(tools=tools))).status_code == 503
    server.queue("500")
    assert (await post(server, chat(), **{"X-Coach-Fault": "none"})).status_code == 200
    assert server.faults_injected() == 2


def test_running_in_a_thread_with_http_control() -> None:
    with FaultServer().running() as s, httpx.Client(timeout=10) as client:
        root = s.base_url.removesuffix("/v1")
        client.post(
            root + "/_coach/faults", json={"rate": 1.0, "modes": ["503"]}
        ).raise_for_status()
        assert client.post(s.base_url + "/chat/completions", json=chat()).status_code == 503
        client.post(root + "/_coach/faults", json={"rate": 0.0}).raise_for_status()
        client.post(root + "/_coach/behaviour", json={"reply": "Fine."}).raise_for_status()
        data = client.post(s.base_url + "/chat/completions", json=chat()).json()
        assert data["choices"][0]["message"]["content"] == "Fine."
        records = client.get(root + "/_coach/requests").json()
        assert [r["fault"] for r in records] == ["503", None]
        assert client.post(root + "/_coach/behaviour", json={"nope": 1}).status_code == 400
        client.post(root + "/_coach/reset").raise_for_status()
        assert s.requests == []


async def test_bad_request_is_recorded(server: FaultServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(server.base_url + "/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert server.requests[0].outcome == "bad_request"
