"""The offline backend: the persona's authored lines play the customer and the
deterministic checks grade alone. Needs no key, no server and no model SDK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.backends import OFFLINE_HELP, GraderModels
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.personas import Persona
    from bot.simulator import Customer


@dataclass(frozen=True)
class OfflineBackend:
    settings: Settings

    @property
    def kind(self) -> Literal["offline"]:
        return "offline"

    def describe(self) -> str:
        return "offline (scripted customer, checks-only grader)"

    @property
    def notice(self) -> str:
        return OFFLINE_HELP

    def customer(self, persona: Persona, *, word_delay: float = 0.0) -> Customer:
        from bot.simulator import ScriptedCustomer

        return ScriptedCustomer(persona, seed=self.settings.seed, word_delay=word_delay)

    def grader_models(self) -> GraderModels | None:
        return None
