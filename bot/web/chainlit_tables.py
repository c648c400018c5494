"""Chainlit's tables (users, threads, steps, elements, feedbacks) as SQLAlchemy Core.

The DDL that creates them is bot/chainlit_schema.py; this module only describes
the same columns so that every query is built by SQLAlchemy with bound
parameters. The column types follow the DDL per dialect: on SQLite ids are
TEXT and JSON is serialised TEXT; on PostgreSQL ids are UUID, JSON is JSONB and
tags are TEXT[]. Databases written by Chainlit's own SQLAlchemy layer read the
same way.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class JSONText(TypeDecorator[Any]):
    """JSON kept as TEXT (SQLite). A row that does not parse reads as None
    rather than failing the whole thread."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            return None


def _id() -> TypeEngine[str]:
    return String().with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def _json() -> TypeEngine[Any]:
    return JSONText().with_variant(postgresql.JSONB(), "postgresql")


def _tags() -> TypeEngine[Any]:
    return JSONText().with_variant(postgresql.ARRAY(Text), "postgresql")


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", _id(), primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    Column("metadata", _json(), nullable=False),
    Column("createdAt", Text),
)

threads = Table(
    "threads",
    metadata,
    Column("id", _id(), primary_key=True),
    Column("createdAt", Text),
    Column("name", Text),
    Column("userId", _id()),
    Column("userIdentifier", Text),
    Column("tags", _tags()),
    Column("metadata", _json()),
)

steps = Table(
    "steps",
    metadata,
    Column("id", _id(), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("threadId", _id(), nullable=False),
    Column("parentId", _id()),
    Column("streaming", Boolean, nullable=False),
    Column("waitForAnswer", Boolean),
    Column("isError", Boolean),
    Column("metadata", _json()),
    Column("tags", _tags()),
    Column("input", Text),
    Column("output", Text),
    Column("createdAt", Text),
    Column("command", Text),
    Column("modes", _json()),
    Column("start", Text),
    Column("end", Text),
    Column("generation", _json()),
    Column("showInput", Text),
    Column("language", Text),
    Column("indent", Integer),
    Column("defaultOpen", Boolean),
    Column("autoCollapse", Boolean),
)

elements = Table(
    "elements",
    metadata,
    Column("id", _id(), primary_key=True),
    Column("threadId", _id()),
    Column("type", Text),
    Column("url", Text),
    Column("chainlitKey", Text),
    Column("name", Text, nullable=False),
    Column("display", Text),
    Column("objectKey", Text),
    Column("size", Text),
    Column("page", Integer),
    Column("language", Text),
    Column("forId", _id()),
    Column("mime", Text),
    Column("props", _json()),
    Column("autoPlay", Boolean),
    Column("playerConfig", _json()),
)

feedbacks = Table(
    "feedbacks",
    metadata,
    Column("id", _id(), primary_key=True),
    Column("forId", _id(), nullable=False),
    Column("threadId", _id(), nullable=False),
    Column("value", Integer, nullable=False),
    Column("comment", Text),
)

#: The step columns a step dictionary may set (anything else in it is ignored).
STEP_COLUMNS = frozenset(c.name for c in steps.columns)
