"""Where completions come from. The only module that imports a model SDK.

One switch, following the OpenAI SDK's own variables:

1. ``OPENAI_BASE_URL`` set: any OpenAI-compatible server (llama.cpp, Ollama,
   vLLM, LM Studio, a gateway), with ``OPENAI_API_KEY`` if it needs one.
2. ``OPENAI_API_KEY`` set: OpenAI.
3. Neither: offline. The customer is scripted from the persona's authored
   lines and the grader is the deterministic checks alone.

``COACH_BACKEND`` forces one of ``openai``, ``compatible`` or ``offline``.

Structured output differs between servers: OpenAI honours ``json_schema``;
llama.cpp's server rejects it (HTTP 500) but honours a forced tool call, so
``function_calling`` is the default for compatible servers.
``COACH_STRUCTURED_OUTPUT`` overrides either default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, ValidationError

from bot.errors import BackendError, ConfigError
from bot.settings import Settings, StructuredMethod

if TYPE_CHECKING:
    from langchain_core.caches import BaseCache
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

BackendKind = Literal["openai", "compatible", "offline"]
Role = Literal["persona", "grader"]

OFFLINE_HELP = (
    "Offline mode: a scripted customer and a checks-only grader. To use a model, set "
    "OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any OpenAI-compatible server, e.g. "
    "http://127.0.0.1:8080/v1 for llama.cpp or http://127.0.0.1:11434/v1 for Ollama) "
    "in the environment or in .env, then restart."
)


@dataclass(frozen=True)
class Backend:
    kind: BackendKind
    base_url: str | None
    structured_method: StructuredMethod
    persona_model: str
    grader_model: str

    @property
    def offline(self) -> bool:
        return self.kind == "offline"

    def describe(self) -> str:
        if self.kind == "offline":
            return "offline (scripted customer, checks-only grader)"
        where = "OpenAI" if self.kind == "openai" else self.base_url
        return f"{where}: persona {self.persona_model}, grader {self.grader_model}"


def resolve_backend(settings: Settings) -> Backend:
    kind: BackendKind
    if settings.backend == "offline":
        kind = "offline"
    elif settings.backend == "compatible" or (
        settings.backend == "auto" and settings.openai_base_url
    ):
        if not settings.openai_base_url:
            raise ConfigError(
                "COACH_BACKEND=compatible needs OPENAI_BASE_URL; set it or unset COACH_BACKEND"
            )
        kind = "compatible"
    elif settings.backend == "openai" or (settings.backend == "auto" and settings.openai_api_key):
        if not settings.openai_api_key:
            raise ConfigError(
                "COACH_BACKEND=openai needs OPENAI_API_KEY; set it or unset COACH_BACKEND"
            )
        kind = "openai"
    else:
        kind = "offline"

    method: StructuredMethod
    if settings.structured_output != "auto":
        method = settings.structured_output
    else:
        method = "json_schema" if kind == "openai" else "function_calling"
    return Backend(
        kind=kind,
        base_url=settings.openai_base_url if kind == "compatible" else None,
        structured_method=method,
        persona_model=settings.persona_model,
        grader_model=settings.grader_model,
    )


def chat_model(settings: Settings, role: Role, *, cache: BaseCache | None = None) -> BaseChatModel:
    """A LangChain chat model for the persona or the grader chain."""
    backend = resolve_backend(settings)
    if backend.offline:
        raise BackendError(f"no model in offline mode. {OFFLINE_HELP}")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:  # pragma: no cover - a core dependency
        raise ConfigError("langchain-openai is not installed; run scripts/install") from None

    max_tokens = settings.persona_max_tokens if role == "persona" else settings.grader_max_tokens
    kwargs: dict[str, Any] = {
        "model": backend.persona_model if role == "persona" else backend.grader_model,
        "temperature": (
            settings.persona_temperature if role == "persona" else settings.grader_temperature
        ),
        "timeout": settings.timeout_seconds,
        "max_retries": settings.max_retries,
        "cache": cache,
    }
    key = settings.openai_api_key
    if backend.kind == "compatible":
        kwargs["base_url"] = backend.base_url
        kwargs["api_key"] = key.get_secret_value() if key else "not-needed"
        # llama.cpp and some other servers ignore max_completion_tokens (what
        # max_tokens becomes in LangChain), so send the classic field directly.
        kwargs["extra_body"] = {"max_tokens": max_tokens}
        kwargs["stream_usage"] = True
    else:
        kwargs["api_key"] = key.get_secret_value() if key else None
        kwargs["max_tokens"] = max_tokens
    return ChatOpenAI(**kwargs)


def structured_model(
    settings: Settings,
    schema: type[BaseModel],
    *,
    cache: BaseCache | None = None,
) -> Runnable[Any, Any]:
    """The grader model bound to return ``schema`` (a pydantic model)."""
    backend = resolve_backend(settings)
    model = chat_model(settings, "grader", cache=cache)
    return bind_structured(model, schema, backend.structured_method, settings.grader_attempts)


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


def describe_error(exc: BaseException) -> str:
    """One line for a model failure, with what to do about it."""
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
