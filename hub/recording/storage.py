"""Where finished recordings are kept: a small port (`RecordingStore`) and its local-folder
implementation (the default; hub/recording/s3.py is the S3-compatible one).

Keys look like "<meeting id>/<recording id>/<file>"; only this package makes them, and the
local store also refuses any key that would leave its folder. Files are 0600, folders 0700.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hub.errors import NotFound
from hub.i18n import Text

if TYPE_CHECKING:
    from hub.config import HubConfig

CHUNK = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    """ValueError for a key that is not plain path segments (no '..', no leading dot)."""
    if not _KEY.match(key) or ".." in key or len(key) > 500:
        raise ValueError(f"bad storage key {key[:80]!r}")
    return key


class RecordingStore(Protocol):
    """Stores recordings' files and manifests. Made by `open_store`; `open` before the first
    call, `close` after the last."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def put_file(self, key: str, source: Path) -> None:
        """Store the file (the store may move it away from `source`)."""

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    async def read(self, key: str) -> bytes:
        """The whole object; NotFound if absent."""

    def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The object in pieces, for a download; NotFound (on first iteration) if absent."""

    async def size(self, key: str) -> int:
        """Its length in bytes; NotFound if absent."""

    async def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`, sorted."""

    async def delete(self, key: str) -> None:
        """Remove it (absent already: nothing happens)."""


class LocalStore:
    """A folder on this machine (default <server.data_dir>/recordings)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def open(self) -> None:
        """Nothing to open: the folder is made with the first recording."""

    async def close(self) -> None:
        """Nothing to close."""

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, source: Path) -> None:
        await asyncio.to_thread(self._move, source, self._path(key))

    @staticmethod
    def _move(source: Path, target: Path) -> None:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            source.replace(target)
        except OSError:  # another file system: copy, then drop the spooled one
            shutil.copyfile(source, target)
            source.unlink()
        target.chmod(0o600)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        partial.replace(target)

    async def read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise NotFound(text=Text("error.file.missing")) from None

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            raise NotFound(text=Text("error.file.missing")) from None
        with handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk

    async def size(self, key: str) -> int:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            raise NotFound(text=Text("error.file.missing")) from None

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    def _keys(self, prefix: str) -> list[str]:
        # Only below the prefix's folder (a meeting's), not every meeting's files.
        top = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not top.is_dir():
            return []
        found = []
        for path in top.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and _KEY.match(key):
                found.append(key)
        return sorted(found)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        with contextlib.suppress(OSError):  # the recording's folder, once empty
            path.parent.rmdir()


def open_store(config: HubConfig) -> RecordingStore:
    """The configured store (an S3 one opens its client with `await store.open()`)."""
    if config.storage.backend == "s3":
        from hub.recording.s3 import S3Store  # aiobotocore: only with backend = "s3"

        return S3Store(config.storage)
    return LocalStore(config.recordings_dir)
