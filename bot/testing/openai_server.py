"""A fault-injecting OpenAI-compatible server on loopback, for tests and benchmarks.

Real HTTP (aiohttp) on ``127.0.0.1``: the app, the CLI or a benchmark point
``OPENAI_BASE_URL`` at :attr:`FaultServer.base_url` and talk to it exactly as
they would to llama.cpp or OpenAI, SDK retries, timeouts and streaming
included. It serves

- ``POST /v1/chat/completions``, streamed (SSE, ``stream_options.include_usage``
  honoured) or not; plain text, a forced tool call (``tools`` +
  ``tool_choice``, what the grader sends to compatible servers) or
  ``response_format`` ``json_schema`` / ``json_object``. Structured answers
  are a valid instance of the requested JSON schema (:func:`example_instance`:
  the first enum value, every property, strings within their bounds) unless
  :attr:`Behaviour.structured` builds them;
- ``usage`` with ``prompt_tokens_details.cached_tokens``: the longest prefix
  the request's prompt (tools, response format and messages, serialised in
  order) shares with any earlier request's, so a caller's prompt-caching
  layout can be measured. Tokens are counted as characters / 4 (rounded up
  for the prompt, down for the cached prefix);
- ``GET /v1/models``; and a control surface for a server in another process:
  ``GET /_coach/requests`` (the records as JSON), ``POST /_coach/behaviour``
  and ``POST /_coach/faults`` (fields of :class:`Behaviour` / :class:`FaultMix`),
  ``POST /_coach/queue`` (``{"faults": [...], "kind": "grader"}``),
  ``POST /_coach/reset``.

Latency, per server (:class:`Behaviour`, mutable while running): ``ttft``
seconds before the first token (or the whole non-streamed answer), plus
``prefill_per_token`` seconds for each prompt token that is not cached;
``token_delay`` seconds between tokens (a token is a word of the reply).

Faults (:class:`Fault`), chosen per request in this order:

1. the request's ``X-Coach-Fault`` header (a fault name, or ``none``);
2. the queue (:meth:`FaultServer.queue`): the next request of the given kind
   takes the first queued fault;
3. the seeded mix (:class:`FaultMix`): with probability ``rate`` a fault drawn
   from ``modes``, with ``random.Random(seed)`` in arrival order, for requests
   of ``applies_to`` kind only.

A request's kind is ``"grader"`` when it asks for structured output (tools
or a JSON response format), else ``"persona"``.

Every request is recorded (:class:`RecordedRequest` in
:attr:`FaultServer.requests`): its body, kind, fault, status, token counts,
finish reason, timing and how it ended (``outcome``).

Use it from async code::

    async with FaultServer(Behaviour(ttft=0.1), FaultMix(rate=0.05, seed=1)) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        ...
        assert server.faults_injected() == ...

from sync code (its own event loop in a thread)::

    with FaultServer().running() as server:
        ...

or from a shell: ``python -m bot.testing.openai_server --port 8099 --fault-rate 0.05``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

Kind = Literal["persona", "grader"]


class Fault(StrEnum):
    """What can go wrong with one request."""

    #: HTTP 429 with ``Retry-After: Behaviour.retry_after``.
    RATE_LIMIT = "429"
    #: HTTP 500.
    SERVER_ERROR = "500"
    #: HTTP 503.
    UNAVAILABLE = "503"
    #: The connection is dropped before any byte of the response.
    RESET = "reset"
    #: Nothing at all for ``stall_seconds``, then a normal answer.
    STALL = "stall"
    #: Headers, then only keep-alive bytes (SSE comments, or spaces before a
    #: JSON body) every ``keepalive_interval`` for ``stall_seconds``, then a normal answer.
    KEEPALIVE = "keepalive"
    #: One token every ``trickle_interval`` seconds.
    TRICKLE = "trickle"
    #: ``cut_after`` tokens, then the stream ends cleanly with no finish
    #: reason and no ``[DONE]``; a non-streamed answer has ``finish_reason: null``.
    CUT = "cut"
    #: ``cut_after`` tokens, then the connection is dropped mid-stream.
    RESET_MID = "reset_mid"
    #: HTTP 200 whose body (or first SSE event) is not JSON.
    MALFORMED = "malformed"
    #: A well-formed answer whose structured output (tool arguments or JSON
    #: content) is not valid JSON; a plain-text request is answered normally.
    BAD_OUTPUT = "bad_output"


#: Faults an SDK retries by itself: the "transient" mix of the load tests.
TRANSIENT: tuple[Fault, ...] = (
    Fault.RATE_LIMIT,
    Fault.SERVER_ERROR,
    Fault.UNAVAILABLE,
    Fault.RESET,
)

DEFAULT_REPLY = (
    "I have been waiting for days and nobody has called me back, so tell me "
    "exactly what happens next."
)


@dataclass
class Behaviour:
    """Latency and fault parameters of a server (mutable while it runs)."""

    ttft: float = 0.0
    token_delay: float = 0.0
    prefill_per_token: float = 0.0
    retry_after: float = 1.0
    stall_seconds: float = 3600.0
    keepalive_interval: float = 1.0
    trickle_interval: float = 4.0
    cut_after: int = 3
    #: The plain-text answer: a string, or built from the request body.
    reply: str | Callable[[dict[str, Any]], str] = DEFAULT_REPLY
    #: Builds a structured answer from (schema, request body); None: :func:`example_instance`.
    structured: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None


@dataclass
class FaultMix:
    """Seeded random faults: ``rate`` of the requests of kind ``applies_to``."""

    rate: float = 0.0
    modes: tuple[Fault, ...] = TRANSIENT
    seed: int = 0
    applies_to: Kind | Literal["all"] = "all"


@dataclass
class RecordedRequest:
    """One request as the server saw and answered it."""

    index: int
    path: str
    kind: Kind
    stream: bool
    body: dict[str, Any]
    fault: Fault | None
    started: float
    status: int | None = None
    ended: float | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    #: "ok", "fault", "client_gone" (the client hung up first) or "bad_request".
    outcome: str = "open"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fault"] = str(self.fault) if self.fault else None
        data["seconds"] = self.seconds
        return data


class _ClientGone(Exception):
    """The client closed the connection while we were answering."""


class _Dropped(Exception):
    """We dropped the connection on purpose (a reset fault)."""


class FaultServer:
    """An OpenAI-compatible server with scripted latency and faults (see the module doc)."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        faults: FaultMix | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._queue: deque[tuple[Fault, Kind | None]] = deque()
        self._prompts: list[str] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self.set_faults(faults or FaultMix())

    # -- control ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What ``OPENAI_BASE_URL`` should be (``…/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the records so far, in arrival order."""
        with self._lock:
            return list(self._records)

    def set_faults(self, faults: FaultMix) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def queue(self, *faults: Fault | str, kind: Kind | None = None) -> None:
        """The next requests (of ``kind``, if given) take these faults, in order."""
        with self._lock:
            self._queue.extend((Fault(f), kind) for f in faults)

    def faults_injected(self) -> int:
        return sum(1 for r in self.requests if r.fault is not None)

    def reset(self) -> None:
        """Forget the records, the queue and the prompt cache; re-seed the mix."""
        with self._lock:
            self._records.clear()
            self._queue.clear()
            self._prompts.clear()
            self._rng = random.Random(self.faults.seed)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> FaultServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/_coach/requests", self._control_requests)
        app.router.add_post("/_coach/behaviour", self._control_behaviour)
        app.router.add_post("/_coach/faults", self._control_faults)
        app.router.add_post("/_coach/queue", self._control_queue)
        app.router.add_post("/_coach/reset", self._control_reset)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def __aenter__(self) -> FaultServer:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[FaultServer]:
        """Run the server on its own event loop in a thread, for sync callers."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="fault-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(30)
            self._thread = None
            self._loop = None

    # -- the API ---------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fault-server"}]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("messages must be a list")
        except ValueError as exc:
            self._record_bad(request.path, started)
            return _error(400, f"invalid request: {exc}", "invalid_request_error")
        kind: Kind = "grader" if _structured_schema(body) is not None else "persona"
        stream = bool(body.get("stream"))
        prompt = _prompt_text(body)
        with self._lock:
            fault = self._pick_fault(request.headers.get("X-Coach-Fault"), kind)
            prompt_tokens, cached = self._count_prompt(prompt)
            record = RecordedRequest(
                index=len(self._records),
                path=request.path,
                kind=kind,
                stream=stream,
                body=body,
                fault=fault,
                started=started,
                prompt_tokens=prompt_tokens,
                cached_tokens=cached,
            )
            self._records.append(record)
        try:
            response = await self._answer(request, body, record)
            record.outcome = "fault" if fault is not None else "ok"
            return response
        except _Dropped:
            record.outcome = "fault"
            return web.Response(status=499)
        except _ClientGone:
            record.outcome = "client_gone"
            return web.Response(status=499)
        finally:
            record.ended = time.monotonic()

    def _pick_fault(self, header: str | None, kind: Kind) -> Fault | None:
        if header:
            return None if header.lower() == "none" else Fault(header)
        for i, (fault, wanted) in enumerate(self._queue):
            if wanted is None or wanted == kind:
                del self._queue[i]
                return fault
        mix = self.faults
        if mix.rate <= 0 or mix.applies_to not in ("all", kind):
            return None
        if self._rng.random() < mix.rate:
            return self._rng.choice(list(mix.modes))
        return None

    def _count_prompt(self, prompt: str) -> tuple[int, int]:
        """(prompt tokens, cached tokens) and remember the prompt. Called under the lock."""
        shared = 0
        at = bisect.bisect_left(self._prompts, prompt)
        for neighbour in self._prompts[max(0, at - 1) : at + 1]:
            shared = max(shared, _common_prefix(prompt, neighbour))
        self._prompts.insert(at, prompt)
        tokens = max(1, math.ceil(len(prompt) / 4))
        return tokens, min(tokens, shared // 4)

    async def _answer(
        self, request: web.Request, body: dict[str, Any], record: RecordedRequest
    ) -> web.StreamResponse:
        b = self.behaviour
        fault = record.fault
        if fault in (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.UNAVAILABLE):
            record.status = int(fault.value)
            headers = {}
            if fault is Fault.RATE_LIMIT:
                headers["Retry-After"] = _seconds_header(b.retry_after)
            message = {"429": "rate limited", "500": "internal error", "503": "overloaded"}
            return _error(record.status, message[fault.value], "server_error", headers)
        if fault is Fault.RESET:
            _abort(request)
            raise _Dropped
        if fault is Fault.STALL:
            await self._wait(request, b.stall_seconds)

        content, tool = self._content(body, record)
        if fault is Fault.BAD_OUTPUT and (tool is not None or record.kind == "grader"):
            content = content[: max(1, len(content) // 2)]
        pieces = _pieces(content)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish: str | None = "tool_calls" if tool is not None else "stop"
        if isinstance(limit, int) and limit > 0 and len(pieces) > limit and tool is None:
            pieces, finish = pieces[:limit], "length"
        if fault in (Fault.CUT, Fault.RESET_MID):
            pieces, finish = pieces[: b.cut_after], None

        uncached = record.prompt_tokens - record.cached_tokens
        first_delay = b.ttft + b.prefill_per_token * uncached
        if record.stream:
            return await self._stream(request, body, record, pieces, tool, finish, first_delay)
        return await self._whole(request, body, record, "".join(pieces), tool, finish, first_delay)

    def _content(self, body: dict[str, Any], record: RecordedRequest) -> tuple[str, str | None]:
        """(text or JSON arguments, the tool's name if the answer is a tool call)."""
        b = self.behaviour
        wanted = _structured_schema(body)
        if wanted is None:
            text = b.reply(body) if callable(b.reply) else b.reply
            return text, None
        tool, schema = wanted
        value = b.structured(schema, body) if b.structured else example_instance(schema)
        return json.dumps(value, ensure_ascii=False), tool

    async def _whole(
        self,
        request: web.Request,
        body: dict[str, Any],
        record: RecordedRequest,
        content: str,
        tool: str | None,
        finish: str | None,
        first_delay: float,
    ) -> web.StreamResponse:
        b = self.behaviour
        fault = record.fault
        record.completion_tokens = len(_pieces(content))
        record.finish_reason = finish
        message: dict[str, Any] = {"role": "assistant", "content": None if tool else content}
        if tool is not None:
            message["tool_calls"] = [
                {
                    "id": f"call_{record.index}",
                    "type": "function",
                    "function": {"name": tool, "arguments": content},
                }
            ]
        payload = {
            "id": f"chatcmpl-{record.index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "fault-server",
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": _usage(record),
        }
        data = json.dumps(payload).encode()
        if fault is Fault.MALFORMED:
            data = data[: len(data) // 2] + b"<<not json"
        if fault is Fault.KEEPALIVE or fault is Fault.TRICKLE or fault is Fault.RESET_MID:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            record.status = 200
            await self._send(request, response, None)
            if fault is Fault.KEEPALIVE:
                await self._keepalive(request, response, b" ")
                await self._send(request, response, data)
            elif fault is Fault.RESET_MID:
                await self._send(request, response, data[: len(data) // 3])
                _abort(request)
                raise _Dropped
            else:
                step = max(1, len(data) // max(1, record.completion_tokens))
                for at in range(0, len(data), step):
                    await self._wait(request, b.trickle_interval)
                    await self._send(request, response, data[at : at + step])
            await response.write_eof()
            return response
        await self._wait(request, first_delay + b.token_delay * max(0, record.completion_tokens))
        record.status = 200
        return web.Response(body=data, content_type="application/json")

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        record: RecordedRequest,
        pieces: list[str],
        tool: str | None,
        finish: str | None,
        first_delay: float,
    ) -> web.StreamResponse:
        b = self.behaviour
        fault = record.fault
        model = body.get("model") or "fault-server"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
            event = {
                "id": f"chatcmpl-{record.index}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            return b"data: " + json.dumps(event).encode() + b"\n\n"

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        record.status = 200
        await self._send(request, response, None)
        if fault is Fault.KEEPALIVE:
            await self._keepalive(request, response, b": keep-alive\n\n")
        if fault is Fault.MALFORMED:
            await self._wait(request, first_delay)
            await self._send(request, response, b"data: {this is not json\n\n")
            await response.write_eof()
            return response
        first: dict[str, Any] = {"role": "assistant", "content": "" if tool is None else None}
        if tool is not None:
            first["tool_calls"] = [
                {
                    "index": 0,
                    "id": f"call_{record.index}",
                    "type": "function",
                    "function": {"name": tool, "arguments": ""},
                }
            ]
        await self._wait(request, first_delay)
        await self._send(request, response, chunk(first))
        gap = b.trickle_interval if fault is Fault.TRICKLE else b.token_delay
        for n, piece in enumerate(pieces):
            if n:
                await self._wait(request, gap)
            delta: dict[str, Any] = (
                {"content": piece}
                if tool is None
                else {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            )
            await self._send(request, response, chunk(delta))
            record.completion_tokens += 1
        if fault is Fault.RESET_MID:
            _abort(request)
            raise _Dropped
        record.finish_reason = finish
        if fault is not Fault.CUT:
            await self._send(request, response, chunk({}, finish))
            if include_usage:
                usage: dict[str, Any] = {
                    "id": f"chatcmpl-{record.index}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [],
                    "usage": _usage(record),
                }
                await self._send(
                    request, response, b"data: " + json.dumps(usage).encode() + b"\n\n"
                )
            await self._send(request, response, b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _send(
        self, request: web.Request, response: web.StreamResponse, data: bytes | None
    ) -> None:
        if _gone(request):
            raise _ClientGone
        try:
            if not response.prepared:
                await response.prepare(request)
            if data:
                await response.write(data)
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc

    async def _keepalive(
        self, request: web.Request, response: web.StreamResponse, beat: bytes
    ) -> None:
        b = self.behaviour
        end = time.monotonic() + b.stall_seconds
        while (left := end - time.monotonic()) > 0:
            await self._wait(request, min(b.keepalive_interval, left))
            await self._send(request, response, beat)

    async def _wait(self, request: web.Request, seconds: float) -> None:
        """Sleep, but stop as soon as the client hangs up or the server stops."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if _gone(request) or (self._closing is not None and self._closing.is_set()):
                raise _ClientGone
            await asyncio.sleep(min(0.05, left))

    def _record_bad(self, path: str, started: float) -> None:
        with self._lock:
            self._records.append(
                RecordedRequest(
                    index=len(self._records),
                    path=path,
                    kind="persona",
                    stream=False,
                    body={},
                    fault=None,
                    started=started,
                    status=400,
                    ended=time.monotonic(),
                    outcome="bad_request",
                )
            )

    # -- control over HTTP -----------------------------------------------------

    async def _control_requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.as_json() for r in self.requests])

    async def _control_behaviour(self, request: web.Request) -> web.Response:
        data = await request.json()
        known = {f.name for f in fields(Behaviour)} - {"structured"}
        for name, value in data.items():
            if name not in known:
                return _error(400, f"unknown behaviour field {name!r}", "invalid_request_error")
            setattr(self.behaviour, name, value)
        return web.json_response({"ok": True})

    async def _control_faults(self, request: web.Request) -> web.Response:
        data = await request.json()
        modes = tuple(Fault(m) for m in data.pop("modes", [f.value for f in TRANSIENT]))
        self.set_faults(FaultMix(modes=modes, **data))
        return web.json_response({"ok": True})

    async def _control_queue(self, request: web.Request) -> web.Response:
        data = await request.json()
        self.queue(*data.get("faults", []), kind=data.get("kind"))
        return web.json_response({"ok": True})

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})


# -- helpers ---------------------------------------------------------------------


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": status}}
    return web.json_response(body, status=status, headers=headers)


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _usage(record: RecordedRequest) -> dict[str, Any]:
    return {
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": record.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _pieces(text: str) -> list[str]:
    """The text as tokens: each word with the space before it."""
    if not text:
        return []
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])]


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (binary search over C-speed comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _prompt_text(body: dict[str, Any]) -> str:
    """What a server would tokenise, in order: tools, response format, then messages."""
    parts: list[str] = []
    for key in ("tools", "response_format"):
        if body.get(key):
            parts.append(json.dumps(body[key], sort_keys=True))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(f"<|{message.get('role')}|>{content or ''}")
        if message.get("tool_calls"):
            parts.append(json.dumps(message["tool_calls"], sort_keys=True))
    return "\n".join(parts)


def _structured_schema(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]] | None:
    """(tool name or None, JSON schema) when the request asks for structured output."""
    tools = body.get("tools") or []
    if tools:
        choice = body.get("tool_choice")
        name = None
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
        for tool in tools:
            function = tool.get("function") or {}
            if name is None or function.get("name") == name:
                return function.get("name") or "tool", function.get("parameters") or {}
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return None, (fmt.get("json_schema") or {}).get("schema") or {}
    if fmt.get("type") == "json_object":
        return None, fmt.get("schema") or {"type": "object"}
    return None


def example_instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A value that validates against ``schema``: the first enum or const value,
    every object property, strings within their length bounds, the first
    non-null branch of a union."""
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return example_instance(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = schema[union]
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return example_instance(chosen, root)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return example_instance(merged, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {name: example_instance(sub, root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_instance(schema.get("items") or {}, root) for _ in range(count)]
    if kind == "string":
        text = "ok"
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(low, "k")
        return text[: int(high)] if high is not None else text
    if kind in ("integer", "number"):
        value = schema.get("minimum", 0)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


# -- command line ------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    behaviour = Behaviour(
        ttft=args.ttft,
        token_delay=args.token_delay,
        prefill_per_token=args.prefill_per_token,
        retry_after=args.retry_after,
    )
    modes = tuple(Fault(m) for m in args.faults.split(",")) if args.faults else TRANSIENT
    mix = FaultMix(rate=args.fault_rate, modes=modes, seed=args.seed)
    async with FaultServer(behaviour, mix, host=args.host, port=args.port) as server:
        print(f"fault server listening on {server.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--prefill-per-token", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default="", help="comma-separated Fault values")
    parser.add_argument("--seed", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()


__all__ = [
    "TRANSIENT",
    "Behaviour",
    "Fault",
    "FaultMix",
    "FaultServer",
    "RecordedRequest",
    "example_instance",
]
