"""`coach bench`: how much of the customer's prompt a provider could cache.

A scripted session (the persona suite's trainee lines, cycled; the persona's
authored lines as the customer's replies; the checks moving the mood) is
rendered turn by turn, the way :class:`~bot.simulator.LLMCustomer` sends it,
and beside it the naive layout (the whole history every turn, the turn's
state in the system prompt), in the same run. For each:

- how many turns' system prompt is byte-identical to the previous turn's;
- the prompt's tokens at the last turn over turn 5 (how it grows);
- the share a provider could cache: the prompt tokens each turn shares, from
  the start, with the previous turn's, as OpenAI caches them (prefixes of
  1,024 tokens and more, in steps of 128; the raw shared prefix beside it),
  over every turn after the first;
- billed-equivalent tokens over the session with cached tokens at half price.

Tokens are cl100k_base (the one encoding that works offline, see
``bot/tokens.py``), each message framed by 4 tokens as in OpenAI's chat
format. Then the same lines go through the real session path (compatible
backend, SQLite) against the local test server (``bot/testing/``), and the
``cached_tokens`` it reported, as stored per turn, are summed.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bot import mood
from bot.checks import run_checks
from bot.conversation import Message
from bot.evals.persona_suite import load_scripts
from bot.grader import Grader
from bot.personas import Persona
from bot.settings import Settings
from bot.simulator import CustomerTurn, LLMCustomer, ScriptedCustomer
from bot.tokens import encode

if TYPE_CHECKING:
    from bot.storage import UsageRow
    from bot.testing.openai_server import FaultServer

PERSONA = "en-late-parcel"
#: What the issue asks of the layout.
TARGETS = {"system_identical": "every turn", "growth": 1.5, "cache_share": 0.9}
#: OpenAI caches a prompt's prefix from this many tokens on, in steps of _STEP.
CACHE_MINIMUM, _STEP = 1024, 128
#: Price of a cached prompt token relative to an uncached one.
CACHE_DISCOUNT = 0.5

Layout = Callable[[LLMCustomer, CustomerTurn], list[tuple[str, str]]]


def cached_layout(customer: LLMCustomer, turn: CustomerTurn) -> list[tuple[str, str]]:
    """What the customer sends (``LLMCustomer.prompt_messages``)."""
    return customer.prompt_messages(turn)


def naive_layout(customer: LLMCustomer, turn: CustomerTurn) -> list[tuple[str, str]]:
    """The whole history every turn, the turn's state in the system prompt."""
    system = customer.system_prompt + "\n\n" + customer.turn_note(turn, dropped=0)
    history = [("ai" if m.role == "customer" else "human", m.content) for m in turn.history]
    return [("system", system), *history]


def lasting(persona: Persona) -> Persona:
    """The persona with thresholds no session reaches, so every turn is played."""
    limits = {"walkout_at": 11, "calm_at": -1}
    return persona.model_copy(update={"mood": persona.mood.model_copy(update=limits)})


def trainee_lines(settings: Settings, persona: Persona, turns: int) -> list[str]:
    scripts = load_scripts(settings.evals_dir / "persona_scripts.yaml")
    lines = scripts.lines(persona, "good") + scripts.lines(persona, "bad")
    return [lines[i % len(lines)] for i in range(turns)]


def scripted_turns(
    settings: Settings, persona: Persona, lines: Sequence[str]
) -> Iterator[CustomerTurn]:
    """Each turn the customer replies to: the checks grade the line and move
    the mood, the persona's authored lines answer (as offline)."""
    grader, scripted = Grader(settings), ScriptedCustomer(persona, seed=1)
    history = [Message(role="customer", content=persona.opening.strip())]
    mood_now = persona.mood.start
    for line in lines:
        report = run_checks(line, persona.language, history, triggers=persona.triggers)
        grade = grader.grade_checks_only(line, persona.language, history, report=report)
        history.append(Message(role="trainee", content=line))
        yield CustomerTurn(persona=persona, history=list(history), mood=mood_now, report=report)
        mood_now = mood.apply(mood_now, grade.deescalation, persona.difficulty)
        history.append(Message(role="customer", content=scripted.compose(line, mood_now, grade)))


