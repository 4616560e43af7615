"""Objects in an S3-compatible bucket, under a key prefix; reads are HTTP Range GETs.

    s3://BUCKET/PREFIX    key "a.warc.gz" is object "PREFIX/a.warc.gz" in BUCKET

Written for and against the S3 API as AWS S3, MinIO and Ceph RGW speak it (path-style
addressing, so an endpoint on a bare host name or IP address works); tested against moto's
standalone server on 127.0.0.1. Endpoint and credentials come from boto3's usual sources
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, ~/.aws, instance roles),
the endpoint from `endpoint_url` (ARCHIVER_S3_ENDPOINT_URL) when it is not AWS itself.

A put is one upload (multipart from `multipart_bytes` on), so the object is whole or absent.
It is then verified by reading the object back (GET If-Match the upload's ETag) and hashing
it: a mismatch with the source file raises StorageIntegrityError and the source is kept;
`put` returns the size and sha256 of what the store holds, and archiver/warc/writer.py
`store_file` compares them with the local file again before it deletes anything.
"""
from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from storage.base import (
    CHUNK, StorageIntegrityError, StorageKeyNotFound, StoredObject, check_key, check_range, sha256_file,
)

MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, client=None, multipart_bytes: int = 64 * 1024 * 1024):
        if not bucket:
            raise ValueError("S3 storage needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.multipart_bytes = multipart_bytes
        self._client = client
        self._region = region
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3Storage('s3://{self.bucket}/{self.prefix}'{where})"

    @property
    def url(self) -> str:
        """This store as an `s3://BUCKET/PREFIX/` URL (what pywb's S3 loader reads)."""
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def client(self):
        """One boto3 client per storage object (boto3 clients are thread-safe); made lazily,
        so a storage built before a worker forks makes its own client in each child."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config
                config = Config(s3={"addressing_style": "path"},
                                retries={"max_attempts": 5, "mode": "standard"},
                                max_pool_connections=32)
                self._client = boto3.client("s3", endpoint_url=self.endpoint_url,
                                            region_name=self._region, config=config)
            return self._client

    def _object(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _missing(self, exc: Exception) -> bool:
        from botocore.exceptions import ClientError
        if not isinstance(exc, ClientError):
            return False
        error = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return str(error.get("Code")) in MISSING_CODES or status == "404"

    def _head(self, key: str) -> dict:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except Exception as exc:
            if self._missing(exc):
                raise StorageKeyNotFound(key, self.name) from None
            raise

    # -- the Storage interface ---------------------------------------------------------
    def put(self, key: str, source_path: Path, *, move: bool = False) -> StoredObject:
        name = self._object(key)
        source_path = Path(source_path)
        if not source_path.is_file():
            raise FileNotFoundError(f"cannot store {key!r}: {source_path} is not a file")
        size, sha256 = sha256_file(source_path)
        if size < self.multipart_bytes:
            with open(source_path, "rb") as body:
                etag = self.client.put_object(Bucket=self.bucket, Key=name, Body=body)["ETag"]
        else:
            etag = self._multipart(name, source_path)
        stored = self._read_back(key, etag)
        if stored is None:
            # replaced by a later put of the same key before we read ours back: that put
            # reads back its own; the store holds a whole object either way
            stored = StoredObject(key=key, size=size, sha256=sha256)
        elif (stored.size, stored.sha256) != (size, sha256):
            raise StorageIntegrityError(
                f"s3://{self.bucket}/{name} holds {stored.size} bytes sha256 {stored.sha256} after "
                f"the upload, but {source_path} has {size} bytes sha256 {sha256}; the file is kept")
        if move:
            source_path.unlink()
        return stored

    def _multipart(self, name: str, source_path: Path) -> str:
        """One multipart upload; the object appears only when it completes, else is aborted."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            parts = []
            with open(source_path, "rb") as handle:
                while chunk := handle.read(self.multipart_bytes):
                    number = len(parts) + 1
                    answer = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id,
                                                     PartNumber=number, Body=chunk)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            return self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id,
                MultipartUpload={"Parts": parts})["ETag"]
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise

    def _read_back(self, key: str, etag: str) -> StoredObject | None:
        """Size and sha256 of the object our upload made (If-Match its ETag), read from the
        store; None if it has been replaced since."""
        from botocore.exceptions import ClientError
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._object(key), IfMatch=etag)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return None
            raise
        digest, size = hashlib.sha256(), 0
        with answer["Body"] as body:
            while chunk := body.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        size = int(self._head(key)["ContentLength"])
        return io.BufferedReader(_RangeFile(self, key, size), buffer_size=CHUNK)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        name = self._object(key)
        if length == 0:
            self._head(key)
            return b""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name,
                                            Range=f"bytes={offset}-{offset + length - 1}")
        except Exception as exc:
            if self._missing(exc):
                raise StorageKeyNotFound(key, self.name) from None
            from botocore.exceptions import ClientError
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""                    # the range starts at or past the end
            raise
        with answer["Body"] as body:
            data = body.read()
        return data[:length]

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except StorageKeyNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def delete(self, key: str) -> None:
        self._head(key)                       # S3 deletes a missing key silently; we do not
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix)
        found = [item["Key"][len(self.prefix):] for page in pages for item in page.get("Contents", [])]
        return iter(sorted(found))


class _RangeFile(io.RawIOBase):
    """A seekable read-only view of one object: every read is one Range GET."""

    def __init__(self, store: S3Storage, key: str, size: int):
        self._store, self._key, self._size, self._pos = store, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._store.read_range(self._key, self._pos, want)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)
