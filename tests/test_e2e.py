"""End to end with real parts: gunicorn serving the app, a `celery worker` process on the real
Redis, captures from the fixture site on 127.0.0.1, then the WARC and the catalogue checked.

The tests in this module share one running service and run in file order (xdist --dist loadfile).
"""
from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import REPO, form_token
from tests.live_service import BIN, free_port, live_service


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_url, fixture_site):
    with live_service(tmp_path_factory.mktemp("e2e") / "data", redis_url, fixture_site) as svc:
        yield svc


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_capture_through_the_api(service, fixture_site):
    url = fixture_site.url("/article")
    response = service.submit(url=url, note="end to end")
    assert response.status_code == 202, response.text
    [capture_id] = response.json()["ids"]
    assert response.headers["Location"].endswith(f"/api/v1/captures/{capture_id}")

    body = service.wait(capture_id)
    assert body["state"] == "stored", body
    prov = body["provenance"]
    expected_body = requests.get(url, timeout=10, headers={"Accept-Encoding": "identity"}).content

    assert prov["submission"] == {"source": "api", "submitted_by": None,
                                  "remote_addr": "127.0.0.1", "note": "end to end"}
    assert prov["requested_url"] == url and prov["final_url"] == url
    assert prov["redirect_chain"][0]["status"] == 200
    t = prov["timings"]
    assert (parse_time(t["queued_at"]) <= parse_time(t["started_at"]) <= parse_time(t["fetched_at"])
            <= parse_time(t["stored_at"]))
    assert prov["server"]["ip"] == "127.0.0.1" and prov["server"]["port"] == fixture_site.port
    assert prov["server"]["tls"] is None   # plain http fixture; TLS fields are tested in test_fetch
    assert prov["response"]["status"] == 200
    assert any(k.lower() == "content-type" for k, _ in prov["response"]["headers"])
    assert prov["response"]["content_type"].startswith("text/html")
    assert prov["response"]["payload_size"] == len(expected_body)
    assert prov["response"]["payload_sha256"] == hashlib.sha256(expected_body).hexdigest()
    assert prov["software"]["name"] == "archiver" and prov["software"]["warcio"]
    assert prov["software"]["python"] and prov["software"]["requests"]
    assert prov["worker"]["host"] and prov["worker"]["task_id"] and prov["worker"]["attempts"] == 1
    assert prov["storage"]["warc_file"]["filename"].endswith(".warc.gz")
    types = [r["type"] for r in prov["storage"]["records"]]
    assert [r["type"] for r in prov["storage"]["records"] if not r["requisite"]] == [
        "response", "request", "metadata", "conversion", "metadata"]
    # the article's stylesheet and image, archived with it (tests/test_requisites.py)
    assert [r["target_uri"] for r in prov["storage"]["records"]
            if r["requisite"] and r["type"] == "response"] == [
        fixture_site.url("/static/site.css"), fixture_site.url("/image.png")]

    text = requests.get(service.base + body["links"]["text"], timeout=10)
    assert text.headers["Content-Disposition"].startswith("attachment")
    assert "Fixture headline" in text.text
    assert hashlib.sha256(text.text.rstrip("\n").encode()).hexdigest() == prov["text"]["sha256"]

    warc = requests.get(service.base + body["links"]["warc"], timeout=10)
    records, payloads = [], []
    for record in ArchiveIterator(io.BytesIO(warc.content), check_digests="raise"):
        records.append(record)
        payloads.append(record.raw_stream.read())
    assert [r.rec_type for r in records] == types
    response_record = records[0]
    assert response_record.rec_headers["WARC-Payload-Digest"].startswith("sha256:")
    assert response_record.rec_headers["WARC-IP-Address"] == "127.0.0.1"
    assert payloads[0] == expected_body


def test_refused_submissions_are_400_and_store_nothing(service):
    before = requests.get(service.base + "/api/v1/captures", timeout=10).json()["captures"]
    for payload, needle in [
        ({"url": "ftp://example.org/"}, "http"),
        ({"url": "http://user:pw@example.org/"}, "user name or password"),
        ({"url": "http:///nohost"}, "host"),
        ({"url": "https://example.org/" + "a" * 2100}, "2048"),
        ({"urls": ["https://example.org/", "javascript:alert(1)"]}, "URL number 2"),
        ({"url": 5}, "string"),
        ({"link": "https://example.org/"}, "unknown field"),
    ]:
        response = service.submit(**payload)
        assert response.status_code == 400, (payload, response.text)
        assert needle.lower() in response.json()["error"]["detail"].lower(), response.json()
    after = requests.get(service.base + "/api/v1/captures", timeout=10).json()["captures"]
    assert after == before


def test_idn_is_stored_as_punycode(service):
    # refused later by the address guard or DNS, but the stored URL is punycode
    response = service.submit(url="https://bücher.example/straße")
    assert response.status_code == 202
    [capture] = response.json()["captures"]
    assert capture["url"].startswith("https://xn--bcher-kva.example/")


