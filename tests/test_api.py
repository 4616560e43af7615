"""The JSON API and the form through Flask's test client, with the embedded filesystem broker."""
from __future__ import annotations

import base64
import json

import pytest

from archiver.capture import run_capture
from tests.conftest import form_token
from workers.context import build_context


def queued_messages(settings) -> list[dict]:
    folder = settings.broker_dir / "queue"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.msg"))]


def test_submission_is_queued_on_the_embedded_broker(client, settings, fixture_site):
    response = client.post("/api/v1/captures", json={"url": fixture_site.url("/article")})
    assert response.status_code == 202
    [capture_id] = response.get_json()["ids"]
    assert response.headers["Location"] == f"/api/v1/captures/{capture_id}"
    [message] = queued_messages(settings)
    assert message["headers"]["task"] == "archiver.capture"
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == [capture_id]    # the task carries the id and nothing else

    state = client.get(f"/api/v1/captures/{capture_id}").get_json()
    assert state["state"] == "queued" and state["links"]["self"].endswith(str(capture_id))

    # a worker (here: the same plain function the Celery task calls) finishes it
    ctx = build_context(settings)
    try:
        run_capture(ctx, capture_id)
    finally:
        ctx.writer.close()
    done = client.get(f"/api/v1/captures/{capture_id}").get_json()
    assert done["state"] == "stored" and done["http_status"] == 200
    assert {"self", "page", "provenance", "text", "warc"} <= set(done["links"])
    page = client.get(done["links"]["page"])
    assert page.status_code == 200 and b"Provenance" in page.data


def test_many_urls_at_once(client):
    response = client.post("/api/v1/captures", json={"urls": ["https://example.org/1",
                                                               "https://example.org/2"]})
    assert response.status_code == 202
    ids = response.get_json()["ids"]
    assert len(ids) == 2
    listing = client.get(response.headers["Location"]).get_json()
    assert [c["id"] for c in listing["captures"]] == ids


@pytest.mark.parametrize("kwargs,status,needle", [
    ({"data": "{not json", "content_type": "application/json"}, 400, "not a JSON object"),
    ({"data": "url=https://example.org/", "content_type": "application/x-www-form-urlencoded"},
     415, "application/json"),
    ({"json": ["https://example.org/"]}, 400, "not a JSON object"),
    ({"json": {}}, 400, "exactly one of"),
    ({"json": {"url": "https://a.example/", "urls": []}}, 400, "exactly one of"),
    ({"json": {"urls": "https://example.org/"}}, 400, "list of strings"),
    ({"json": {"urls": []}}, 400, "at least one"),
    ({"json": {"urls": ["https://example.org/"] * 101}}, 400, "at most 100"),
    ({"json": {"url": "https://example.org/", "note": 7}}, 400, "note must be a string"),
    ({"json": {"url": "https://example.org/", "priority": 1}}, 400, "unknown field"),
    ({"json": {"url": "gopher://example.org/"}}, 400, "http"),
    ({"data": json.dumps({"url": "https://example.org/", "note": "x" * 2_000_000}),
      "content_type": "application/json"}, 413, ""),
])
def test_refusals_are_json_errors_and_store_nothing(client, settings, kwargs, status, needle):
    response = client.post("/api/v1/captures", **kwargs)
    assert response.status_code == status, response.data
    body = response.get_json()
    assert body["error"]["status"] == status
    assert needle.lower() in body["error"]["detail"].lower()
    assert client.get("/api/v1/captures").get_json()["captures"] == []
    assert queued_messages(settings) == []


def test_unknown_capture_and_wrong_method(client):
    missing = client.get("/api/v1/captures/999")
    assert missing.status_code == 404 and "no capture with id 999" in missing.get_json()["error"]["detail"]
    wrong = client.delete("/api/v1/captures")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]


def test_form_refusal_says_why_and_keeps_the_input(client):
    response = client.post("/captures", data={"urls": "https://ok.example/\nfile:///etc/passwd",
                                              "csrf_token": form_token(client)})
    assert response.status_code == 400
    assert b"URL number 2 is refused" in response.data
    assert b"file:///etc/passwd" in response.data     # the textarea keeps what was typed


def test_pages_carry_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("headers,allowed", [
    ({}, True),                                                        # not a browser: curl, scripts
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, True),   # the app's own form
    ({"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:8001"}, False),  # the replay port
    ({"Sec-Fetch-Site": "cross-site", "Origin": "null"}, False),       # a sandboxed document
    ({"Origin": "http://localhost"}, True),                            # older browser, same origin
    ({"Origin": "http://localhost:8001"}, False),                      # older browser, another port
    ({"Origin": "null"}, False),
])
def test_browser_writes_from_another_origin_are_refused(client, settings, fixture_site, headers, allowed):
    form = client.post("/captures", data={"urls": fixture_site.url("/article"),
                                          "csrf_token": form_token(client)}, headers=headers)
    api = client.post("/api/v1/captures", json={"url": fixture_site.url("/article")}, headers=headers)
    if allowed:
        assert (form.status_code, api.status_code) == (303, 202)
        return
    assert form.status_code == api.status_code == 403
    assert "cross-origin" in api.get_json()["error"]["detail"]
    assert client.get("/api/v1/captures").get_json()["captures"] == []
    assert queued_messages(settings) == []
