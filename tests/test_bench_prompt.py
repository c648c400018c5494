"""The customer prompt's cache figures in `coach bench`: the shipped layout
against the naive one, computed from the rendered prompts of one session."""

from __future__ import annotations

from bot.bench_prompt import (
    CACHE_MINIMUM,
    cached_layout,
    common_prefix,
    layout_figures,
    naive_layout,
    prompt_tokens,
    provider_cached,
    render_session,
)
from bot.personas import load_catalog
from bot.settings import Settings


def test_a_prefix_is_cached_from_the_provider_minimum_in_steps() -> None:
    assert provider_cached(CACHE_MINIMUM - 1) == 0
    assert provider_cached(CACHE_MINIMUM) == CACHE_MINIMUM
    assert provider_cached(CACHE_MINIMUM + 200) == CACHE_MINIMUM + 128


def test_the_prefix_ends_where_the_messages_differ() -> None:
    a = prompt_tokens([("system", "You are a customer."), ("human", "Hello")])
    b = prompt_tokens([("system", "You are a customer."), ("human", "Hello there")])
    c = prompt_tokens([("system", "You are a customer!"), ("human", "Hello")])
    assert common_prefix(a, a) == len(a)
    assert len(prompt_tokens([("system", "You are a customer.")])) < common_prefix(a, b) < len(a)
    assert common_prefix(a, c) < len(prompt_tokens([("system", "You are a customer.")]))


def test_the_shipped_layout_beats_the_naive_one_on_a_long_session(settings: Settings) -> None:
    persona = load_catalog(settings.personas_dir).get("en-late-parcel")
    turns = 40
    ours = layout_figures(render_session(settings, persona, turns, cached_layout))
    naive = layout_figures(render_session(settings, persona, turns, naive_layout))
    assert ours["system_identical"] == ours["system_compared"] == turns - 1
    assert naive["system_identical"] == 0  # the mood and the reactions change it
    assert ours["prefix_share"] > 0.85 > naive["prefix_share"]
    assert ours["cache_share"] <= ours["prefix_share"]
    assert ours["tokens_last"] < naive["tokens_last"]
    assert ours["billed_equivalent"] < naive["billed_equivalent"]
