"""Research pages and API: search, a URL's history with change marks, diffs; on the test client."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from archiver.db import migrate, transaction
from archiver.models import Capture
from archiver.search import search_index_for
from archiver.sites import site_of
from archiver.web import create_app, services

URL = "https://news.example/story"
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
VERSIONS = [  # (days after T0, payload, text)
    (0, b"v1", "The council met.\n\nIt approved the plan."),
    (1, b"v1", "The council met.\n\nIt approved the plan."),                  # same bytes
    (2, b"v1-ad", "The council met.\n\nIt approved the plan."),               # same text
    (3, b"v2", "The council met.\n\nIt rejected the plan.\n\nProtests <b>followed</b>."),
]


@pytest.fixture
def client(settings):
    migrate(settings.database_url)
    app = create_app(settings)
    sessions = services(app).sessions
    with transaction(sessions) as session:
        index = search_index_for(session)
        for days, payload, body in VERSIONS:
            c = Capture(state="stored", source="schedule", requested_url=URL, final_url=URL,
                        site=site_of(URL), title="Council story", text=body, http_status=200,
                        content_type="text/html", queued_at=T0, attempts=1,
                        fetched_at=T0 + timedelta(days=days),
                        payload_sha256=hashlib.sha256(payload).hexdigest(),
                        text_sha256=hashlib.sha256(body.encode()).hexdigest())
            session.add(c)
            session.flush()
            index.index(session, c.id)
        session.add(Capture(state="failed", source="api", requested_url=URL, queued_at=T0,
                            attempts=1, error_code="dns", error="no such host"))
    return app.test_client()


def test_search_api_and_page(client):
    body = client.get("/api/v1/search?q=rejected").get_json()
    assert body["total"] == 1 and body["hits"][0]["id"] == 4
    assert "rejected" in body["hits"][0]["snippet"]
    assert client.get("/api/v1/search?q=council&sort=date").get_json()["hits"][0]["id"] == 4
    page = client.get("/search?q=protests")
    assert page.status_code == 200 and b"<mark>" in page.data
    assert b"&lt;b&gt;" in page.data or b"<b>followed" not in page.data   # archived text is escaped


@pytest.mark.parametrize("query,needle", [("since=yesterday", "since must be a date"),
                                          ("status=abc", "status must be a whole number"),
                                          ("sort=random", "sort must be one of"),
                                          ("per_page=5000", "per_page")])
def test_bad_search_parameters(client, query, needle):
    response = client.get(f"/api/v1/search?q=x&{query}")
    assert response.status_code == 400 and needle in response.get_json()["error"]["detail"]
    assert client.get(f"/search?q=x&{query}").status_code == 400


def test_history_marks_changes(client):
    body = client.get(f"/api/v1/history?url={URL}").get_json()
    changes = [(c["id"], c["change"]) for c in body["captures"]]
    assert changes == [(1, "first"), (2, "unchanged"), (3, "text unchanged"), (4, "changed"),
                       (5, None)]
    assert [d["count"] for d in body["days"]] == [1, 1, 1, 1]
    assert [d["changed"] for d in body["days"]] == [True, False, False, True]
    page = client.get(f"/history?url={URL}")
    assert page.status_code == 200 and b"<svg" in page.data and page.data.count(b"<rect") == 4
    assert client.get("/api/v1/history?url=ftp://x/").status_code == 400


def test_diff_json_and_views(client):
    body = client.get("/api/v1/captures/3/diff/4").get_json()
    assert body["changed"] and body["stats"] == {"equal": 2, "insert": 1, "delete": 0, "replace": 1}
    [replaced] = [b for b in body["blocks"] if b["op"] == "replace"]
    assert [(s["op"], s["text"]) for s in replaced["segments"] if s["op"] != "equal"] == [
        ("delete", "approved"), ("insert", "rejected")]
    assert client.get("/api/v1/captures/1/diff/2").get_json()["changed"] is False
    side = client.get("/captures/3/diff/4")
    inline = client.get("/captures/3/diff/4?view=inline")
    assert b"<del>approved</del>" in side.data and b"<ins>rejected</ins>" in inline.data
    assert b"&lt;b&gt;followed" in inline.data                   # archived markup never rendered
    assert client.get("/api/v1/captures/1/diff/5").status_code == 409
    assert client.get("/api/v1/captures/1/diff/99").status_code == 404