def prompt_tokens(messages: Sequence[tuple[str, str]]) -> list[int]:
    """The prompt as one token sequence: each message framed (role, separators)
    the way chat formats do, so a prefix ends where the messages differ."""
    tokens: list[int] = []
    for role, content in messages:
        tokens += [-1, *encode(role), -2, *encode(content), -3]
    return tokens


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def provider_cached(prefix: int) -> int:
    """Tokens of a shared prefix that OpenAI's prompt cache serves."""
    return 0 if prefix < CACHE_MINIMUM else prefix - (prefix - CACHE_MINIMUM) % _STEP


def layout_figures(prompts: Sequence[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    tokens = [prompt_tokens(p) for p in prompts]
    prefixes = [common_prefix(a, b) for a, b in itertools.pairwise(tokens)]
    later = sum(len(t) for t in tokens[1:]) or 1
    cached = [provider_cached(p) for p in prefixes]
    base = min(5, len(tokens)) - 1
    return {
        "turns": len(prompts),
        "system_identical": sum(a[0] == b[0] for a, b in itertools.pairwise(prompts)),
        "system_compared": len(prompts) - 1,
        "tokens_first": len(tokens[0]),
        "tokens_base": len(tokens[base]),
        "base_turn": base + 1,
        "tokens_last": len(tokens[-1]),
        "growth": round(len(tokens[-1]) / len(tokens[base]), 2),
        "cache_share": round(sum(cached) / later, 3),
        "prefix_share": round(sum(prefixes) / later, 3),
        "billed_equivalent": round(sum(map(len, tokens)) - CACHE_DISCOUNT * sum(cached)),
    }


def render_session(settings: Settings, persona: Persona, turns: int, layout: Layout) -> list[Any]:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    never_called = GenericFakeChatModel(messages=iter(()))  # only the prompts are rendered
    customer = LLMCustomer(persona, never_called, settings.history_token_budget)
    lines = trainee_lines(settings, persona, turns)
    return [layout(customer, turn) for turn in scripted_turns(settings, persona, lines)]


async def play_against(
    settings: Settings, server: FaultServer, persona: Persona, lines: list[str]
) -> list[UsageRow]:
    """``lines`` through the session engine against ``server``: the usage stored per reply."""
    from bot.runtime import Runtime

    local = settings.model_copy(
        update={"backend": "compatible", "openai_base_url": server.base_url}
    )
    runtime = Runtime.create(local)
    await runtime.store.init()
    try:
        engine = runtime.engine(persona)
        await engine.start()
        for line in lines:
            _ = [event async for event in engine.turn(line)]
        assert engine.session_id is not None
        return await runtime.store.usage_for_session(engine.session_id)
    finally:
        await runtime.store.close()


async def server_reported(settings: Settings, persona: Persona, turns: int) -> dict[str, Any]:
    """The same lines through the session engine against the local test server:
    its ``cached_tokens`` for each customer turn, as stored."""
    from bot.testing.openai_server import Behaviour, FaultServer

    lines = trainee_lines(settings, persona, turns)
    async with FaultServer(Behaviour(reply="Fine. So where is my parcel, then?")) as server:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = settings.model_copy(
                update={"database_url": f"sqlite+aiosqlite:///{tmp}/bench.db"}
            )
            rows = await play_against(scratch, server, persona, lines)
    later = rows[1:]
    prompt = sum(r.prompt_tokens for r in later) or 1
    return {
        "turns_stored": len(rows),
        "cached_share": round(sum(r.cached_tokens for r in later) / prompt, 3),
        "prompt_tokens_last": rows[-1].prompt_tokens if rows else 0,
    }


async def run_prompt_bench(settings: Settings, turns: int) -> dict[str, Any]:
    from bot.personas import load_catalog

    persona = lasting(load_catalog(settings.personas_dir).get(PERSONA))
    return {
        "persona": persona.id,
        "targets": TARGETS,
        "layout": layout_figures(render_session(settings, persona, turns, cached_layout)),
        "naive": layout_figures(render_session(settings, persona, turns, naive_layout)),
        "server": await server_reported(settings, persona, turns),
    }
