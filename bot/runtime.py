"""Wires settings, backend, personas, storage, grader and customer together.

The CLI, the web app and the evals build their sessions through here, so all
behave the same way. Nothing heavy is imported until it is used: a command
that only grades with the checks never loads the database layer or a model SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.backends import Backend, resolve_backend
from bot.grader import Grader
from bot.personas import Persona, PersonaCatalog, cached_catalog
from bot.session import SessionEngine
from bot.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache

    from bot.storage import Store


@dataclass
class Runtime:
    settings: Settings
    backend: Backend
    _store: Store | None = None
    _grader: Grader | None = field(default=None, init=False)

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        checks_only: bool = False,
        cache: BaseCache | None = None,
        store: Store | None = None,
    ) -> Runtime:
        settings = settings or get_settings()
        backend = resolve_backend(settings, cache=cache, checks_only=checks_only)
        return cls(settings, backend, store)

    @property
    def store(self) -> Store:
        if self._store is None:
            from bot.storage import Store

            self._store = Store(self.settings.resolved_database_url)
        return self._store

    @property
    def catalog(self) -> PersonaCatalog:
        return cached_catalog(self.settings.personas_dir)

    @property
    def grader(self) -> Grader:
        if self._grader is None:
            self._grader = Grader(self.settings, self.backend.grader_models())
        return self._grader

    def engine(
        self, persona: Persona, *, user_id: str | None = None, word_delay: float = 0.0
    ) -> SessionEngine:
        return SessionEngine(
            persona=persona,
            customer=self.backend.customer(persona, word_delay=word_delay),
            grader=self.grader,
            store=self.store,
            backend_label=self.backend.describe(),
            user_id=user_id,
            reply_deadline=self.settings.reply_deadline_seconds,
        )

    async def resume(self, session_id: str, persona: Persona) -> SessionEngine:
        """A stored session, ready to continue (same parts as a new one)."""
        engine = self.engine(persona)
        await engine.restore(session_id)
        return engine
