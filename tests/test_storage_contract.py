"""One contract for every storage backend. A new backend joins by adding a fixture param."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from storage import LocalStorage, MemoryStorage, S3Storage, Storage, StorageKeyNotFound, open_storage
from tests.s3_server import s3_server  # noqa: F401  (moto's S3 server on 127.0.0.1)


@pytest.fixture(params=["local", "memory", "s3"])
def storage(request, tmp_path: Path, monkeypatch) -> Storage:
    if request.param == "local":
        return open_storage((tmp_path / "store").as_uri())
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        # a fresh bucket per test, and a prefix, so keys() must strip it
        return open_storage(f"s3://{server.new_bucket()}/warcs/site-a", s3_endpoint_url=server.endpoint)
    return open_storage("memory://")


def make_file(folder: Path, data: bytes, name: str = "source.bin") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


DATA = bytes(range(256)) * 41 + b"tail"


def test_backend_is_a_storage_with_a_name(storage):
    assert isinstance(storage, Storage)
    assert storage.name in ("local", "memory", "s3")


def test_put_returns_key_size_sha256_and_keeps_the_source(storage, tmp_path):
    source = make_file(tmp_path / "in", DATA)
    stored = storage.put("warcs/a.warc.gz", source)
    assert stored.key == "warcs/a.warc.gz"
    assert stored.size == len(DATA)
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert source.read_bytes() == DATA
    assert storage.exists("warcs/a.warc.gz") and storage.size("warcs/a.warc.gz") == len(DATA)


def test_put_with_move_may_take_the_source(storage, tmp_path):
    source = make_file(tmp_path / "in", DATA)
    stored = storage.put("moved.bin", source, move=True)
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert not source.exists()
    with storage.open("moved.bin") as handle:
        assert handle.read() == DATA


def test_put_replaces_an_existing_object(storage, tmp_path):
    storage.put("k", make_file(tmp_path / "1", b"first"))
    storage.put("k", make_file(tmp_path / "2", b"second, longer"))
    with storage.open("k") as handle:
        assert handle.read() == b"second, longer"
    assert list(storage.keys()) == ["k"]


def test_empty_object(storage, tmp_path):
    stored = storage.put("empty", make_file(tmp_path, b""))
    assert stored.size == 0 and stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert storage.size("empty") == 0
    assert storage.read_range("empty", 0, 10) == b""


def test_open_is_seekable(storage, tmp_path):
    storage.put("k", make_file(tmp_path, DATA))
    with storage.open("k") as handle:
        handle.seek(1000)
        assert handle.read(16) == DATA[1000:1016]
        handle.seek(0)
        assert handle.read() == DATA


@pytest.mark.parametrize("offset,length", [(0, 1), (0, len(DATA)), (255, 300), (len(DATA) - 4, 4),
                                           (len(DATA) - 4, 100), (len(DATA), 10), (len(DATA) + 5, 1),
                                           (17, 0)])
def test_read_range(storage, tmp_path, offset, length):
    storage.put("k", make_file(tmp_path, DATA))
    assert storage.read_range("k", offset, length) == DATA[offset:offset + length]


def test_read_range_refuses_negative_numbers(storage, tmp_path):
    storage.put("k", make_file(tmp_path, DATA))
    with pytest.raises(ValueError):
        storage.read_range("k", -1, 10)
    with pytest.raises(ValueError):
        storage.read_range("k", 0, -10)


def test_missing_keys_raise_storage_key_not_found(storage):
    for call in (lambda: storage.open("nope"), lambda: storage.read_range("nope", 0, 1),
                 lambda: storage.size("nope"), lambda: storage.delete("nope")):
        with pytest.raises(StorageKeyNotFound) as caught:
            call()
        assert isinstance(caught.value, KeyError)
        assert "'nope'" in str(caught.value) and storage.name in str(caught.value)
    assert storage.exists("nope") is False


def test_delete(storage, tmp_path):
    storage.put("a/b", make_file(tmp_path, b"x"))
    storage.delete("a/b")
    assert not storage.exists("a/b")
    assert list(storage.keys()) == []
    with pytest.raises(StorageKeyNotFound):
        storage.delete("a/b")


def test_keys_lists_sorted_by_string_prefix(storage, tmp_path):
    source = make_file(tmp_path, b"x")
    for key in ["b.warc.gz", "a/2.warc.gz", "a/1.warc.gz", "ab.warc.gz", "a/deep/er/3"]:
        storage.put(key, source)
    assert list(storage.keys()) == ["a/1.warc.gz", "a/2.warc.gz", "a/deep/er/3", "ab.warc.gz",
                                    "b.warc.gz"]
    assert list(storage.keys("a/")) == ["a/1.warc.gz", "a/2.warc.gz", "a/deep/er/3"]
    assert list(storage.keys("a")) == ["a/1.warc.gz", "a/2.warc.gz", "a/deep/er/3", "ab.warc.gz"]
    assert list(storage.keys("zzz")) == []


BAD_KEYS = ["", "/etc/passwd", "../up", "a/../../b", "a/..", "..", "a\\b", "C:\\x", "a\x00b",
            "a//b", "a/", "./a", "a/./b"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_with_value_error(storage, tmp_path, key):
    source = make_file(tmp_path, b"x")
    calls = [lambda: storage.put(key, source), lambda: storage.open(key),
             lambda: storage.read_range(key, 0, 1), lambda: storage.exists(key),
             lambda: storage.size(key), lambda: storage.delete(key)]
    for call in calls:
        with pytest.raises(ValueError) as caught:
            call()
        assert "storage key" in str(caught.value)
    assert list(storage.keys()) == []


def test_put_of_a_missing_source_fails_and_stores_nothing(storage, tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.put("k", tmp_path / "does-not-exist")
    assert not storage.exists("k")


def test_concurrent_puts_leave_whole_objects(storage, tmp_path):
    sources = [make_file(tmp_path / str(i), bytes([i]) * 200_000) for i in range(6)]
    threads = [threading.Thread(target=storage.put, args=("same", s)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with storage.open("same") as handle:
        data = handle.read()
    assert len(data) == 200_000 and len(set(data)) == 1
    assert list(storage.keys()) == ["same"]


# --- what only the local backend promises: atomic files under its root -----------------

def test_local_storage_writes_under_its_root_and_leaves_no_temp_files(tmp_path):
    store = LocalStorage(tmp_path / "root")
    store.put("x/y.bin", make_file(tmp_path / "in", DATA))
    assert (tmp_path / "root" / "x" / "y.bin").read_bytes() == DATA
    assert sorted(os.listdir(tmp_path / "root" / "x")) == ["y.bin"]


def test_local_storage_ignores_a_half_written_temp_file(tmp_path):
    store = LocalStorage(tmp_path / "root")
    (tmp_path / "root" / ".k.abc123.part").write_bytes(b"half")
    assert list(store.keys()) == [] and not store.exists("k")


def test_open_storage_schemes(tmp_path):
    assert isinstance(open_storage(tmp_path.as_uri()), LocalStorage)
    assert open_storage((tmp_path / "s").as_uri()).root == (tmp_path / "s").resolve()
    assert isinstance(open_storage("memory://"), MemoryStorage)
    s3 = open_storage("s3://bucket/some/prefix/", s3_endpoint_url="http://127.0.0.1:9")
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix/")
    assert s3.endpoint_url == "http://127.0.0.1:9" and s3.url == "s3://bucket/some/prefix/"
    assert open_storage("s3://bucket").prefix == ""
    for url in ["relative/path", "file://otherhost/x", "file:relative", "ftp://host/x"]:
        with pytest.raises(ValueError) as caught:
            open_storage(url)
        assert "file:///" in str(caught.value)
    for url in ["s3:///no-bucket", "s3://key:secret@bucket/p", "s3://bucket/a/../b", "s3://b/p?x=1"]:
        with pytest.raises(ValueError) as caught:
            open_storage(url)
        assert "s3://BUCKET/PREFIX" in str(caught.value) or "storage key" in str(caught.value)


# --- what only the S3 backend promises: objects under its prefix, verified on put ---------

def test_s3_storage_keeps_objects_under_its_prefix_and_reads_by_range(s3_server, tmp_path):  # noqa: F811
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    store = S3Storage(bucket, "archive/warcs", client=client)
    other = S3Storage(bucket, "archive/warcs-other", client=client)
    store.put("x.warc.gz", make_file(tmp_path, DATA))
    other.put("y.warc.gz", make_file(tmp_path, b"other"))
    assert s3_server.object_keys(bucket) == ["archive/warcs-other/y.warc.gz", "archive/warcs/x.warc.gz"]
    assert list(store.keys()) == ["x.warc.gz"] and list(other.keys()) == ["y.warc.gz"]
    # what a Range GET returns is exactly the slice; the object itself is untouched
    answer = client.get_object(Bucket=bucket, Key="archive/warcs/x.warc.gz", Range="bytes=10-19")
    assert answer["ContentRange"] == f"bytes 10-19/{len(DATA)}"
    assert answer["Body"].read() == store.read_range("x.warc.gz", 10, 10) == DATA[10:20]


def test_s3_multipart_upload_is_verified_by_reading_it_back(s3_server, tmp_path):  # noqa: F811
    bucket = s3_server.new_bucket()
    store = S3Storage(bucket, "p", client=s3_server.client(), multipart_bytes=5 * 1024 * 1024)
    data = os.urandom(12 * 1024 * 1024 + 7)        # three parts
    stored = store.put("big.warc.gz", make_file(tmp_path, data), move=True)
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.read_range("big.warc.gz", 5 * 1024 * 1024 - 3, 6) == data[5 * 1024 * 1024 - 3:5 * 1024 * 1024 + 3]


def test_s3_put_reports_what_the_store_holds_not_what_was_sent(s3_server, tmp_path):  # noqa: F811
    """The digest `put` returns is read back from the store: if the object there differs
    (here: replaced behind our back between upload and read-back), the digest says so,
    and store_file refuses to delete the local copy."""
    from archiver.warc.writer import SealError, store_file
    bucket = s3_server.new_bucket()
    client = s3_server.client()

    class Tampered(S3Storage):
        def _read_back(self, key, etag):
            # the store ends up holding other bytes under the ETag our upload got
            answer = client.put_object(Bucket=bucket, Key=self._object(key), Body=b"not what was sent")
            return super()._read_back(key, answer["ETag"])

    source = make_file(tmp_path / "open", DATA, name="f.warc.gz")
    with pytest.raises(SealError) as caught:
        store_file(Tampered(bucket, "", client=client), source, 1, None)
    assert "the file is kept" in str(caught.value)
    assert source.read_bytes() == DATA            # the local copy stays for a retry
