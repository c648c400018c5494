"""Wires settings, backend, personas, storage, grader and customer together.

The CLI and the web app build their sessions through here, so both behave
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.backends import Backend, chat_model, resolve_backend
from bot.grader import Grader
from bot.personas import Persona, PersonaCatalog, cached_catalog
from bot.session import SessionEngine
from bot.settings import Settings, get_settings
from bot.simulator import Customer, LLMCustomer, ScriptedCustomer
from bot.storage import Store

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache


@dataclass
class Runtime:
    settings: Settings
    backend: Backend
    store: Store
    cache: BaseCache | None = None
    _grader: Grader | None = field(default=None, init=False)

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        checks_only: bool = False,
        cache: BaseCache | None = None,
    ) -> Runtime:
        settings = settings or get_settings()
        backend = resolve_backend(settings)
        if checks_only and not backend.offline:
            backend = Backend(
                "offline",
                None,
                backend.structured_method,
                backend.persona_model,
                backend.grader_model,
            )
        return cls(settings, backend, Store(settings.resolved_database_url), cache)

    @property
    def catalog(self) -> PersonaCatalog:
        return cached_catalog(self.settings.personas_dir)

    @property
    def grader(self) -> Grader:
        if self._grader is None:
            self._grader = Grader(self.settings, self.backend, cache=self.cache)
        return self._grader

    def customer(self, persona: Persona, *, word_delay: float = 0.0) -> Customer:
        if self.backend.offline:
            return ScriptedCustomer(persona, seed=self.settings.seed, word_delay=word_delay)
        model = chat_model(self.settings, "persona", cache=self.cache)
        return LLMCustomer(persona, model, self.settings.history_token_budget)

    async def resume(self, session_id: str, persona: Persona) -> SessionEngine:
        """A stored session, ready to continue (same parts as a new one)."""
        engine = await SessionEngine.resume(
            session_id,
            persona=persona,
            customer=self.customer(persona),
            grader=self.grader,
            store=self.store,
            backend_label=self.backend.describe(),
        )
        engine.closing = ScriptedCustomer(persona, seed=self.settings.seed)
        engine.guard_dir = self.settings.lexicon_dir
        return engine

    def engine(
        self, persona: Persona, *, user_id: str | None = None, word_delay: float = 0.0
    ) -> SessionEngine:
        return SessionEngine(
            persona=persona,
            customer=self.customer(persona, word_delay=word_delay),
            grader=self.grader,
            store=self.store,
            backend_label=self.backend.describe(),
            user_id=user_id,
            closing_lines=ScriptedCustomer(persona, seed=self.settings.seed),
            guard_dir=self.settings.lexicon_dir,
        )
