"""The shape of a conversation: who said what."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["customer", "trainee"]

#: A trainee message longer than this is refused (it is not a chat reply):
#: in the web app, `coach chat` and `coach grade` alike.
MAX_MESSAGE_CHARS = 4000


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str = Field(min_length=1)


def last_customer_message(history: list[Message]) -> str:
    for message in reversed(history):
        if message.role == "customer":
            return message.content
    return ""


def trainee_messages(history: list[Message]) -> list[str]:
    return [m.content for m in history if m.role == "trainee"]
