"""History trimmed in blocks: within the budget every turn, and the same
messages from one turn to the next between two cuts (what prompt caches match)."""

from __future__ import annotations

import itertools

from bot.conversation import Message
from bot.tokens import TRIM_TO, message_tokens, trim_history, trim_in_blocks

BUDGET = 600
OPENING = Message(role="customer", content="Opening: my parcel never came and I paid for express.")


def session(turns: int) -> list[list[Message]]:
    """The history the customer replies to at each turn (ending on the trainee),
    with messages of varying length."""
    history = [OPENING]
    seen: list[list[Message]] = []
    for i in range(turns):
        history.append(Message(role="trainee", content=f"Trainee {i}: " + "sorry " * (5 + i % 7)))
        seen.append(list(history))
        history.append(Message(role="customer", content=f"Customer {i}: " + "where " * (3 + i % 5)))
    return seen


def cost(messages: list[Message]) -> int:
    return sum(message_tokens(m) for m in messages)


def extends(before: list[Message], after: list[Message]) -> bool:
    return after[: len(before)] == before


def cuts(trim: object, turns: int = 80) -> list[int]:
    """The turns whose kept messages do not extend the previous turn's."""
    kept = [trim(h, BUDGET)[0] for h in session(turns)]  # type: ignore[operator]
    return [t for t in range(1, turns) if not extends(kept[t - 1], kept[t])]


def test_every_turn_fits_the_budget_with_the_opening_and_the_newest_line() -> None:
    for history in session(80):
        kept, dropped = trim_in_blocks(history, BUDGET)
        assert cost(kept) <= BUDGET
        assert kept[0] == OPENING and kept[-1] == history[-1]
        assert dropped == len(history) - len(kept)
        # What is kept is the opening and one unbroken run of the latest messages.
        assert kept[1:] == history[len(history) - len(kept) + 1 :]


def test_the_kept_messages_only_grow_between_cuts() -> None:
    blocks = cuts(trim_in_blocks)
    assert blocks, "80 turns outgrow the budget"
    gaps = [b - a for a, b in itertools.pairwise(blocks)]
    # Each cut frees about a third of the budget: several turns to fill again.
    assert min(gaps) >= 5
    # A sliding window shifts every turn once the budget is full.
    sliding = cuts(trim_history)
    assert len(sliding) > 3 * len(blocks)


def test_a_cut_goes_down_to_its_share_of_the_budget_and_resumes_on_a_trainee_line() -> None:
    histories = session(80)
    first_cut = cuts(trim_in_blocks)[0]
    kept, _ = trim_in_blocks(histories[first_cut], BUDGET)
    assert cost(kept) <= BUDGET * TRIM_TO + message_tokens(histories[first_cut][-1])
    assert kept[1].role == "trainee"


def test_the_same_history_gives_the_same_cut() -> None:
    """No state between calls: a resumed session trims like the one it continues."""
    history = session(60)[-1]
    assert trim_in_blocks(history, BUDGET) == trim_in_blocks(list(history), BUDGET)


def test_a_short_history_is_sent_whole() -> None:
    history = session(3)[-1]
    assert trim_in_blocks(history, BUDGET) == (history, 0)


def test_a_line_over_the_budget_is_still_sent() -> None:
    huge = Message(role="trainee", content="word " * 800)
    kept, _ = trim_in_blocks([OPENING, Message(role="trainee", content="Hi"), huge], BUDGET)
    assert kept[-1] == huge
