"""The storage interface: whole files in, bytes out by key and byte range.

Storage only moves bytes. It knows nothing of WARC; the WARC code hands it finished
files and asks for byte ranges back. Every backend passes tests/test_storage_contract.py.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

CHUNK = 1024 * 1024


class StorageKeyNotFound(KeyError):
    """No object is stored under this key."""

    def __init__(self, key: str, backend: str):
        super().__init__(key)
        self.key = key
        self.backend = backend

    def __str__(self) -> str:
        return f"no object with key {self.key!r} in {self.backend} storage"


class StorageIntegrityError(OSError):
    """What the store holds after a put differs from the source file; the source is kept."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str           # hex digest of the stored bytes


@runtime_checkable
class Storage(Protocol):
    """What every backend offers. Keys are relative POSIX paths (see `check_key`)."""

    name: str             # backend name, recorded beside every stored artifact: "local", "memory"

    def put(self, key: str, source_path: Path, *, move: bool = False) -> StoredObject:
        """Store the bytes of the file at `source_path` under `key`, replacing any object there.

        The object is complete or absent, never partial. With `move=True` the source file is
        consumed: renamed into place where the backend can, else copied and then deleted.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable, seekable binary file of the object; close it after use."""
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset + length) of the object, fewer if the object ends first."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix` (a plain string prefix), in sorted order."""
        ...


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative POSIX path, else raise ValueError saying why."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"storage key must be a non-empty string, not {key!r}")
    if "\x00" in key:
        raise ValueError(f"storage key {key!r} contains a NUL character")
    if "\\" in key:
        raise ValueError(f"storage key {key!r} contains a backslash; use '/' between parts")
    if key.startswith("/"):
        raise ValueError(f"storage key {key!r} is absolute; keys are relative paths")
    for part in key.split("/"):
        if part == "..":
            raise ValueError(f"storage key {key!r} contains '..'")
        if part in ("", "."):
            raise ValueError(f"storage key {key!r} has an empty or '.' path segment")
    return key


def check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError(f"byte range must not be negative (offset={offset}, length={length})")


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
