"""What a session reports: the events one trainee turn produces, as one union.

``SessionEngine.start`` and ``SessionEngine.turn`` yield :data:`Event`; every
consumer (the web app, the terminal, the JSON lines of ``coach chat --json``,
the eval suites) dispatches on it once, with ``match``. Each event serialises
to one JSON object whose ``type`` says which it is.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bot.debrief import Debrief, EndReason
from bot.rubric import Grade


class SessionStarted(BaseModel):
    type: Literal["session"] = "session"
    session_id: str
    persona: str
    language: str
    channel: str
    backend: str
    mood: int
    band: str
    #: The band's name for this customer's temperament, in the conversation's language.
    label: str = ""
    #: The band's colour (``bot/mood.py``), e.g. "#cf222e".
    colour: str = ""


class CustomerChunk(BaseModel):
    type: Literal["customer_chunk"] = "customer_chunk"
    text: str


class CustomerSaid(BaseModel):
    type: Literal["customer"] = "customer"
    turn: int
    content: str
    #: complete; partial (cut by a failure); final (a closing line); replaced
    #: (the model's line broke character and an authored line replaces it).
    status: Literal["complete", "partial", "final", "replaced"] = "complete"
    #: Why a line was replaced (the guard's findings), for logs and evals.
    guarded: list[str] = Field(default_factory=list)


class TraineeSaid(BaseModel):
    type: Literal["trainee"] = "trainee"
    turn: int
    content: str
    message_id: int


class GradeReady(BaseModel):
    type: Literal["grade"] = "grade"
    turn: int
    grade: Grade


class MoodChanged(BaseModel):
    type: Literal["mood"] = "mood"
    turn: int
    before: int
    after: int
    delta: int
    band: str
    #: The band's name for this customer's temperament ("hurt", « colère »).
    label: str = ""
    #: The band's colour (``bot/mood.py``), e.g. "#8250df".
    colour: str = ""
    #: Why, in the conversation's language ("you reformulated").
    reason: str


class TurnTakenBack(BaseModel):
    """The trainee took back their last reply: the mood is as it was before it."""

    type: Literal["taken_back"] = "taken_back"
    turn: int
    before: int
    after: int
    band: str
    label: str = ""
    colour: str = ""


class Failure(BaseModel):
    type: Literal["error"] = "error"
    turn: int
    where: Literal["customer", "grade"]
    message: str


class SessionEnded(BaseModel):
    type: Literal["end"] = "end"
    reason: EndReason
    debrief: Debrief


Event = Annotated[
    SessionStarted
    | CustomerChunk
    | CustomerSaid
    | TraineeSaid
    | GradeReady
    | MoodChanged
    | Failure
    | TurnTakenBack
    | SessionEnded,
    Field(discriminator="type"),
]
