"""The project's Chainlit data layer: thread history with bound SQL and ownership checks.

Chainlit (archived upstream) ships a SQLAlchemy data layer that pastes thread
ids into SQL, lets any step id be upserted into any thread and never asks who
is writing. This one replaces it on the same tables (bot/chainlit_schema.py
creates them; bot/web/chainlit_tables.py describes them), so existing SQLite
and PostgreSQL databases keep working. Its rules:

- every thread, step, element and feedback id is a canonical UUID; anything
  else is refused with a warning before any SQL is built, and every query
  binds its values (SQLAlchemy Core, never string formatting);
- the user behind a call is found by bot/web/requester.py; an unknown user
  may read and write nothing;
- a thread belongs to the user who created it; only she writes into it
  (steps, elements, feedback, its name and metadata) or deletes it;
- a step or an element never moves: an upsert of an existing id into another
  thread is refused;
- staff (role "trainer" or "evaluator") may read every thread but write into
  none but their own;
- sharing is off: no thread is ever reported as shared.

Every write goes through the store's one write path (``bot.storage.writer_for``).

Refused reads raise ThreadRefused (the socket refuses the connection, an HTTP
route answers 404); refused writes log a warning and do nothing, except
upsert_feedback, which must answer with an id and so raises AccessRefused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from chainlit.data.base import BaseDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.element import ElementDict
from chainlit.step import StepDict
from chainlit.types import (
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    ThreadDict,
    ThreadFilter,
)
from chainlit.user import PersistedUser, User
from fastapi import HTTPException
from sqlalchemy import Boolean, Integer, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Insert

from bot.storage import writer_for
from bot.web import requester
from bot.web.chainlit_tables import (
    STEP_COLUMNS,
    elements,
    feedbacks,
    steps,
    threads,
    users,
)
from bot.web.element_store import ElementStore, UnsafeKey, element_key

log = logging.getLogger(__name__)

STAFF_ROLES = frozenset({"trainer", "evaluator"})
#: Metadata keys Chainlit's sharing feature reads; never stored, never reported.
SHARING_KEYS = ("is_shared", "shared_at")
#: How many threads a listing looks at (Chainlit's layer used the same bound).
THREAD_LIMIT = 1000
MAX_COMMENT = 10_000

M = TypeVar("M", bound=Callable[..., Awaitable[Any]])


def _queued(method: M) -> M:
    """Chainlit's queue_until_user_message: writes made before the trainee's first
    message wait for it (a scenario opened and left leaves no thread behind)."""
    return cast(M, queue_until_user_message()(method))  # type: ignore[no-untyped-call]


class ThreadRefused(HTTPException, ConnectionRefusedError):
    """A thread id that is not a UUID, or a thread the requester may not read.

    One exception for both of Chainlit's callers of get_thread: the socket's
    connect handler refuses the connection on a ConnectionRefusedError, and an
    HTTP route answers 404, as for a thread that does not exist.
    """

    def __init__(self) -> None:
        super().__init__(status_code=404, detail="Thread not found")


class AccessRefused(PermissionError):
    """A write the requester may not make."""


@dataclass(frozen=True)
class Requester:
    id: str
    identifier: str
    staff: bool


def is_uuid(value: object) -> bool:
    """True for a canonical (lower-case, hyphenated) UUID string only."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _refuse_ids(method: str, **ids: object) -> bool:
    """True (and a warning) if any of the given ids is not a UUID."""
    bad = [name for name, value in ids.items() if not is_uuid(value)]
    if bad:
        log.warning("data layer: %s refused a non-UUID %s", method, ", ".join(bad))
    return bool(bad)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _unshared(metadata: Any) -> dict[str, Any]:
    return {k: v for k, v in _dict(metadata).items() if k not in SHARING_KEYS}


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list | tuple):
        return None
    return [str(tag) for tag in value]


