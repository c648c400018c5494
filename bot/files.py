"""Reading a file a user named, with the project's one-line errors; writing a private one."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from bot.errors import CoachError

#: What any file a user names may weigh (cases, scripts): past it, the file is
#: refused before it is read, so a huge file cannot freeze a command.
MAX_FILE_BYTES = 20 * 1024 * 1024


def read_text(
    path: Path, error: type[CoachError], what: str = "file", *, max_bytes: int = MAX_FILE_BYTES
) -> str:
    """The file's text (UTF-8); a missing, unreadable, dangling or oversized
    file is ``error`` in one line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if path.is_symlink():
            raise error(f"{path}: the link points to nothing; fix or remove it") from None
        raise error(f"{path}: no such {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if size > max_bytes:
        raise error(f"{path}: the {what} is {_kib(size)}; the limit is {_kib(max_bytes)}: split it")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error(f"{path}: cannot read the {what}: {reason}") from None


def read_stdin(
    error: type[CoachError], what: str = "input", *, max_bytes: int = MAX_FILE_BYTES
) -> str:
    """Standard input's text (UTF-8) under the same size limit as a file: read
    as bytes so invalid UTF-8 is ``error`` in one line, not a traceback later
    when the text is printed or stored."""
    data = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"stdin: over {_kib(max_bytes)} of {what}, the limit for one input; split it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"stdin: not UTF-8 text (byte {exc.start + 1}); save the {what} as UTF-8"
        ) from None


def _kib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size // 1024} KiB"


def write_private(path: Path, text: str, *, replace: bool = True) -> bool:
    """Write ``text`` to ``path`` readable by its owner only (0600) from the
    first byte: a temporary file created 0600 with O_EXCL, then moved into
    place, so no other user ever sees the content and no reader sees half of
    it. With ``replace=False`` an existing file wins (two processes racing to
    create a secret agree on one); returns whether this call wrote it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails, atomically, if the file exists
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (0700): created so, or tightened."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path
