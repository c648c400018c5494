"""Where completions come from: the backend protocol, and the one place that picks one.

One switch, following the OpenAI SDK's own variables:

1. ``OPENAI_BASE_URL`` set: any OpenAI-compatible server (llama.cpp, Ollama,
   vLLM, LM Studio, a gateway), with ``OPENAI_API_KEY`` if it needs one.
2. ``OPENAI_API_KEY`` set: OpenAI.
3. Neither: offline. The customer is scripted from the persona's authored
   lines and the grader is the deterministic checks alone.

``COACH_BACKEND`` forces one of ``openai``, ``compatible`` or ``offline``.

Every backend answers the same two questions: who plays the customer
(:meth:`Backend.customer`) and which models grade the judgement criteria
(:meth:`Backend.grader_models`, ``None`` for the checks alone). "No model" is
just another backend, so the engine has one path. Implementations import
their SDKs only when they are chosen: a checks-only command never loads
LangChain or the OpenAI SDK. ``bot/backends/openai_compat.py`` is the only
module that talks to a model SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.errors import ConfigError, IncompleteReply
from bot.i18n import Language, t
from bot.settings import Settings, StructuredMethod

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache
    from langchain_core.runnables import Runnable
    from pydantic import BaseModel

    from bot.personas import Persona
    from bot.simulator import Customer

BackendKind = Literal["openai", "compatible", "offline"]

#: What went wrong with a model call, in the terms a trainee is told (the
#: ``feedback.model_<kind>`` strings); the technical detail goes to the log.
ErrorKind = Literal["unreachable", "refused", "busy", "server", "unreadable", "deadline", "cut"]

OFFLINE_HELP = (
    "Offline mode: a scripted customer and a checks-only grader. To use a model, set "
    "OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any OpenAI-compatible server, e.g. "
    "http://127.0.0.1:8080/v1 for llama.cpp or http://127.0.0.1:11434/v1 for Ollama) "
    "in the environment or in .env, then restart."
)


@dataclass(frozen=True)
class GraderModels:
    """How the grader gets a structured model for the criteria it must judge."""

    #: A model bound to return ``schema``, retried on invalid output.
    bind: Callable[[type[BaseModel]], Runnable[Any, Any]]
    #: The server's grammar enforces text lengths (llama.cpp): bound the text
    #: fields so a looping small model stops instead of breaking the JSON.
    bounded: bool


class Backend(Protocol):
    """Who plays the customer and who grades, for one configuration."""

    @property
    def kind(self) -> BackendKind: ...

    def describe(self) -> str:
        """One line for logs, the session record and the UI."""
        ...

    @property
    def notice(self) -> str | None:
        """What the user should be told about this backend (offline: how to connect one)."""
        ...

    def customer(self, persona: Persona, *, word_delay: float = 0.0) -> Customer:
        """The simulated customer for ``persona``."""
        ...

    def grader_models(self) -> GraderModels | None:
        """The grader's models, or None when the checks grade alone."""
        ...


def backend_kind(settings: Settings) -> BackendKind:
    """Which backend the settings ask for (no SDK is imported)."""
    if settings.backend == "offline":
        return "offline"
    if settings.backend == "compatible" or (
        settings.backend == "auto" and settings.openai_base_url
    ):
        if not settings.openai_base_url:
            raise ConfigError(
                "COACH_BACKEND=compatible needs OPENAI_BASE_URL; set it or unset COACH_BACKEND"
            )
        return "compatible"
    if settings.backend == "openai" or (settings.backend == "auto" and settings.openai_api_key):
        if not settings.openai_api_key:
            raise ConfigError(
                "COACH_BACKEND=openai needs OPENAI_API_KEY; set it or unset COACH_BACKEND"
            )
        return "openai"
    return "offline"


def structured_method(settings: Settings, kind: BackendKind) -> StructuredMethod:
    """OpenAI honours ``json_schema``; llama.cpp's server rejects it (HTTP 500) but
    honours a forced tool call, so compatible servers default to ``function_calling``."""
    if settings.structured_output != "auto":
        return settings.structured_output
    return "json_schema" if kind == "openai" else "function_calling"


def resolve_backend(
    settings: Settings, *, cache: BaseCache | None = None, checks_only: bool = False
) -> Backend:
    """The backend the settings ask for; ``checks_only`` forces the offline one.

    ``cache`` (recorded eval runs) sits in front of every model call.
    """
    kind = "offline" if checks_only else backend_kind(settings)
    if kind == "offline":
        from bot.backends.offline import OfflineBackend

        return OfflineBackend(settings)
    from bot.backends.openai_compat import OpenAICompatibleBackend

    return OpenAICompatibleBackend(settings, kind, cache=cache)


def _from_openai(exc: BaseException) -> bool:
    """An OpenAI SDK error, or LangChain's wrapping of one (``OpenAIAPIError``…)."""
    return any(k.__module__.split(".")[0] == "openai" for k in type(exc).__mro__)


def describe_error(exc: BaseException) -> str:
    """One line for a model failure, with what to do about it."""
    if _from_openai(exc):
        from bot.backends.openai_compat import describe_openai_error

        return describe_openai_error(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def error_kind(exc: BaseException) -> ErrorKind:
    """Which of the plain kinds of model failure ``exc`` is."""
    if isinstance(exc, TimeoutError):
        return "deadline"
    if isinstance(exc, IncompleteReply):
        return "cut"
    if _from_openai(exc):
        from bot.backends.openai_compat import openai_error_kind

        return openai_error_kind(exc)
    if isinstance(exc, ConnectionError | OSError):
        return "unreachable"
    return "unreadable"


def plain_error(exc: BaseException, language: Language, *, deadline: float) -> str:
    """What a trainee is told about a model failure: plain words, no exception names."""
    kind = error_kind(exc)
    if kind == "deadline":
        return t("feedback.model_deadline", language, seconds=f"{deadline:g}")
    return t(f"feedback.model_{kind}", language)