class CoachDataLayer(BaseDataLayer):
    """Chainlit's thread history, on Chainlit's tables, with the rules above."""

    def __init__(self, engine: AsyncEngine, storage: ElementStore | None = None) -> None:
        self.engine = engine
        self.storage = storage
        self._dialect = engine.dialect.name
        # Writes share the store's one write path (bot/storage.py): on SQLite a
        # read-then-write transaction would otherwise fail at once under load.
        self._write = writer_for(engine).begin

    # --- who is asking ---------------------------------------------------------------

    async def _requester(self, conn: AsyncConnection) -> Requester | None:
        identifier = requester.current_identifier()
        if identifier is None:
            return None
        row = (
            await conn.execute(
                select(users.c.id, users.c.identifier, users.c.metadata).where(
                    users.c.identifier == identifier
                )
            )
        ).first()
        if row is None:
            return None
        role = _dict(row.metadata).get("role")
        return Requester(id=row.id, identifier=row.identifier, staff=role in STAFF_ROLES)

    async def _who(self, conn: AsyncConnection, method: str) -> Requester | None:
        who = await self._requester(conn)
        if who is None:
            log.warning("data layer: %s refused: no signed-in user", method)
        return who

    # --- users -----------------------------------------------------------------------

    async def get_user(self, identifier: str) -> PersistedUser | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(users).where(users.c.identifier == identifier))
            ).first()
        if row is None:
            return None
        # Chainlit resolves the signed-in user through here before every HTTP
        # route and socket connection: that is who asks for the rest of the call.
        requester.remember_signed_in(row.identifier)
        return PersistedUser(
            id=row.id,
            identifier=row.identifier,
            createdAt=row.createdAt or "",
            metadata=_dict(row.metadata),
        )

    async def create_user(self, user: User) -> PersistedUser | None:
        identifier = str(user.identifier)
        metadata = _dict(user.metadata)
        async with self._write() as conn:
            found = (
                await conn.execute(select(users.c.id).where(users.c.identifier == identifier))
            ).first()
            if found is None:
                await conn.execute(
                    self._insert_ignore(users).values(
                        id=str(uuid.uuid4()),
                        identifier=identifier,
                        metadata=metadata,
                        createdAt=_now(),
                    )
                )
            else:
                await conn.execute(
                    update(users).where(users.c.identifier == identifier).values(metadata=metadata)
                )
        return await self.get_user(identifier)

    # --- threads ---------------------------------------------------------------------

    async def get_thread_author(self, thread_id: str) -> str:
        if _refuse_ids("get_thread_author", thread_id=thread_id):
            return ""
        async with self.engine.connect() as conn:
            owner = await self._owner_identifier(conn, thread_id)
        return owner or ""

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        if _refuse_ids("get_thread", thread_id=thread_id):
            raise ThreadRefused()
        async with self.engine.connect() as conn:
            who = await self._who(conn, "get_thread")
            if who is None:
                raise ThreadRefused()
            row = (
                await conn.execute(self._thread_query().where(threads.c.id == thread_id))
            ).first()
            if row is None:
                return None
            if row.userId != who.id and not who.staff:
                log.warning(
                    "data layer: get_thread refused %s another user's thread", who.identifier
                )
                raise ThreadRefused()
            thread = self._thread_dict(row)
            thread["steps"] = await self._steps(conn, thread_id)
            thread["elements"] = await self._elements(conn, thread_id)
        return thread

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        empty: PaginatedResponse[ThreadDict] = PaginatedResponse(
            pageInfo=PageInfo(hasNextPage=False, startCursor=None, endCursor=None), data=[]
        )
        async with self.engine.connect() as conn:
            who = await self._who(conn, "list_threads")
            if who is None:
                return empty
            if filters.userId != who.id:
                log.warning("data layer: list_threads refused another user's listing")
                return empty
            query = self._listing_query(who.id, filters)
            rows = (await conn.execute(query)).all()
        listed = [self._thread_dict(row) for row in rows]
        start = 0
        if pagination.cursor:
            for i, thread in enumerate(listed):
                if thread["id"] == pagination.cursor:
                    start = i + 1
                    break
        page = listed[start : start + pagination.first]
        return PaginatedResponse(
            pageInfo=PageInfo(
                hasNextPage=len(listed) > start + pagination.first,
                startCursor=page[0]["id"] if page else None,
                endCursor=page[-1]["id"] if page else None,
            ),
            data=page,
        )

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        if _refuse_ids("update_thread", thread_id=thread_id):
            return
        async with self._write() as conn:
            who = await self._who(conn, "update_thread")
            if who is None:
                return
            if user_id is not None and user_id != who.id:
                log.warning("data layer: update_thread refused giving a thread to another user")
                return
            if not await self._writable_thread(conn, who, thread_id, "update_thread"):
                return
            if name is None and metadata is None and tags is None:
                return
            values: dict[str, Any] = {}
            if metadata is not None:
                current = (
                    await conn.execute(select(threads.c.metadata).where(threads.c.id == thread_id))
                ).scalar_one_or_none()
                # Chainlit's merge: a key set to None is removed, the others replace.
                removed = {k for k, v in metadata.items() if v is None}
                merged = {k: v for k, v in _unshared(current).items() if k not in removed}
                merged.update({k: v for k, v in _unshared(metadata).items() if v is not None})
                values["metadata"] = merged
                if name is None and isinstance(merged.get("name"), str):
                    values["name"] = merged["name"]
            if name is not None:
                values["name"] = str(name)
            if tags is not None:
                values["tags"] = _tags(tags)
            await conn.execute(
                update(threads)
                .where(threads.c.id == thread_id, threads.c.userId == who.id)
                .values(**values)
            )

    async def delete_thread(self, thread_id: str) -> None:
        if _refuse_ids("delete_thread", thread_id=thread_id):
            return
        async with self._write() as conn:
            who = await self._who(conn, "delete_thread")
            if who is None:
                return
            owner = await self._owner_id(conn, thread_id)
            if owner is None or owner[0] != who.id:
                log.warning("data layer: delete_thread refused a thread that is not theirs")
                return
            keys = (
                await conn.execute(
                    select(elements.c.objectKey).where(elements.c.threadId == thread_id)
                )
            ).scalars()
            object_keys = [k for k in keys if k]
            thread_steps = select(steps.c.id).where(steps.c.threadId == thread_id)
            await conn.execute(
                delete(feedbacks).where(
                    or_(feedbacks.c.threadId == thread_id, feedbacks.c.forId.in_(thread_steps))
                )
            )
            await conn.execute(delete(elements).where(elements.c.threadId == thread_id))
            await conn.execute(delete(steps).where(steps.c.threadId == thread_id))
            await conn.execute(delete(threads).where(threads.c.id == thread_id))
        for key in object_keys:
            await self._delete_file(key)

    # --- steps -----------------------------------------------------------------------

    @_queued
    async def create_step(self, step_dict: Mapping[str, Any]) -> None:
        await self._upsert_step(step_dict, "create_step")

    @_queued
    async def update_step(self, step_dict: Mapping[str, Any]) -> None:
        await self._upsert_step(step_dict, "update_step")

    @_queued
    async def delete_step(self, step_id: str) -> None:
        if _refuse_ids("delete_step", step_id=step_id):
            return
        async with self._write() as conn:
            who = await self._who(conn, "delete_step")
            if who is None:
                return
            thread_id = (
                await conn.execute(select(steps.c.threadId).where(steps.c.id == step_id))
            ).scalar_one_or_none()
            if thread_id is None:
                return
            if not await self._writable_thread(conn, who, thread_id, "delete_step", create=False):
                return
            keys = (
                await conn.execute(
                    select(elements.c.objectKey).where(
                        elements.c.forId == step_id, elements.c.threadId == thread_id
                    )
                )
            ).scalars()
            object_keys = [k for k in keys if k]
            await conn.execute(delete(feedbacks).where(feedbacks.c.forId == step_id))
            await conn.execute(
                delete(elements).where(
                    elements.c.forId == step_id, elements.c.threadId == thread_id
                )
            )
            await conn.execute(
                delete(steps).where(steps.c.id == step_id, steps.c.threadId == thread_id)
            )
        for key in object_keys:
            await self._delete_file(key)

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        async with self.engine.connect() as conn:
            who = await self._who(conn, "get_favorite_steps")
            if who is None or who.id != user_id:
                return []
            rows = (
                await conn.execute(
                    select(steps)
                    .join(threads, threads.c.id == steps.c.threadId)
                    .where(threads.c.userId == who.id, steps.c.metadata.is_not(None))
                    .order_by(steps.c.createdAt.desc())
                    .limit(THREAD_LIMIT)
                )
            ).all()
        favorites = [self._step_dict(row, None) for row in rows]
        return [cast(StepDict, s) for s in favorites if s["metadata"].get("favorite")]

    async def _upsert_step(self, step: Mapping[str, Any], method: str) -> None:
        step_id, thread_id = step.get("id"), step.get("threadId")
        ids: dict[str, object] = {"id": step_id, "threadId": thread_id}
        if step.get("parentId") is not None:
            ids["parentId"] = step.get("parentId")
        if _refuse_ids(method, **ids):
            return
        values = self._step_values(step)
        async with self._write() as conn:
            who = await self._who(conn, method)
            if who is None:
                return
            if not await self._writable_thread(conn, who, str(thread_id), method):
                return
            # Update in place only within the same thread: a step never moves.
            if values:
                result = await conn.execute(
                    update(steps)
                    .where(steps.c.id == step_id, steps.c.threadId == thread_id)
                    .values(**values)
                )
                if result.rowcount:
                    return
            defaults = {"name": "", "type": "undefined", "streaming": False}
            inserted = await conn.execute(
                self._insert_ignore(steps).values(
                    **{**defaults, **values, "id": step_id, "threadId": thread_id}
                )
            )
            if not inserted.rowcount and not await self._step_in(conn, str(step_id), thread_id):
                log.warning(
                    "data layer: %s refused %s moving a step from another thread",
                    method,
                    who.identifier,
                )

    @staticmethod
    def _step_values(step: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in step.items():
            if key in ("id", "threadId") or key not in STEP_COLUMNS or value is None:
                continue
            column = steps.c[key]
            if key == "showInput":
                values[key] = str(value).lower()
            elif key == "tags":
                values[key] = _tags(value)
            elif isinstance(column.type, Boolean):
                values[key] = bool(value)
            elif isinstance(column.type, Integer):
                if isinstance(value, int):
                    values[key] = value
            elif key in ("metadata", "modes", "generation"):
                if isinstance(value, Mapping) and (value or key == "metadata"):
                    values[key] = dict(value)
            else:
                values[key] = value if isinstance(value, str) else str(value)
        return values

    async def _step_in(self, conn: AsyncConnection, step_id: str, thread_id: object) -> bool:
        found = (
            await conn.execute(select(steps.c.threadId).where(steps.c.id == step_id))
        ).scalar_one_or_none()
        return found is not None and found == thread_id

    # --- feedback --------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        feedback_id = feedback.id or str(uuid.uuid4())
        if _refuse_ids("upsert_feedback", forId=feedback.forId, id=feedback_id):
            raise AccessRefused("feedback refused")
        if feedback.value not in (0, 1):
            log.warning("data layer: upsert_feedback refused a value that is not 0 or 1")
            raise AccessRefused("feedback refused")
        comment = feedback.comment if isinstance(feedback.comment, str) else None
        if comment is not None:
            comment = comment[:MAX_COMMENT]
        async with self._write() as conn:
            who = await self._who(conn, "upsert_feedback")
            if who is None:
                raise AccessRefused("feedback refused")
            thread_id = (
                await conn.execute(select(steps.c.threadId).where(steps.c.id == feedback.forId))
            ).scalar_one_or_none()
            if thread_id is None or not await self._writable_thread(
                conn, who, thread_id, "upsert_feedback", create=False
            ):
                raise AccessRefused("feedback refused")
            existing = (
                await conn.execute(select(feedbacks.c.forId).where(feedbacks.c.id == feedback_id))
            ).first()
            if existing is not None:
                if existing.forId != feedback.forId:
                    log.warning("data layer: upsert_feedback refused moving a feedback")
                    raise AccessRefused("feedback refused")
                await conn.execute(
                    update(feedbacks)
                    .where(feedbacks.c.id == feedback_id, feedbacks.c.forId == feedback.forId)
                    .values(value=int(feedback.value), comment=comment, threadId=thread_id)
                )
            else:
                await conn.execute(
                    insert(feedbacks).values(
                        id=feedback_id,
                        forId=feedback.forId,
                        threadId=thread_id,
                        value=int(feedback.value),
                        comment=comment,
                    )
                )
        return feedback_id

    async def delete_feedback(self, feedback_id: str) -> bool:
        if _refuse_ids("delete_feedback", feedback_id=feedback_id):
            return False
        async with self._write() as conn:
            who = await self._who(conn, "delete_feedback")
            if who is None:
                return False
            # Ownership comes from the step the feedback is on, not from the
            # threadId stored with it (Chainlit's layer stored what the browser sent).
            thread_id = (
                await conn.execute(
                    select(steps.c.threadId)
                    .join(feedbacks, feedbacks.c.forId == steps.c.id)
                    .where(feedbacks.c.id == feedback_id)
                )
            ).scalar_one_or_none()
            if thread_id is None or not await self._writable_thread(
                conn, who, thread_id, "delete_feedback", create=False
            ):
                return False
            await conn.execute(delete(feedbacks).where(feedbacks.c.id == feedback_id))
        return True

    # --- elements --------------------------------------------------------------------

    @_queued
    async def create_element(self, element: Any) -> None:
        if not element.for_id:
            return  # Chainlit's rule: elements outside a message are not kept
        element_id, thread_id = element.id, element.thread_id
        if _refuse_ids("create_element", id=element_id, threadId=thread_id, forId=element.for_id):
            return
        content = await self._element_content(element)
        async with self._write() as conn:
            who = await self._who(conn, "create_element")
            if who is None or not await self._writable_thread(
                conn, who, thread_id, "create_element"
            ):
                return
            placed = (
                await conn.execute(select(elements.c.threadId).where(elements.c.id == element_id))
            ).scalar_one_or_none()
            if placed is not None and placed != thread_id:
                log.warning("data layer: create_element refused moving an element")
                return
        object_key = None
        if content is not None and self.storage is not None:
            key = element_key(thread_id, element_id)
            try:
                await self.storage.upload_file(key, content, mime=element.mime or "")
                object_key = key
            except (OSError, ValueError) as exc:
                log.warning("data layer: element file not kept: %s", exc)
        values = self._element_values(element, object_key)
        async with self._write() as conn:
            result = await conn.execute(
                update(elements)
                .where(elements.c.id == element_id, elements.c.threadId == thread_id)
                .values(**values)
            )
            if not result.rowcount:
                await conn.execute(
                    self._insert_ignore(elements).values(
                        **values, id=element_id, threadId=thread_id
                    )
                )

    @_queued
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        ids: dict[str, object] = {"element_id": element_id}
        if thread_id is not None:
            ids["thread_id"] = thread_id
        if _refuse_ids("delete_element", **ids):
            return
        async with self._write() as conn:
            who = await self._who(conn, "delete_element")
            if who is None:
                return
            row = (
                await conn.execute(
                    select(elements.c.threadId, elements.c.objectKey).where(
                        elements.c.id == element_id
                    )
                )
            ).first()
            if row is None or row.threadId is None:
                return
            if thread_id is not None and row.threadId != thread_id:
                log.warning("data layer: delete_element refused an element of another thread")
                return
            if not await self._writable_thread(
                conn, who, row.threadId, "delete_element", create=False
            ):
                return
            await conn.execute(
                delete(elements).where(
                    elements.c.id == element_id, elements.c.threadId == row.threadId
                )
            )
        if row.objectKey:
            await self._delete_file(row.objectKey)

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        if _refuse_ids("get_element", thread_id=thread_id, element_id=element_id):
            return None
        async with self.engine.connect() as conn:
            who = await self._who(conn, "get_element")
            if who is None:
                return None
            owner = await self._owner_id(conn, thread_id)
            if owner is None or (owner[0] != who.id and not who.staff):
                log.warning("data layer: get_element refused another user's thread")
                return None
            row = (
                await conn.execute(
                    select(elements).where(
                        elements.c.id == element_id, elements.c.threadId == thread_id
                    )
                )
            ).first()
        return None if row is None else cast(ElementDict, await self._element_dict(row))

    async def _element_content(self, element: Any) -> bytes | None:
        content = getattr(element, "content", None)
        if isinstance(content, str):
            return content.encode("utf-8")
        if isinstance(content, bytes | bytearray):
            return bytes(content)
        path = getattr(element, "path", None)
        if path:
            # A path is set by server code (the app, or Chainlit for an upload
            # it has already saved), never by the browser.
            try:
                return await asyncio.to_thread(Path(path).read_bytes)
            except OSError as exc:
                log.warning("data layer: element file unreadable: %s", exc)
        # An element by URL keeps its URL; it is never fetched from here.
        return None

    @staticmethod
    def _element_values(element: Any, object_key: str | None) -> dict[str, Any]:
        data = element.to_dict()
        url = data.get("url")
        keep_url = object_key is None and isinstance(url, str) and url.startswith("https://")
        props = data.get("props")
        player = data.get("playerConfig")
        return {
            "type": data.get("type"),
            "url": url if keep_url else None,
            "chainlitKey": data.get("chainlitKey"),
            "name": str(data.get("name") or ""),
            "display": data.get("display"),
            "objectKey": object_key,
            "size": data.get("size"),
            "page": data.get("page") if isinstance(data.get("page"), int) else None,
            "language": data.get("language"),
            "forId": data.get("forId"),
            "mime": data.get("mime"),
            "props": dict(props) if isinstance(props, Mapping) else None,
            "autoPlay": data.get("autoPlay") if isinstance(data.get("autoPlay"), bool) else None,
            "playerConfig": dict(player) if isinstance(player, Mapping) else None,
        }

    async def _delete_file(self, object_key: str) -> None:
        if self.storage is None:
            return
        try:
            await self.storage.delete_file(object_key)
        except (OSError, UnsafeKey) as exc:
            log.warning("data layer: element file not deleted: %s", exc)

    # --- ownership -------------------------------------------------------------------

    async def _owner_id(self, conn: AsyncConnection, thread_id: str) -> tuple[str | None] | None:
        """(owner's user id,) for an existing thread, None for no thread."""
        row = (
            await conn.execute(select(threads.c.userId).where(threads.c.id == thread_id))
        ).first()
        return None if row is None else (row.userId,)

    async def _owner_identifier(self, conn: AsyncConnection, thread_id: str) -> str | None:
        return (
            await conn.execute(
                select(users.c.identifier)
                .join(threads, threads.c.userId == users.c.id)
                .where(threads.c.id == thread_id)
            )
        ).scalar_one_or_none()

    async def _writable_thread(
        self,
        conn: AsyncConnection,
        who: Requester,
        thread_id: str,
        method: str,
        *,
        create: bool = True,
    ) -> bool:
        """True if `who` owns the thread; a missing thread is created as hers
        when `create` (Chainlit writes a thread's first step before naming it)."""
        owner = await self._owner_id(conn, thread_id)
        if owner is None and create:
            await conn.execute(
                self._insert_ignore(threads).values(
                    id=thread_id,
                    createdAt=_now(),
                    userId=who.id,
                    userIdentifier=who.identifier,
                    metadata={},
                )
            )
            owner = await self._owner_id(conn, thread_id)
        if owner is not None and owner[0] == who.id:
            return True
        log.warning("data layer: %s refused %s a thread that is not theirs", method, who.identifier)
        return False

    # --- reading ---------------------------------------------------------------------

    @staticmethod
    def _thread_query() -> Any:
        return select(
            threads.c.id,
            threads.c.createdAt,
            threads.c.name,
            threads.c.userId,
            users.c.identifier.label("owner"),
            threads.c.tags,
            threads.c.metadata,
        ).select_from(threads.outerjoin(users, users.c.id == threads.c.userId))

    def _listing_query(self, user_id: str, filters: ThreadFilter) -> Any:
        updated = func.max(steps.c.createdAt).label("updated")
        query = (
            self._thread_query()
            .add_columns(updated)
            .outerjoin(steps, steps.c.threadId == threads.c.id)
            .where(threads.c.userId == user_id)
            .group_by(
                threads.c.id,
                threads.c.createdAt,
                threads.c.name,
                threads.c.userId,
                users.c.identifier,
                threads.c.tags,
                threads.c.metadata,
            )
            .order_by(updated.desc().nulls_last(), threads.c.createdAt.desc())
            .limit(THREAD_LIMIT)
        )
        if filters.search:
            escaped = filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            said = steps.alias("said")
            matching_step = exists().where(
                said.c.threadId == threads.c.id, said.c.output.ilike(pattern, escape="\\")
            )
            query = query.where(or_(threads.c.name.ilike(pattern, escape="\\"), matching_step))
        if filters.feedback is not None:
            query = query.where(
                exists().where(
                    and_(
                        feedbacks.c.threadId == threads.c.id,
                        feedbacks.c.value == int(filters.feedback),
                    )
                )
            )
        return query

    @staticmethod
    def _thread_dict(row: Row[Any]) -> ThreadDict:
        return ThreadDict(
            id=row.id,
            createdAt=row.createdAt or "",
            name=row.name,
            userId=row.userId,
            userIdentifier=row.owner,
            tags=_tags(row.tags),
            # As JSON text, as Chainlit's own layer handed it over on SQLite:
            # Chainlit's server parses it where it needs it (a resume restores
            # the chat profile and settings from it), while the page, given a
            # dict, switches to the thread's chat profile, reconnects and so
            # resumes the thread a second time (two "session resumed" turns).
            metadata=cast(dict[str, Any], json.dumps(_unshared(row.metadata))),
            steps=[],
            elements=[],
        )

    async def _steps(self, conn: AsyncConnection, thread_id: str) -> list[Any]:
        rows = (
            await conn.execute(
                select(
                    steps,
                    feedbacks.c.id.label("feedback_id"),
                    feedbacks.c.value.label("feedback_value"),
                    feedbacks.c.comment.label("feedback_comment"),
                )
                .select_from(steps.outerjoin(feedbacks, feedbacks.c.forId == steps.c.id))
                .where(steps.c.threadId == thread_id)
                .order_by(steps.c.createdAt.asc())
            )
        ).all()
        seen: set[str] = set()
        out = []
        for row in rows:
            if row.id in seen:  # a second feedback on one step
                continue
            seen.add(row.id)
            feedback = None
            if row.feedback_value is not None:
                feedback = {
                    "forId": row.id,
                    "id": row.feedback_id,
                    "value": row.feedback_value,
                    "comment": row.feedback_comment,
                }
            out.append(self._step_dict(row, feedback))
        return out

    @staticmethod
    def _step_dict(row: Row[Any], feedback: dict[str, Any] | None) -> dict[str, Any]:
        shown = row.showInput not in (None, "false")
        return {
            "id": row.id,
            "name": row.name,
            "type": row.type,
            "threadId": row.threadId,
            "parentId": row.parentId,
            "streaming": bool(row.streaming),
            "waitForAnswer": row.waitForAnswer,
            "isError": row.isError,
            "metadata": _dict(row.metadata),
            "tags": _tags(row.tags),
            "input": (row.input or "") if shown else "",
            "output": row.output or "",
            "createdAt": row.createdAt,
            "command": row.command,
            "modes": row.modes if isinstance(row.modes, dict) else None,
            "start": row.start,
            "end": row.end,
            "generation": row.generation if isinstance(row.generation, dict) else None,
            "showInput": row.showInput,
            "language": row.language,
            "defaultOpen": row.defaultOpen,
            "autoCollapse": row.autoCollapse,
            "feedback": feedback,
        }

    async def _elements(self, conn: AsyncConnection, thread_id: str) -> list[Any]:
        rows = (await conn.execute(select(elements).where(elements.c.threadId == thread_id))).all()
        return [await self._element_dict(row) for row in rows]

    async def _element_dict(self, row: Row[Any]) -> dict[str, Any]:
        url = row.url
        if row.objectKey and self.storage is not None:
            try:
                url = await self.storage.get_read_url(row.objectKey)
            except (OSError, UnsafeKey) as exc:
                log.warning("data layer: element file missing: %s", exc)
                url = None
        return {
            "id": row.id,
            "threadId": row.threadId,
            "type": row.type,
            "chainlitKey": row.chainlitKey,
            "url": url,
            "objectKey": row.objectKey,
            "name": row.name,
            "display": row.display,
            "size": row.size,
            "language": row.language,
            "page": row.page,
            "props": row.props if isinstance(row.props, dict) else {},
            "autoPlay": row.autoPlay,
            "playerConfig": row.playerConfig,
            "forId": row.forId,
            "mime": row.mime,
        }

    # --- plumbing --------------------------------------------------------------------

    def _insert_ignore(self, table: Any) -> Insert:
        """INSERT ... ON CONFLICT DO NOTHING, for the two dialects the project runs on."""
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if self._dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return insert(table)

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        if self.storage is not None:
            await self.storage.close()
        await self.engine.dispose()
