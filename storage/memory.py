"""Objects in a dict, for tests. Same contract as the other backends, nothing durable."""
from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from storage.base import StorageKeyNotFound, StoredObject, check_key, check_range


class MemoryStorage:
    name = "memory"

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStorage({len(self._objects)} objects)"

    def _get(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise StorageKeyNotFound(key, self.name) from None

    def put(self, key: str, source_path: Path, *, move: bool = False) -> StoredObject:
        check_key(key)
        data = Path(source_path).read_bytes()
        with self._lock:
            self._objects[key] = data
        if move:
            Path(source_path).unlink()
        return StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key))

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        return self._get(key)[offset:offset + length]

    def exists(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            return key in self._objects

    def size(self, key: str) -> int:
        return len(self._get(key))

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            if self._objects.pop(key, None) is None:
                raise StorageKeyNotFound(key, self.name)

    def keys(self, prefix: str = "") -> Iterator[str]:
        with self._lock:
            return iter(sorted(k for k in self._objects if k.startswith(prefix)))
