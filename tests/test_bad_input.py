"""Bad input: malformed submissions each get a 4xx JSON error that says what is wrong,
never a 5xx, and nothing is written (no catalogue row, no queued message)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from archiver.db import make_engine, make_session_factory, migrate
from archiver.models import Capture, Watch
from archiver.web import create_app
from tests.conftest import form_token, make_settings

GOOD = "https://example.org/"

# (what, body as sent, content type). A body given as str/bytes is sent verbatim.
CAPTURE_BODIES = [
    ("empty body", b"", "application/json"),
    ("invalid JSON", b"{", "application/json"),
    ("trailing garbage", b'{"url": "https://example.org/"} x', "application/json"),
    ("JSON array", [], None),
    ("JSON string", "https://example.org/", None),
    ("JSON number", 5, None),
    ("JSON null", None, None),
    ("JSON true", True, None),
    ("empty object", {}, None),
    ("both url and urls", {"url": GOOD, "urls": [GOOD]}, None),
    ("url is a number", {"url": 5}, None),
    ("url is null", {"url": None}, None),
    ("url is a list", {"url": [GOOD]}, None),
    ("url is an object", {"url": {"href": GOOD}}, None),
    ("url is a boolean", {"url": True}, None),
    ("urls is a string", {"urls": GOOD}, None),
    ("urls holds a number", {"urls": [5]}, None),
    ("urls is empty", {"urls": []}, None),
    ("urls holds null", {"urls": [None]}, None),
    ("urls: one good, one bad", {"urls": [GOOD, "ftp://example.org/"]}, None),
    ("urls: too many", {"urls": [f"https://example.org/{i}" for i in range(5000)]}, None),
    ("url empty", {"url": ""}, None),
    ("url blank", {"url": "   "}, None),
    ("url without scheme", {"url": "example.org"}, None),
    ("url of words", {"url": "not a url"}, None),
    ("url without host", {"url": "http://"}, None),
    ("url with empty host", {"url": "http:///path"}, None),
    ("ftp url", {"url": "ftp://example.org/"}, None),
    ("javascript url", {"url": "javascript:alert(1)"}, None),
    ("data url", {"url": "data:text/html,hi"}, None),
    ("file url", {"url": "file:///etc/passwd"}, None),
    ("space in host", {"url": "http://exa mple.org/"}, None),
    ("NUL character", {"url": "http://example.org/\x00"}, None),
    ("newline", {"url": "http://example.org/\nHost: evil"}, None),
    ("line separator", {"url": "http://example.org/a\u2028b"}, None),
    ("escape character", {"url": "http://example.org/\x1b[31m"}, None),
    ("userinfo", {"url": "http://user:pw@example.org/"}, None),
    ("port too large", {"url": "http://example.org:99999/"}, None),
    ("port not a number", {"url": "http://example.org:http/"}, None),
    ("url too long", {"url": "http://example.org/" + "a" * 3000}, None),
    ("bad character in host", {"url": "http://bad!label.example/"}, None),
    ("empty label", {"url": "http://a..example/"}, None),
    ("invalid punycode", {"url": "http://xn--/"}, None),
    ("backslash", {"url": "http://exa\\mple.org/"}, None),
    ("broken IPv6 literal", {"url": "http://[::1/"}, None),
    ("zone id", {"url": "http://[fe80::1%25eth0]/"}, None),
    ("unknown field", {"url": GOOD, "priority": "high"}, None),
    ("note is a number", {"url": GOOD, "note": 5}, None),
    ("note is a list", {"url": GOOD, "note": ["a"]}, None),
    ("note too long", {"url": GOOD, "note": "n" * 10_001}, None),
    ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("invalid UTF-8", b'{"url": "https://example.org/\xff\xfe"}', "application/json"),
    ("body over the size limit", {"url": GOOD, "note": "x" * (2 * 1024 * 1024)}, None),
    ("form-encoded to the JSON API", b"url=https%3A%2F%2Fexample.org%2F",
     "application/x-www-form-urlencoded"),
    ("plain text", b"https://example.org/", "text/plain"),
]

WATCH_BODIES = [
    ("no cron", {"url": GOOD}, None),
    ("no url", {"cron": "0 * * * *"}, None),
    ("cron of words", {"url": GOOD, "cron": "every hour"}, None),
    ("cron minute out of range", {"url": GOOD, "cron": "61 * * * *"}, None),
    ("cron with too few fields", {"url": GOOD, "cron": "* * *"}, None),
    ("cron is a number", {"url": GOOD, "cron": 5}, None),
    ("unknown time zone", {"url": GOOD, "cron": "0 * * * *", "timezone": "Mars/Olympus"}, None),
    ("time zone is a number", {"url": GOOD, "cron": "0 * * * *", "timezone": 1}, None),
    ("watch of a file url", {"url": "file:///etc/passwd", "cron": "0 * * * *"}, None),
    ("enabled is a string", {"url": GOOD, "cron": "0 * * * *", "enabled": "yes"}, None),
    ("unknown watch field", {"url": GOOD, "cron": "0 * * * *", "color": "red"}, None),
    ("watch body is a list", [GOOD], None),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """One catalogue for the module: every case must leave it empty anyway."""
    data_dir = tmp_path_factory.mktemp("bad-input")
    return make_settings(data_dir)


@pytest.fixture(scope="module")
def app(settings):
    migrate(settings.database_url)
    return create_app(settings)


def post(client, path: str, body, content_type: str | None):
    if isinstance(body, (bytes, str)) and content_type:
        data = body if isinstance(body, bytes) else body.encode()
        return client.post(path, data=data, content_type=content_type)
    return client.post(path, data=json.dumps(body), content_type="application/json")


def assert_clear_refusal(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    assert response.is_json, response.data[:300]
    error = response.get_json()["error"]
    assert error["status"] == response.status_code
    assert isinstance(error["detail"], str) and len(error["detail"]) > 15, error


def assert_nothing_written(settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Capture)) == 0
            assert session.scalar(select(func.count()).select_from(Watch)) == 0
    finally:
        engine.dispose()
    queue = settings.broker_dir / "queue"
    assert not list(queue.glob("*.msg")) if queue.exists() else True


def test_there_are_at_least_45_cases():
    assert len(CAPTURE_BODIES) + len(WATCH_BODIES) >= 45
    assert len({what for what, *_ in CAPTURE_BODIES + WATCH_BODIES}) == len(CAPTURE_BODIES) + len(WATCH_BODIES)


@pytest.mark.parametrize("what,body,content_type", CAPTURE_BODIES, ids=[c[0] for c in CAPTURE_BODIES])
def test_malformed_capture_submission(what, body, content_type, app, settings):
    response = post(app.test_client(), "/api/v1/captures", body, content_type)
    assert_clear_refusal(response)
    assert_nothing_written(settings)


@pytest.mark.parametrize("what,body,content_type", WATCH_BODIES, ids=[c[0] for c in WATCH_BODIES])
def test_malformed_watch(what, body, content_type, app, settings):
    response = post(app.test_client(), "/api/v1/watches", body, content_type)
    assert_clear_refusal(response)
    assert_nothing_written(settings)


@pytest.mark.parametrize("method,path", [
    ("put", "/api/v1/captures"), ("delete", "/api/v1/captures"), ("patch", "/api/v1/captures/1"),
    ("post", "/api/v1/captures/1"), ("post", "/api/v1/search"), ("put", "/api/v1/openapi.json"),
])
def test_wrong_method_is_405_with_allow(method, path, app):
    response = getattr(app.test_client(), method)(path, json={"url": GOOD})
    assert response.status_code == 405 and response.headers.get("Allow")
    assert response.is_json and "method" in response.get_json()["error"]["detail"].lower()


@pytest.mark.parametrize("path", ["/api/v1/captures/abc", "/api/v1/captures/0",
                                  "/api/v1/captures/99999999999999999999999", "/api/v1/captures/-1",
                                  "/api/v1/watches/abc", "/api/v1/nothing-here"])
def test_bad_ids_and_paths_are_404_json(path, app):
    response = app.test_client().get(path)
    assert response.status_code == 404 and response.is_json


def test_the_form_refuses_bad_urls_with_a_page_and_stores_nothing(app, settings):
    client = app.test_client()
    response = client.post("/captures", data={"urls": "https://example.org/\nftp://x/",
                                              "csrf_token": form_token(client)})
    assert response.status_code == 400 and b"ftp" in response.data
    assert_nothing_written(settings)
