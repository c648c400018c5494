"""OpenAI and OpenAI-compatible servers, through LangChain's ``ChatOpenAI``.

The only module that imports a model SDK; it is imported only when such a
backend is chosen (see ``bot/backends/__init__.py``).

Servers differ in how they honour structured output: OpenAI takes
``json_schema`` (strict); llama.cpp's server rejects it but honours a forced
tool call (``function_calling``), and its grammar enforces string lengths and
enums but not numeric ranges. ``COACH_STRUCTURED_OUTPUT`` overrides the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, ValidationError

from bot.backends import (
    OFFLINE_HELP,
    ErrorKind,
    GraderModels,
    backend_kind,
    structured_method,
)
from bot.errors import BackendError, ConfigError
from bot.settings import Settings, StructuredMethod

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from bot.personas import Persona
    from bot.simulator import Customer

Role = Literal["persona", "grader"]


@dataclass(frozen=True)
class OpenAICompatibleBackend:
    settings: Settings
    _kind: Literal["openai", "compatible"]
    cache: BaseCache | None = None

    @property
    def kind(self) -> Literal["openai", "compatible"]:
        return self._kind

    @property
    def base_url(self) -> str | None:
        return self.settings.openai_base_url if self._kind == "compatible" else None

    @property
    def structured_method(self) -> StructuredMethod:
        return structured_method(self.settings, self._kind)

    @property
    def notice(self) -> None:
        return None

    def describe(self) -> str:
        where = "OpenAI" if self._kind == "openai" else self.base_url
        return (
            f"{where}: persona {self.settings.persona_model}, grader {self.settings.grader_model}"
        )

    def customer(self, persona: Persona, *, word_delay: float = 0.0) -> Customer:
        from bot.simulator import LLMCustomer

        return LLMCustomer(
            persona,
            chat_model(self.settings, "persona", cache=self.cache),
            self.settings.history_token_budget,
            seed=self.settings.seed,
            guard_dir=self.settings.lexicon_dir,
        )

    def grader_models(self) -> GraderModels:
        method = self.structured_method
        model = chat_model(self.settings, "grader", cache=self.cache)
        attempts = self.settings.grader_attempts
        return GraderModels(
            bind=lambda schema: bind_structured(model, schema, method, attempts),
            bounded=method != "json_schema",
        )


def chat_model(settings: Settings, role: Role, *, cache: BaseCache | None = None) -> BaseChatModel:
    """A LangChain chat model for the persona or the grader chain."""
    kind = backend_kind(settings)
    if kind == "offline":
        raise BackendError(f"no model in offline mode. {OFFLINE_HELP}")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:  # pragma: no cover - a core dependency
        raise ConfigError("langchain-openai is not installed; run scripts/install") from None

    max_tokens = settings.persona_max_tokens if role == "persona" else settings.grader_max_tokens
    kwargs: dict[str, Any] = {
        "model": settings.persona_model if role == "persona" else settings.grader_model,
        "temperature": (
            settings.persona_temperature if role == "persona" else settings.grader_temperature
        ),
        "timeout": settings.timeout_seconds,
        "max_retries": settings.max_retries,
        "cache": cache,
    }
    key = settings.openai_api_key
    if kind == "compatible":
        kwargs["base_url"] = settings.openai_base_url
        kwargs["api_key"] = key.get_secret_value() if key else "not-needed"
        # llama.cpp and some other servers ignore max_completion_tokens (what
        # max_tokens becomes in LangChain), so send the classic field directly.
        kwargs["extra_body"] = {"max_tokens": max_tokens}
        kwargs["stream_usage"] = True
    else:
        kwargs["api_key"] = key.get_secret_value() if key else None
        kwargs["max_tokens"] = max_tokens
    return ChatOpenAI(**kwargs)


def bind_structured(
    model: BaseChatModel, schema: type[BaseModel], method: StructuredMethod, attempts: int
) -> Runnable[Any, Any]:
    """``model`` asked for ``schema``, re-asked up to ``attempts`` times.

    Validation failures raise, so ``with_retry`` re-asks; the caller turns
    the final failure into an "ungraded" grade.
    """
    kwargs: dict[str, Any] = {"method": method}
    if method == "json_schema":
        kwargs["strict"] = True
    structured = model.with_structured_output(schema, **kwargs)
    checked = structured | RunnableLambda(_require_result)
    return checked.with_retry(
        stop_after_attempt=attempts,
        wait_exponential_jitter=False,
        # Re-ask when the answer does not parse or validate; network errors
        # were already retried by the SDK (COACH_MAX_RETRIES).
        retry_if_exception_type=(OutputParserException, ValidationError, NoStructuredOutput),
    )


class NoStructuredOutput(ValueError):
    """The model answered without the structured output it was asked for."""


def _require_result(value: Any) -> Any:
    if value is None:
        raise NoStructuredOutput("the model returned no structured output")
    return value


def openai_error_kind(exc: BaseException) -> ErrorKind:
    """The plain kind of an OpenAI SDK failure (timeouts are connection errors there)."""
    import openai

    if isinstance(exc, openai.APIConnectionError):
        return "unreachable"
    if isinstance(exc, openai.RateLimitError):
        return "busy"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in (503, 529):
            return "busy"
        return "server" if exc.status_code >= 500 else "refused"
    return "unreadable"


def describe_openai_error(exc: BaseException) -> str:
    """One line for an OpenAI SDK failure, with what to do about it."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return "the model server refused the API key; check OPENAI_API_KEY"
    if isinstance(exc, openai.NotFoundError):
        return (
            "the model server does not know that model or URL; check COACH_PERSONA_MODEL, "
            "COACH_GRADER_MODEL and OPENAI_BASE_URL"
        )
    if isinstance(exc, openai.APITimeoutError):
        return "the model server did not answer in time; raise COACH_TIMEOUT_SECONDS or retry"
    if isinstance(exc, openai.APIConnectionError):
        return "the model server cannot be reached; check OPENAI_BASE_URL and that it is running"
    if isinstance(exc, openai.RateLimitError):
        return "the model server is rate-limiting; wait and retry"
    if isinstance(exc, openai.APIStatusError):
        return f"the model server answered HTTP {exc.status_code}; see its logs"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"
