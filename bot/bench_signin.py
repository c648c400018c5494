"""`coach bench --signin`: does a flood of bad sign-ins slow the app down?

Starts the real app (`coach run`) on a free loopback port with a temporary
data folder, measures how long ``/health`` takes when idle, then again while
30 bad sign-ins arrive at once from one client. Twice: with the per-client
limit as configured (most of the flood is answered 429 without hashing), and
with it lifted (every attempt is hashed; the 2-thread hashing pool is then
all that bounds the cost). Figures only, never asserted (machines are
noisy); about 30 s, so not part of the default `coach bench`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bot.web.local_app import LocalApp

FLOOD = 30
IDLE_PROBES = 40
PROBE_PAUSE = 0.05


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ms[-1], 1),
        "probes": len(ms),
    }


async def _health(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with session.get(url + "/health") as r:
        await r.read()
    return time.perf_counter() - start


async def _measure(app: LocalApp) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await _health(session, app.url)  # warm
        idle = []
        for _ in range(IDLE_PROBES):
            idle.append(await _health(session, app.url))
            await asyncio.sleep(PROBE_PAUSE)

        during: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                during.append(await _health(session, app.url))
                await asyncio.sleep(PROBE_PAUSE)

        async def bad(n: int) -> int:
            form = aiohttp.FormData({"username": f"spray{n}", "password": "wrong-password"})
            async with session.post(
                app.url + "/login", data=form, headers={"Origin": app.url}
            ) as r:
                await r.read()
                return r.status

        prober = asyncio.create_task(probe())
        start = time.perf_counter()
        codes = await asyncio.gather(*(bad(n) for n in range(FLOOD)))
        flood_s = time.perf_counter() - start
        done.set()
        await prober
    return {
        "idle": _percentiles(idle),
        "flood": _percentiles(during),
        "flood_seconds": round(flood_s, 2),
        "answers": dict(sorted(Counter(str(c) for c in codes).items())),
    }


def run_signin_bench() -> dict[str, Any]:
    """The figures: per scenario, /health idle and during the flood."""
    figures: dict[str, Any] = {"flood_size": FLOOD}
    scenarios = {"limited": {}, "unlimited": {"COACH_LOGIN_ATTEMPTS": "100000"}}
    for name, env in scenarios.items():
        with tempfile.TemporaryDirectory(prefix="coach-bench-signin-") as tmp:
            app = LocalApp(Path(tmp), env=env)
            app.coach("users", "add", "alice", "--role", "trainee", "--password", "bench-pass-1")
            with app:
                figures[name] = asyncio.run(_measure(app))
    return figures


def signin_lines(figures: dict[str, Any]) -> list[str]:
    """The figures as `coach bench --signin` prints them."""
    out = [f"/health latency, idle vs during {figures['flood_size']} concurrent bad sign-ins:"]
    for name in ("limited", "unlimited"):
        f = figures[name]
        idle, flood = f["idle"], f["flood"]
        answers = ", ".join(f"{n}× {code}" for code, n in f["answers"].items())
        out.append(
            f"  {name:<9} idle p50 {idle['p50_ms']} ms p95 {idle['p95_ms']} ms | "
            f"flood p50 {flood['p50_ms']} ms p95 {flood['p95_ms']} ms max {flood['max_ms']} ms "
            f"({flood['probes']} probes) | flood took {f['flood_seconds']} s: {answers}"
        )
    return out


if __name__ == "__main__":
    for line in signin_lines(run_signin_bench()):
        print(line)
