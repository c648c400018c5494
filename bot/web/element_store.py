"""Element files (the debrief chart, the transcripts) on local disk.

Chainlit's data layer keeps an element's bytes in a storage client and only a
key in the ``elements`` table; without one, a resumed session loses its chart
and its downloads. This client keeps them under the data folder
(``<data dir>/files/<thread id>/<element id>``), folders 0700 and files 0600,
written atomically. Keys are made by the data layer from two UUIDs and are
checked again here, so no name from a message or a browser ever becomes a
path.

Read URLs: Chainlit has no route that serves a storage client's file with an
ownership check (its ``/project/file`` route only serves the live socket
session's uploads, and a storage URL would be readable by whoever holds it).
So ``get_read_url`` returns the file itself as a ``data:`` URL. Only the data
layer calls it, while building a thread or an element for a reader it has
already checked (the owner, or staff), so the bytes reach exactly the users
who may read the thread, and no URL exists that could be shared or guessed.
The price is size: files above ``max_bytes`` are refused at upload.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from chainlit.data.storage_clients.base import BaseStorageClient

#: A debrief chart is tens of kilobytes; a transcript, a few.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

_KEY = re.compile(r"^([0-9a-f-]{36})/([0-9a-f-]{36})$")
_MIME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*/[A-Za-z0-9][A-Za-z0-9.+-]*$")
_FALLBACK_MIME = "application/octet-stream"


class UnsafeKey(ValueError):
    """An object key that is not "<thread uuid>/<element uuid>"."""


def element_key(thread_id: str, element_id: str) -> str:
    """The only key shape this store accepts."""
    key = f"{thread_id}/{element_id}"
    _parts(key)
    return key


def _parts(key: str) -> tuple[str, str]:
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise UnsafeKey("not an element key")
    thread, element = match.groups()
    for part in (thread, element):
        try:
            canonical = str(uuid.UUID(part))
        except ValueError:
            raise UnsafeKey("not an element key") from None
        if canonical != part:
            raise UnsafeKey("not an element key")
    return thread, element


def _safe_mime(mime: str | None) -> str:
    # The type goes into a data: URL, where ';' or ',' would change its meaning.
    return mime if mime and _MIME.fullmatch(mime) else _FALLBACK_MIME


class ElementStore(BaseStorageClient):
    """Chainlit storage client over a private folder on local disk."""

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes

    # --- Chainlit's storage client API -------------------------------------------------

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = _FALLBACK_MIME,
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(content) > self.max_bytes:
            raise ValueError(f"element of {len(content)} bytes is over {self.max_bytes}")
        await asyncio.to_thread(self._write, object_key, content, _safe_mime(mime), overwrite)
        return {"object_key": object_key, "url": None}

    async def delete_file(self, object_key: str) -> bool:
        return await asyncio.to_thread(self._delete, object_key)

    async def get_read_url(self, object_key: str) -> str:
        found = await self.read(object_key)
        if found is None:
            raise FileNotFoundError("no such element file")
        content, mime = found
        return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"

    async def close(self) -> None:
        return None

    # --- reading -----------------------------------------------------------------------

    async def read(self, object_key: str) -> tuple[bytes, str] | None:
        """The file's bytes and type, or None if there is none."""
        return await asyncio.to_thread(self._read, object_key)

    # --- on disk -----------------------------------------------------------------------

    def _paths(self, object_key: str) -> tuple[Path, Path, Path]:
        thread, element = _parts(object_key)
        folder = self.root / thread
        return folder, folder / element, folder / f"{element}.json"

    def _private_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.is_symlink() or not path.is_dir():
            raise UnsafeKey("element folder is not a plain folder")
        path.chmod(0o700)

    def _write(self, object_key: str, content: bytes, mime: str, overwrite: bool) -> None:
        folder, file, meta = self._paths(object_key)
        self._private_dir(self.root)
        self._private_dir(folder)
        if not overwrite and file.exists():
            raise FileExistsError("element file exists")
        _write_private(meta, json.dumps({"mime": mime}).encode("utf-8"))
        _write_private(file, content)

    def _read(self, object_key: str) -> tuple[bytes, str] | None:
        _folder, file, meta = self._paths(object_key)
        if file.is_symlink() or not file.is_file():
            return None
        mime = _FALLBACK_MIME
        with contextlib.suppress(OSError, ValueError, AttributeError):
            mime = _safe_mime(json.loads(meta.read_text(encoding="utf-8")).get("mime"))
        return file.read_bytes(), mime

    def _delete(self, object_key: str) -> bool:
        folder, file, meta = self._paths(object_key)
        existed = file.exists()
        for path in (file, meta):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when it was the thread's last element
        return existed


def _write_private(path: Path, content: bytes) -> None:
    """Write a 0600 file atomically (a temporary file renamed over it)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
