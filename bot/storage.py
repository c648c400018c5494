"""Where sessions, messages, grades and moods are kept (SQLAlchemy, async).

SQLite by default (one file under ``COACH_DATA_DIR``), PostgreSQL by URL
(``COACH_DATABASE_URL=postgresql+asyncpg://...``). The tables are prefixed
``coach_`` so Chainlit's own tables can live in the same database.

Every write goes through one path (:class:`Writer`, shared by everything on
the same engine, Chainlit's data layer included). On SQLite, where one
connection writes at a time, that path takes the write lock up front
(``BEGIN IMMEDIATE``), so SQLite's busy timeout covers the whole wait and a
read never has to be upgraded to a write mid-transaction (which fails at once
under WAL); within a process the writers queue on an asyncio lock instead of
a pool of threads spinning on the file; across processes (the app and
several ``coach`` commands on one file) a lock still held when the busy
timeout ends is retried with back-off, within ``LOCK_WAIT_SECONDS``. Reads
run in plain (deferred) transactions and never wait for a writer (WAL).
aiosqlite runs every statement in its own thread, so no wait blocks the
event loop.

The SQLite file holds every trainee's conversations and the password hashes:
it is created private (0600, in a 0700 folder) before SQLite first opens it,
so its -wal and -shm companions, which SQLite creates with the database
file's own mode, are private too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.errors import CorrectionError, StorageError
from bot.rubric import Grade
from bot.usage import ModelUsage

log = logging.getLogger(__name__)

#: How long SQLite itself waits for another connection's write lock (per attempt).
BUSY_TIMEOUT_MS = 5_000
#: How long a write waits in all for the write lock before it fails.
LOCK_WAIT_SECONDS = 60.0
#: The execution option that makes a SQLite transaction begin IMMEDIATE.
_IMMEDIATE = "coach_begin_immediate"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_stamp() -> str:
    """A fresh credential stamp: random, so that an account removed and added
    again under the same name never revives a token issued to the old one."""
    return secrets.token_urlsafe(16)


class Base(DeclarativeBase):
    """The coach's own tables (Chainlit's are in chainlit_schema.py)."""


class SessionRow(Base):
    __tablename__ = "coach_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(36), index=True)
    persona_id: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2))
    backend: Mapped[str] = mapped_column(String(255))
    mood_start: Mapped[int] = mapped_column(Integer)
    mood: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")
    end_reason: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=_now)
    ended_at: Mapped[datetime | None]


class MessageRow(Base):
    __tablename__ = "coach_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("coach_sessions.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    content: Mapped[str] = mapped_column(Text)
    #: complete; partial (a reply cut by a failure); failed (nothing came);
    #: retracted (a reply the trainee took back, and the customer's answer to it:
    #: kept for the record, out of the conversation).
    status: Mapped[str] = mapped_column(String(10), default="complete")
    created_at: Mapped[datetime] = mapped_column(default=_now)


class UsageRow(Base):
    """What the model server reported for one model-written message (today the
    customer's replies): prompt tokens, how many of them its prompt cache
    served, completion tokens."""

    __tablename__ = "coach_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("coach_sessions.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("coach_messages.id"), unique=True)
    #: Which chain made the call ("customer").
    chain: Mapped[str] = mapped_column(String(12))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class UserRow(Base):
    """An account for password sign-in; passwords only as salted hashes."""

    __tablename__ = "coach_users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Changes whenever what a sign-in token vouches for changes (password,
    #: role, a sign-out): a token carries the stamp it was issued with and is
    #: refused once they differ. Empty in databases made before it existed,
    #: until the account next signs in.
    credential_stamp: Mapped[str | None] = mapped_column(String(64), default=new_stamp)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class GradeRow(Base):
    __tablename__ = "coach_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("coach_sessions.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("coach_messages.id"), unique=True)
    turn: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(12))
    score: Mapped[int | None] = mapped_column(Integer)
    deescalation: Mapped[int] = mapped_column(Integer)
    mood_before: Mapped[int] = mapped_column(Integer)
    mood_after: Mapped[int] = mapped_column(Integer)
    grade: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class HintRow(Base):
    """A hint the trainee asked for, and how many replies they had sent by then."""

    __tablename__ = "coach_hints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("coach_sessions.id"), index=True)
    #: The trainee's replies before the hint (0: asked before the first reply).
    after_turn: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CorrectionRow(Base):
    """A trainer's correction of one criterion's verdict in one stored grade:
    the grader's mistakes, kept to become its regression tests."""

    __tablename__ = "coach_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("coach_sessions.id"), index=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("coach_grades.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("coach_messages.id"))
    turn: Mapped[int] = mapped_column(Integer)
    criterion: Mapped[str] = mapped_column(String(64))
    #: What the stored grade said (read from it, never from the request).
    old_verdict: Mapped[str] = mapped_column(String(10))
    new_verdict: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text)
    #: The trainer's account name.
    trainer: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=_now)


