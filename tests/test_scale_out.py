"""Scale-out for real (docs/deploy.md): two worker processes with separate data folders,
one Redis, the real PostgreSQL (a throwaway database) and an S3-compatible object store
(moto's server on 127.0.0.1), behind the web app under gunicorn.

Captures go through both workers; each seals its WARC files into the bucket, verified by
hash; downloads read byte ranges from the bucket through the app, and a replay server on a
third data folder, indexed from the catalogue (`archiver reindex`), reads them by range
from the bucket with pywb's S3 loader.
"""
from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.db import normalise_url
from archiver.models import WarcFile
from archiver.replay import capture_timestamp, replay_url
from tests.conftest import REPO
from tests.live_service import BIN, live_service
from tests.replay_server import free_port, replay_server
from tests.s3_server import s3_server  # noqa: F401  (moto's S3 server on 127.0.0.1)

PAGES = 16


def page(n: int) -> str:
    words = " ".join(f"word{n}x{i}" for i in range(400))
    return (f"<!doctype html><html><head><title>Scale page {n}</title></head><body><article>"
            f"<h1>Scale page {n}</h1><p>{words}</p><p>Page number {n} of the scale-out test, "
            "long enough to be an article.</p></article></body></html>")


def wait_ready(log_path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        if log_path.exists() and " ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"worker not ready in {timeout} s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_url, postgres_url, fixture_site, s3_server):  # noqa: F811
    engine = create_engine(normalise_url(postgres_url))
    with engine.begin() as conn:            # a clean catalogue in the session's throwaway database
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    bucket = s3_server.new_bucket()
    root = tmp_path_factory.mktemp("scale")
    shared = {"DATABASE_URL": postgres_url, "ARCHIVER_STORAGE_URL": f"s3://{bucket}/archive/warcs",
              "ARCHIVER_S3_ENDPOINT_URL": s3_server.endpoint, "ARCHIVER_MAX_REQUISITES": "0",
              **s3_server.env}
    for n in range(PAGES):
        fixture_site.set_page(f"/scale/{n}", page(n))
    with live_service(root / "machine-1", redis_url, fixture_site, extra_env=shared) as svc:
        # a second worker "machine": its own data folder, the same Redis, catalogue and bucket
        env2 = dict(svc.env, ARCHIVER_DATA_DIR=str(root / "machine-2"))
        log2 = root / "worker-2.log"
        with open(log2, "wb") as log:
            worker2 = subprocess.Popen([BIN / "archiver", "worker", "--concurrency", "1"], env=env2,
                                       cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(svc.logs / "worker.log", svc.worker)
            wait_ready(log2, worker2)
            engine = create_engine(normalise_url(postgres_url))
            yield SimpleNamespace(svc=svc, worker2=worker2, bucket=bucket, root=root, env2=env2,
                                  engine=engine, log2=log2)
            engine.dispose()
        finally:
            if worker2.poll() is None:
                worker2.send_signal(signal.SIGTERM)
                worker2.wait(timeout=60)


def open_names(folder) -> set[str]:
    return {p.name.removesuffix(".open") for p in (folder / "open").glob("*.warc.gz.open")}


def test_two_workers_capture_seal_into_the_bucket_and_serve_ranges(cluster, fixture_site, s3_server):  # noqa: F811
    svc = cluster.svc
    urls = [fixture_site.url(f"/scale/{n}") for n in range(PAGES)]
    response = svc.submit(urls=urls)
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    bodies = {cid: svc.wait(cid, timeout=120) for cid in ids}
    assert all(b["state"] == "stored" for b in bodies.values()), bodies

    # both machines captured: each capture's WARC file is open in one of the two data folders
    files = {cid: b["provenance"]["storage"]["warc_file"]["filename"] for cid, b in bodies.items()}
    first, second = open_names(cluster.root / "machine-1"), open_names(cluster.root / "machine-2")
    assert first and second and not first & second
    assert set(files.values()) <= first | second
    by_machine = [[cid for cid, name in files.items() if name in names] for names in (first, second)]
    assert by_machine[0] and by_machine[1], by_machine

    # a warm shutdown seals every file into the bucket, verified, and removes the local copies
    assert svc.stop_worker() == 0
    cluster.worker2.send_signal(signal.SIGTERM)
    assert cluster.worker2.wait(timeout=60) == 0
    assert not open_names(cluster.root / "machine-1") and not open_names(cluster.root / "machine-2")
    assert not list((cluster.root / "machine-1" / "open").glob("*.warc.gz"))
    assert not list((cluster.root / "machine-2" / "open").glob("*.warc.gz"))
    with Session(cluster.engine) as session:
        rows = {r.filename: r for r in session.scalars(select(WarcFile).where(
            WarcFile.filename.in_(first | second)))}
    assert set(rows) == first | second
    keys = s3_server.object_keys(cluster.bucket)
    assert sorted(f"archive/warcs/{name}" for name in rows) == keys
    client = s3_server.client()
    for name, row in rows.items():
        assert row.state == "sealed" and row.storage_backend == "s3" and row.storage_key == name
        data = client.get_object(Bucket=cluster.bucket, Key=f"archive/warcs/{name}")["Body"].read()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (row.size, row.sha256)

    # a fixity audit re-reads every sealed file from the bucket against the catalogue
    audit = subprocess.run([BIN / "archiver", "audit"], env=cluster.env2, cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"{len(rows)} files, {len(rows)} ok" in audit.stdout, audit.stdout

    # downloads: the app reads the capture's records by range from the bucket
    for cid in (by_machine[0][0], by_machine[1][0]):
        body = bodies[cid]
        warc = requests.get(svc.base + body["links"]["warc"], timeout=30)
        assert warc.status_code == 200
        payloads = [r.content_stream().read()
                    for r in ArchiveIterator(io.BytesIO(warc.content), check_digests="raise")
                    if r.rec_type == "response"]
        n = int(body["provenance"]["requested_url"].rsplit("/", 1)[1])
        assert payloads == [page(n).encode()]

    # replay from a third folder (a replay machine): index rebuilt from the catalogue, pywb
    # reading the sealed WARCs from the bucket by range
    env3 = dict(cluster.env2, ARCHIVER_DATA_DIR=str(cluster.root / "replay-machine"),
                ARCHIVER_REPLAY_PORT=str(free_port()))
    done = subprocess.run([BIN / "archiver", "reindex"], env=env3, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    settings = Settings.from_env(env3)
    saved = {k: os.environ.get(k) for k in s3_server.env}
    os.environ.update(s3_server.env)        # pywb's boto3 takes its credentials from these
    try:
        with replay_server(settings) as base:
            assert base
            for cid in (by_machine[0][0], by_machine[1][0], by_machine[0][-1], by_machine[1][-1]):
                prov = bodies[cid]["provenance"]
                stamp = capture_timestamp(SimpleNamespace(redirect_chain=prov["redirect_chain"]))
                raw = requests.get(replay_url(settings, prov["final_url"], stamp, raw=True), timeout=30)
                assert raw.status_code == 200, raw.text[:500]
                n = int(prov["requested_url"].rsplit("/", 1)[1])
                assert raw.content == page(n).encode()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
