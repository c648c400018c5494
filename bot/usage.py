"""What a model server says a call used: prompt tokens, the part of them it
served from its prompt cache, and completion tokens.

Read from LangChain's ``usage_metadata`` (``input_token_details.cache_read``)
or, when a server's answer only has OpenAI's raw ``token_usage``
(``prompt_tokens_details.cached_tokens``), from ``response_metadata``.
Streamed answers carry it only with ``stream_usage=True`` (the compatible
backend sets it), usually on the last chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelUsage:
    prompt_tokens: int
    #: Prompt tokens the server read from its prompt cache (0: none, or not reported).
    cached_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.cached_tokens + other.cached_tokens,
            self.completion_tokens + other.completion_tokens,
        )


def usage_of(message: Any) -> ModelUsage | None:
    """The usage a model message (or stream chunk) reports, None if it reports none."""
    metadata = getattr(message, "usage_metadata", None)
    if metadata:
        details = metadata.get("input_token_details") or {}
        return ModelUsage(
            prompt_tokens=int(metadata.get("input_tokens") or 0),
            cached_tokens=int(details.get("cache_read") or 0),
            completion_tokens=int(metadata.get("output_tokens") or 0),
        )
    raw = (getattr(message, "response_metadata", None) or {}).get("token_usage")
    if raw:
        details = raw.get("prompt_tokens_details") or {}
        return ModelUsage(
            prompt_tokens=int(raw.get("prompt_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
            completion_tokens=int(raw.get("completion_tokens") or 0),
        )
    return None


def add_usage(total: ModelUsage | None, more: ModelUsage | None) -> ModelUsage | None:
    """Usage summed over the chunks of one answer (most servers report it once)."""
    if more is None:
        return total
    return more if total is None else total + more
