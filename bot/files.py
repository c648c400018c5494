"""Reading a file a user named, with the project's one-line errors."""

from __future__ import annotations

from pathlib import Path

from bot.errors import CoachError


def read_text(path: Path, error: type[CoachError], what: str = "file") -> str:
    """The file's text (UTF-8); a missing or unreadable file is ``error`` in one line."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error(f"{path}: cannot read the {what}: {reason}") from None
