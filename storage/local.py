"""Objects as files under one folder; every write is atomic and durable."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterator

from storage.base import CHUNK, StorageKeyNotFound, StoredObject, check_key, check_range, sha256_file

TEMP_SUFFIX = ".part"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


class LocalStorage:
    """Keys map to files below `root`: key "a/b.warc.gz" is `root/a/b.warc.gz`.

    `put` writes a temporary file in the target folder, fsyncs it, renames it into place
    and fsyncs the folder, so after a crash an object is either whole or absent.
    """

    name = "local"

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise StorageKeyNotFound(key, self.name)
        return path

    def put(self, key: str, source_path: Path, *, move: bool = False) -> StoredObject:
        target = self._path(key)
        source_path = Path(source_path)
        if not source_path.is_file():
            raise FileNotFoundError(f"cannot store {key!r}: {source_path} is not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        try:
            if move and _same_device(source_path, target.parent):
                # Same file system: a rename, no copy. The source must be durable first.
                with open(source_path, "rb") as handle:
                    os.fsync(handle.fileno())
                size, sha256 = sha256_file(source_path)
                os.replace(source_path, target)
                _fsync_dir(source_path.parent)
            else:
                size, sha256 = _copy_durably(source_path, temp)
                os.replace(temp, target)
                if move:
                    source_path.unlink()
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return StoredObject(key=key, size=size, sha256=sha256)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._existing(key), "rb")
        except FileNotFoundError:   # deleted between the check and the open
            raise StorageKeyNotFound(key, self.name) from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        with self.open(key) as handle:
            handle.seek(offset)
            return handle.read(length)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._existing(key).stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError):
            raise StorageKeyNotFound(key, self.name) from None
        _fsync_dir(path.parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        found = []
        for folder, dirs, files in os.walk(self.root):
            rel = Path(folder).relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            found.extend(base + name for name in files if not _is_temp(name))
        return iter(sorted(k for k in found if k.startswith(prefix)))


def _same_device(source: Path, folder: Path) -> bool:
    return source.stat().st_dev == folder.stat().st_dev


def _copy_durably(source: Path, temp: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(temp, "xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, digest.hexdigest()
