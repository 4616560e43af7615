"""Where sealed files live. One interface (`Storage`), backends chosen by URL scheme.

    file:///absolute/path   LocalStorage: a folder on this machine
    memory://               MemoryStorage: a dict, for tests
    s3://BUCKET/PREFIX      S3Storage: an S3-compatible object store (AWS S3, MinIO, Ceph RGW)
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from storage.base import Storage, StorageKeyNotFound, StoredObject, check_key
from storage.local import LocalStorage
from storage.memory import MemoryStorage
from storage.s3 import S3Storage

__all__ = ["Storage", "StorageKeyNotFound", "StoredObject", "LocalStorage", "MemoryStorage",
           "S3Storage", "open_storage", "check_key"]

SUPPORTED = "file:///ABSOLUTE/PATH, s3://BUCKET/PREFIX or memory://"


def open_storage(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """The backend for `url`; ValueError for a scheme or form we do not support.

    `s3_endpoint_url`: the S3 API's address when it is not AWS (MinIO, Ceph RGW, moto);
    without it boto3 uses AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS itself."""
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
    if parts.scheme == "s3":
        return S3Storage(*parse_s3_url(url), endpoint_url=s3_endpoint_url or None)
    raise ValueError(f"storage URL {url!r} is not supported; supported: {SUPPORTED}")


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://BUCKET/PREFIX`; ValueError saying what is wrong."""
    parts = urlsplit(url)
    bucket, prefix = parts.netloc, unquote(parts.path).strip("/")
    if not bucket or "@" in bucket or ":" in bucket:
        raise ValueError(f"storage URL {url!r} needs a bucket name and nothing else before the "
                         "path: s3://BUCKET/PREFIX (credentials come from AWS_* variables, the "
                         "endpoint from ARCHIVER_S3_ENDPOINT_URL)")
    if parts.query or parts.fragment:
        raise ValueError(f"storage URL {url!r} must not have a query or fragment: s3://BUCKET/PREFIX")
    if prefix:
        check_key(prefix)
    return bucket, prefix
