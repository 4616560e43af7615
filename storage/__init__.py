"""Where sealed files live. One interface (`Storage`), backends chosen by URL scheme.

    file:///absolute/path   LocalStorage: a folder on this machine
    memory://               MemoryStorage: a dict, for tests
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from storage.base import Storage, StorageKeyNotFound, StoredObject, check_key
from storage.local import LocalStorage
from storage.memory import MemoryStorage

__all__ = ["Storage", "StorageKeyNotFound", "StoredObject", "LocalStorage", "MemoryStorage",
           "open_storage", "check_key"]

SUPPORTED = "file:///ABSOLUTE/PATH or memory://"


def open_storage(url: str) -> Storage:
    """The backend for `url`; ValueError for a scheme or form we do not support."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"storage URL {url!r} names a host; use file:///ABSOLUTE/PATH")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"storage URL {url!r} needs an absolute path: file:///ABSOLUTE/PATH")
        return LocalStorage(Path(path))
    if parts.scheme == "memory":
        return MemoryStorage()
    raise ValueError(f"storage URL {url!r} is not supported; supported: {SUPPORTED}")