@dataclass(frozen=True)
class StoredTurn:
    """A trainee message with its grade (if it was graded)."""

    turn: int
    message_id: int
    content: str
    grade: Grade | None
    mood_before: int | None
    mood_after: int | None


@dataclass(frozen=True)
class StoredSession:
    row: SessionRow
    messages: list[MessageRow]
    turns: list[StoredTurn]
    #: The hints asked for, in order.
    hints: list[HintRow] = field(default_factory=list)
    #: Replies the trainee took back (numbered as the turn they were), in order.
    retracted: list[StoredTurn] = field(default_factory=list)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            create_private_file(Path(parsed.database))
        try:
            self.engine: AsyncEngine = create_async_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(f"cannot use database URL {parsed!r}: {exc}") from None
        if self.is_sqlite:
            prepare_sqlite_engine(self.engine)
        self.writer = writer_for(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """An ORM session inside the one write path; committed when the block ends."""
        async with self.writer.begin() as conn:
            db = AsyncSession(bind=conn, expire_on_commit=False)
            try:
                yield db
                await db.flush()
            finally:
                await db.close()

    async def init(self) -> None:
        from bot.chainlit_schema import create_chainlit_tables

        try:
            async with self.writer.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await conn.run_sync(_add_missing_columns)
                await create_chainlit_tables(conn, self.engine.dialect.name)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(
                f"cannot open the database ({make_url(self.url)!r}): {str(exc).splitlines()[0]}"
            ) from None

    async def close(self) -> None:
        await self.engine.dispose()

    # --- writes ---------------------------------------------------------------

    async def create_session(
        self,
        *,
        persona_id: str,
        language: str,
        backend: str,
        mood: int,
        user_id: str | None = None,
        thread_id: str | None = None,
    ) -> str:
        session_id = str(uuid.uuid4())
        async with self._write() as db:
            db.add(
                SessionRow(
                    id=session_id,
                    user_id=user_id,
                    thread_id=thread_id,
                    persona_id=persona_id,
                    language=language,
                    backend=backend,
                    mood_start=mood,
                    mood=mood,
                )
            )
        return session_id

    async def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        status: str = "complete",
        *,
        usage: ModelUsage | None = None,
    ) -> int:
        """Store a message, with the server's usage for it when a model wrote it
        (in the same transaction: one write per message)."""
        async with self._write() as db:
            row = MessageRow(session_id=session_id, role=role, content=content, status=status)
            db.add(row)
            await db.flush()
            if usage is not None:
                db.add(
                    UsageRow(
                        session_id=session_id,
                        message_id=row.id,
                        chain=role,
                        prompt_tokens=usage.prompt_tokens,
                        cached_tokens=usage.cached_tokens,
                        completion_tokens=usage.completion_tokens,
                    )
                )
            return row.id

    async def add_grade(
        self,
        session_id: str,
        message_id: int,
        turn: int,
        grade: Grade,
        mood_before: int,
        mood_after: int,
    ) -> None:
        async with self._write() as db:
            db.add(
                GradeRow(
                    session_id=session_id,
                    message_id=message_id,
                    turn=turn,
                    mode=grade.mode,
                    score=grade.score,
                    deescalation=grade.deescalation,
                    mood_before=mood_before,
                    mood_after=mood_after,
                    grade=grade.model_dump(mode="json"),
                )
            )
            await db.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(mood=mood_after)
            )

    async def retract_from(self, session_id: str, message_id: int, mood: int) -> None:
        """Take back a trainee's reply: it and every later message of the session
        become "retracted" (kept, out of the conversation), and the session's
        mood goes back to ``mood``, in one write."""
        async with self._write() as db:
            await db.execute(
                update(MessageRow)
                .where(MessageRow.session_id == session_id, MessageRow.id >= message_id)
                .values(status="retracted")
            )
            await db.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(mood=mood)
            )

    async def end_session(self, session_id: str, reason: str) -> None:
        async with self._write() as db:
            await db.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id)
                .values(status="ended", end_reason=reason, ended_at=_now())
            )

    async def add_hint(self, session_id: str, after_turn: int, content: str) -> None:
        async with self._write() as db:
            db.add(HintRow(session_id=session_id, after_turn=after_turn, content=content))

    async def add_correction(
        self,
        *,
        session_id: str,
        message_id: int,
        criterion: str,
        verdict: str,
        comment: str,
        trainer: str,
    ) -> CorrectionRow:
        """Record that ``criterion``'s verdict on the grade of ``message_id`` should
        have been ``verdict``. The old verdict and the turn come from the stored
        grade; a grade that is not there, or that already says ``verdict``, is refused."""
        async with self._write() as db:
            grade = await db.scalar(
                select(GradeRow).where(
                    GradeRow.session_id == session_id, GradeRow.message_id == message_id
                )
            )
            if grade is None:
                raise CorrectionError(
                    "no graded reply with that id in this session; open the transcript again",
                    "reply",
                )
            result = (grade.grade.get("criteria") or {}).get(criterion)
            old = result.get("verdict") if isinstance(result, dict) else None
            if not isinstance(old, str):
                old = "na"
            if old == verdict:
                raise CorrectionError(
                    f"the grade already says '{verdict}' for {criterion}; pick another verdict",
                    "same",
                    verdict=verdict,
                )
            row = CorrectionRow(
                session_id=session_id,
                grade_id=grade.id,
                message_id=message_id,
                turn=grade.turn,
                criterion=criterion,
                old_verdict=old,
                new_verdict=verdict,
                comment=comment,
                trainer=trainer,
            )
            db.add(row)
            await db.flush()
            return row

    async def save_user(self, name: str, role: str, password_hash: str) -> None:
        """Add an account or reset its role and password: either way every
        token issued before is void (a new credential stamp)."""
        async with self._write() as db:
            existing = await db.get(UserRow, name)
            if existing is None:
                db.add(UserRow(name=name, role=role, password_hash=password_hash))
            else:
                existing.role, existing.password_hash = role, password_hash
                existing.credential_stamp = new_stamp()

    async def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        password_hash: str | None = None,
        revoke: bool = True,
    ) -> UserRow | None:
        """Change an account's role and/or password hash; None if there is no
        such account. ``revoke=False`` keeps the tokens already issued: only
        for the same password hashed again at a higher cost."""
        async with self._write() as db:
            row = await db.get(UserRow, name)
            if row is None:
                return None
            if role is not None:
                row.role = role
            if password_hash is not None:
                row.password_hash = password_hash
            if revoke or not row.credential_stamp:
                row.credential_stamp = new_stamp()
            return row

    async def remove_user(self, name: str) -> bool:
        async with self._write() as db:
            row = await db.get(UserRow, name)
            if row is None:
                return False
            await db.delete(row)
            return True

    # --- reads ----------------------------------------------------------------

    async def get_user(self, name: str) -> UserRow | None:
        async with self._sessions() as db:
            return await db.get(UserRow, name)

    async def list_users(self) -> list[UserRow]:
        async with self._sessions() as db:
            return list((await db.scalars(select(UserRow).order_by(UserRow.name))).all())

    async def load(self, session_id: str) -> StoredSession | None:
        async with self._sessions() as db:
            row = await db.get(SessionRow, session_id)
            if row is None:
                return None
            messages = list(
                (
                    await db.scalars(
                        select(MessageRow)
                        .where(MessageRow.session_id == session_id)
                        .order_by(MessageRow.id)
                    )
                ).all()
            )
            grades = {
                g.message_id: g
                for g in (
                    await db.scalars(select(GradeRow).where(GradeRow.session_id == session_id))
                ).all()
            }
            hints = list(
                (
                    await db.scalars(
                        select(HintRow).where(HintRow.session_id == session_id).order_by(HintRow.id)
                    )
                ).all()
            )
        turns: list[StoredTurn] = []
        retracted: list[StoredTurn] = []
        for message in messages:
            if message.role != "trainee":
                continue
            g = grades.get(message.id)
            taken_back = message.status == "retracted"
            (retracted if taken_back else turns).append(
                StoredTurn(
                    turn=len(turns) + 1,
                    message_id=message.id,
                    content=message.content,
                    grade=Grade.model_validate(g.grade) if g else None,
                    mood_before=g.mood_before if g else None,
                    mood_after=g.mood_after if g else None,
                )
            )
        return StoredSession(row, messages, turns, hints, retracted)

    async def corrections(self, session_ids: list[str] | None = None) -> list[CorrectionRow]:
        """Every correction (or those of ``session_ids``), oldest first."""
        query = select(CorrectionRow).order_by(CorrectionRow.id)
        if session_ids is not None:
            if not session_ids:
                return []
            query = query.where(CorrectionRow.session_id.in_(session_ids))
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())

    async def hints_for_sessions(self, session_ids: list[str]) -> list[HintRow]:
        if not session_ids:
            return []
        async with self._sessions() as db:
            query = select(HintRow).where(HintRow.session_id.in_(session_ids))
            return list((await db.scalars(query.order_by(HintRow.id))).all())

    async def usage_for_session(self, session_id: str) -> list[UsageRow]:
        """The server's usage for each model-written message of a session, in order."""
        async with self._sessions() as db:
            query = select(UsageRow).where(UsageRow.session_id == session_id)
            return list((await db.scalars(query.order_by(UsageRow.message_id))).all())

    async def find_by_thread(self, thread_id: str) -> SessionRow | None:
        async with self._sessions() as db:
            result = await db.scalars(
                select(SessionRow)
                .where(SessionRow.thread_id == thread_id)
                .order_by(SessionRow.started_at.desc())
            )
            return result.first()

    async def list_sessions(self, user_id: str | None = None) -> list[SessionRow]:
        query = select(SessionRow).order_by(SessionRow.started_at.desc())
        if user_id is not None:
            query = query.where(SessionRow.user_id == user_id)
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())

    async def grades_for_sessions(self, session_ids: list[str]) -> list[GradeRow]:
        """The grades of these sessions' replies, leaving out the replies the
        trainee took back (out of the conversation, out of the figures)."""
        if not session_ids:
            return []
        async with self._sessions() as db:
            return list(
                (
                    await db.scalars(
                        select(GradeRow)
                        .join(MessageRow, MessageRow.id == GradeRow.message_id)
                        .where(
                            GradeRow.session_id.in_(session_ids),
                            MessageRow.status != "retracted",
                        )
                        .order_by(GradeRow.id)
                    )
                ).all()
            )


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for another database or in memory)."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def create_private_file(path: Path) -> None:
    """Make ``path``'s folder (0700 when it is created here) and the file
    itself (0600) before anything else opens it; tighten an existing file and
    its SQLite companions (-wal, -shm, -journal) to 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    companions = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))
    for companion in (path, *companions):
        try:
            if companion.stat().st_mode & 0o077:
                companion.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # not ours (a shared deployment): leave it to its owner
            continue


def _add_missing_columns(conn: Any) -> None:
    """Columns added to the coach's tables since a database was created
    (``create_all`` only makes missing tables, never missing columns)."""
    present = {c["name"] for c in inspect(conn).get_columns(UserRow.__tablename__)}
    if "credential_stamp" not in present:
        conn.execute(text("ALTER TABLE coach_users ADD COLUMN credential_stamp VARCHAR(64)"))


class Writer:
    """The one write path of an engine (see the module doc); :func:`writer_for` shares it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._immediate = engine.execution_options(**{_IMMEDIATE: True})
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        #: Times a write found the file locked by another process and tried again.
        self.lock_retries = 0

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block ends
        (rolled back if it raises)."""
        if not self.sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._lock():
            conn = await self._begin_immediate()
            try:
                yield conn
                await conn.commit()
            finally:
                # Closing returns the connection to the pool, rolling back
                # whatever was not committed.
                await conn.close()

    async def _begin_immediate(self) -> AsyncConnection:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.05
        while True:
            conn = await self._immediate.connect()
            try:
                await conn.begin()
                return conn
            except OperationalError as exc:
                await conn.close()
                if not _is_locked(exc) or time.monotonic() + pause > deadline:
                    raise
                self.lock_retries += 1
                log.info("database locked by another process; retrying in %.2f s", pause)
            except BaseException:
                await conn.close()
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


_writers: weakref.WeakKeyDictionary[Any, Writer] = weakref.WeakKeyDictionary()


def writer_for(engine: AsyncEngine) -> Writer:
    """The write path every user of ``engine`` shares (the store and Chainlit's data layer)."""
    key = engine.sync_engine
    writer = _writers.get(key)
    if writer is None:
        writer = _writers[key] = Writer(engine)
    return writer


def _is_locked(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def prepare_sqlite_engine(engine: AsyncEngine) -> None:
    """Pragmas on every new connection, and transactions begun by us: the
    driver's own implicit BEGIN (before the first write of a transaction)
    is turned off, deferred for reads, IMMEDIATE for the write path.
    (SQLAlchemy's documented recipe for pysqlite and aiosqlite.)"""
    sync = engine.sync_engine
    event.listen(sync, "connect", _sqlite_pragmas)
    event.listen(sync, "begin", _sqlite_begin)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No implicit transactions: _sqlite_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The busy timeout first, so that the pragmas below wait for a lock too.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL lets the app and a CLI read while one writes; switching needs the
    # write lock, so it is only asked for when the file is not in WAL yet.
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if not row or str(row[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    # Foreign keys are off by default.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
