"""``coach bench``: print the figures bot/bench.py measures (nothing is measured here)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bot.cli.common import out


def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    rounds: Annotated[int, typer.Option(min=1, help="Repeats of each measure.")] = 5,
    turns: Annotated[int, typer.Option(min=2, help="Turns in the offline session.")] = 40,
    signin: Annotated[
        bool,
        typer.Option(
            "--signin",
            help="Instead: start the web app and measure /health during a flood of bad "
            "sign-ins (about 30 s).",
        ),
    ] = False,
) -> None:
    """Measure the offline path: checks, a whole turn, history trimming, memory, cold start."""
    if signin:
        from bot.bench_signin import run_signin_bench, signin_lines

        signin_figures = run_signin_bench()
        if as_json:
            print(json.dumps(signin_figures))
            return
        for line in signin_lines(signin_figures):
            out.print(line, markup=False)
        return
    from bot.bench import run_bench
    from bot.settings import get_settings

    figures = run_bench(get_settings(), rounds=rounds, turns=turns)
    if as_json:
        print(json.dumps(figures))
        return
    for line in lines(figures):
        out.print(line, markup=False)


def lines(figures: dict[str, Any]) -> list[str]:
    """The figures as the lines ``coach bench`` prints."""
    c, s, t = figures["checks"], figures["offline_turn"], figures["history_trim"]
    printed = [
        f"checks          {c['median_ms_per_turn']} ms/turn median over {c['turns']} "
        f"labelled turns, cold: {c['turns_per_second']} turns/s of CPU on one core "
        f"({c['turns_per_second_wall']} wall; every pattern on every text, no screen: "
        f"{c['naive_turns_per_second']}, x{c['speedup_over_naive']})",
        f"offline turn    {s['median_ms_per_turn']} ms median, {s['p90_ms_per_turn']} ms "
        f"p90, over {s['turns']} turns (SQLite, checks, scripted customer)",
        f"history trim    {t['median_ms']} ms median: {t['messages']} messages to "
        f"{t['kept']} within {t['budget_tokens']} tokens",
        f"memory          {s['peak_python_memory_mib']} MiB peak (Python heap) over the session",
        f"checks are {figures['checks_share_of_turn']:.1%} of an offline turn",
        "cold start (a new process each run, median wall time):",
    ]
    for measure in figures["cold_start"].values():
        printed.append(
            f"  {measure['command']:<30} {measure['median_s']:.3f} s over {measure['rounds']} runs"
        )
    return printed + prompt_lines(figures["customer_prompt"])


def prompt_lines(figures: dict[str, Any]) -> list[str]:
    """The customer prompt's rows: this layout, the naive one, the target."""
    ours, naive, target, server = (
        figures["layout"],
        figures["naive"],
        figures["targets"],
        figures["server"],
    )

    def same(f: dict[str, Any]) -> str:
        return f"{f['system_identical']} of {f['system_compared']}"

    def growth(f: dict[str, Any]) -> str:
        return f"{f['growth']:.2f} ({f['tokens_last']}/{f['tokens_base']})"

    def share(f: dict[str, Any]) -> str:
        return f"{f['cache_share']:.1%} (prefix {f['prefix_share']:.1%})"

    last, base = ours["turns"], ours["base_turn"]
    rows = [
        ("system prompt byte-identical turn to turn", same, target["system_identical"]),
        (f"prompt tokens turn {last} / turn {base}", growth, f"<= {target['growth']}"),
        ("share a provider could cache", share, f">= {target['cache_share']:.0%}"),
        (
            "billed-equivalent tokens, 50 % cache discount",
            lambda f: f"{f['billed_equivalent']:,}",
            "below naive",
        ),
    ]
    printed = [
        f"customer prompt, {last}-turn scripted session ({figures['persona']}, cl100k tokens; "
        "naive: whole history, state in the system prompt):",
        f"  {'':<46} {'this layout':<24} {'naive':<24} target",
    ]
    for label, show, goal in rows:
        printed.append(f"  {label:<46} {show(ours):<24} {show(naive):<24} {goal}")
    printed.append(
        f"  cached_tokens reported by the local test server, stored per turn: "
        f"{server['cached_share']:.1%} of the prompt tokens after turn 1 "
        f"({server['turns_stored']} turns stored)"
    )
    return printed