def test_form_submission_shows_progress(service, fixture_site):
    urls = f"{fixture_site.url('/article')}\n{fixture_site.url('/404')}\n"
    browser = requests.Session()          # the form's CSRF token belongs to the session cookie
    browser.base = service.base
    token = form_token(browser)
    page = browser.post(service.base + "/captures", data={"urls": urls, "note": "form", "csrf_token": token},
                        timeout=10, allow_redirects=False)
    assert page.status_code == 303
    progress = requests.get(service.base + page.headers["Location"], timeout=10)
    assert progress.status_code == 200 and "data-poll" in progress.text
    query = parse_qs(urlsplit(page.headers["Location"]).query)
    ids = [int(x) for x in query["ids"][0].split(",")]
    results = [service.wait(i) for i in ids]
    assert [r["state"] for r in results] == ["stored", "stored"]
    assert [r["http_status"] for r in results] == [200, 404]
    assert all(r["provenance"]["submission"]["source"] == "form" for r in results)
    bad = browser.post(service.base + "/captures", data={"urls": "not a url", "csrf_token": token}, timeout=10)
    assert bad.status_code == 400 and "refused" in bad.text


def test_redirect_to_an_internal_address_is_refused(service, fixture_site):
    internal = f"http://127.0.0.1:{free_port()}/secret"
    response = service.submit(url=fixture_site.url("/redirect-to?url=" + requests.utils.quote(internal, safe="")))
    body = service.wait(response.json()["ids"][0])
    assert body["state"] == "failed"
    assert body["error"]["code"] == "refused_address", body["error"]
    assert "ARCHIVER_ALLOW_PRIVATE" in body["error"]["message"]


def test_cli_capture_shows_progress(service, fixture_site):
    result = subprocess.run([BIN / "archiver", "capture", fixture_site.url("/plain.txt")],
                            env=service.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queued" in result.stdout and "stored" in result.stdout
    assert "1 of 1 captures stored" in result.stdout


def test_a_worker_capture_replays_at_once_through_archiver_replay(service, fixture_site):
    """The worker indexes each capture as it stores it: `archiver replay` finds it while its
    WARC is still open, with no reindex."""
    from archiver.config import Settings
    from tests.replay_server import free_port as free_replay_port, replay_server

    url = fixture_site.url("/article") + "?replay-now"
    [capture_id] = service.submit(url=url).json()["ids"]
    assert service.wait(capture_id)["state"] == "stored"
    settings = Settings.from_env({**service.env, "ARCHIVER_REPLAY_PORT": str(free_replay_port())})
    with replay_server(settings) as base:
        gate = requests.get(f"{base}/web/{url}", timeout=30, allow_redirects=False)
        assert gate.status_code == 302, gate.text[:500]
        page = requests.get(gate.headers["Location"], timeout=30)
        assert page.status_code == 200 and "Fixture headline" in page.text


def test_a_workers_captures_share_its_connections(service, fixture_site):
    # 16 URLs go as 8 tasks of 2 (archiver/submissions.py batches); each pool process keeps
    # the connection its first page opened for the pages after it (archiver/fetch/connections.py)
    tag = f"batch-{id(service)}"
    urls = [fixture_site.url(f"/article?{tag}={n}") for n in range(16)]
    response = service.submit(urls=urls)
    assert response.status_code == 202, response.text
    bodies = [service.wait(capture_id) for capture_id in response.json()["ids"]]
    assert all(body["state"] == "stored" for body in bodies), [b["error"] for b in bodies]
    with fixture_site.lock:
        ports = {path: client for path, client in zip(fixture_site.requests, fixture_site.clients)
                 if f"?{tag}=" in path}
    connection = [body["provenance"]["redirect_chain"][0]["connection"] for body in bodies]
    # (a pool process may still hold a connection from an earlier test: then none is new)
    processes = service.settings.worker_concurrency
    assert len(ports) == 16 and len(set(ports.values())) <= processes
    assert connection.count("new") <= processes and connection.count("reused") >= 16 - processes


def test_worker_shutdown_seals_warcs_which_check_and_replay(service, fixture_site):
    from tests.pywb_replay import pywb_replay

    assert service.stop_worker() == 0, service.log("worker")
    open_dir = service.data_dir / "open"
    assert not list(open_dir.glob("*.open")), "an .open WARC survived a clean shutdown"
    warcs = sorted((service.data_dir / "warcs").glob("*.warc.gz"))
    assert warcs
    from sqlalchemy import create_engine, text
    engine = create_engine(f"sqlite:///{service.data_dir / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT filename, state, size, sha256 FROM warc_files")).all()
    engine.dispose()
    by_name = {r.filename: r for r in rows}
    for path in warcs:
        row = by_name[path.name]
        data = path.read_bytes()
        assert row.state == "sealed" and row.size == len(data)
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        check = subprocess.run([BIN / "warcio", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        index = subprocess.run([BIN / "cdxj-indexer", str(path)], capture_output=True, text=True)
        assert index.returncode == 0 and "127.0.0.1" in index.stdout.replace(",", ".")

    url = fixture_site.url("/article")
    expected = requests.get(url, timeout=10, headers={"Accept-Encoding": "identity"}).content
    with pywb_replay(warcs) as replay:
        raw = requests.get(replay.raw_url(url), timeout=30)
        assert raw.status_code == 200 and raw.content == expected
        page = requests.get(replay.page_url(url), timeout=30)
        assert page.status_code == 200 and "Fixture headline" in page.text
