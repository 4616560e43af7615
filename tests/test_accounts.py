"""Accounts and roles through the real app: the role table covers every endpoint, each role
gets what it may and nothing more, login with CSRF and lockout, tokens, cookie flags, rate
limits, and private / taken-down captures hidden everywhere while their WARC bytes stay."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.accounts import service
from archiver.accounts.passwords import hash_password, verify_password
from archiver.accounts.roles import ENDPOINTS
from archiver.capture import run_capture
from archiver.db import migrate, transaction
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture
from archiver.web import create_app
from tests.conftest import REPO, make_settings
from tests.live_service import BIN
from workers.context import build_context

PASSWORD = "correct horse battery staple"


def make_app(data_dir: Path, fixture_site, **env):
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=fixture_site.allow,
                             **{"ARCHIVER_ANONYMOUS_ROLE": "none", **env})
    migrate(settings.database_url)
    app = create_app(settings)
    with transaction(app.extensions["archiver"].sessions) as db:
        for role in ("admin", "archivist", "researcher"):
            service.add_user(db, f"{role}@example.org", role, PASSWORD)
    return app


@pytest.fixture
def app(data_dir, fixture_site):
    return make_app(data_dir, fixture_site)


def token_for(app, email: str) -> str:
    with transaction(app.extensions["archiver"].sessions) as db:
        _row, token = service.create_token(db, service.find_user(db, email), "test")
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def log_in(client, email: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login"))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def store_capture(app, fixture_site, headers: dict, path: str = "/article") -> int:
    client = app.test_client()
    made = client.post("/api/v1/captures", json={"url": fixture_site.url(path)}, headers=headers)
    assert made.status_code == 202, made.get_json()
    [capture_id] = made.get_json()["ids"]
    ctx = build_context(app.extensions["archiver"].settings)
    try:
        run_capture(ctx, capture_id)
    finally:
        ctx.writer.close()
    return capture_id


def test_every_endpoint_is_in_the_role_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ENDPOINTS) == set(), "add these endpoints to archiver/accounts/roles.py"
    assert set(ENDPOINTS) - endpoints == set(), "the role table names endpoints that do not exist"


def test_an_endpoint_missing_from_the_table_is_refused(app):
    """Deny by default: a route nobody put in the table answers 403, for every role."""
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "open")
    client = app.test_client()
    response = client.get("/api/v1/forgotten", headers=bearer(token_for(app, "admin@example.org")))
    assert response.status_code == 403 and "role table" in response.get_json()["error"]["detail"]


@pytest.mark.parametrize("method,path,body,expected", [
    # role -> status, for a representative set: reading, submitting, watches, admin, account
    ("GET", "/api/v1/captures", None, {"anon": 401, "researcher": 200, "archivist": 200, "admin": 200}),
    ("GET", "/api/v1/search?q=x", None, {"anon": 401, "researcher": 200, "archivist": 200, "admin": 200}),
    ("POST", "/api/v1/captures", {"url": "https://example.org/"},
     {"anon": 401, "researcher": 403, "archivist": 202, "admin": 202}),
    ("GET", "/api/v1/watches", None, {"anon": 401, "researcher": 403, "archivist": 200, "admin": 200}),
    ("GET", "/api/v1/users", None, {"anon": 401, "researcher": 403, "archivist": 403, "admin": 200}),
    ("GET", "/api/v1/tokens", None, {"anon": 401, "researcher": 200, "archivist": 200, "admin": 200}),
    ("GET", "/api/v1/openapi.json", None, {"anon": 200, "researcher": 200, "archivist": 200, "admin": 200}),
])
def test_api_answers_each_role_as_the_table_says(app, method, path, body, expected):
    client = app.test_client()
    for role, status in expected.items():
        headers = {} if role == "anon" else bearer(token_for(app, f"{role}@example.org"))
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == status, (role, response.get_data(as_text=True)[:300])
        if status in (401, 403):
            assert response.is_json and response.get_json()["error"]["status"] == status
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/", "/search", "/watches", "/account", "/history?url=https://example.org/"])
def test_pages_send_anonymous_visitors_to_the_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")


def test_pages_per_role(app):
    researcher, archivist = app.test_client(), app.test_client()
    assert log_in(researcher, "researcher@example.org").status_code == 303
    assert log_in(archivist, "archivist@example.org").status_code == 303
    assert researcher.get("/search").status_code == 200
    assert researcher.get("/watches").status_code == 403
    home = researcher.get("/").get_data(as_text=True)
    assert 'id="login-to-capture"' in home and 'name="urls"' not in home
    posted = researcher.post("/captures", data={"urls": "https://example.org/", "csrf_token": csrf_of(researcher.get("/"))})
    assert posted.status_code == 403
    assert archivist.get("/watches").status_code == 200
    assert 'name="urls"' in archivist.get("/").get_data(as_text=True)


def test_anonymous_role_setting(data_dir, fixture_site):
    researcher_app = make_app(data_dir / "r", fixture_site, ARCHIVER_ANONYMOUS_ROLE="researcher")
    client = researcher_app.test_client()
    assert client.get("/api/v1/captures").status_code == 200
    assert client.get("/").status_code == 200
    assert client.post("/api/v1/captures", json={"url": "https://example.org/"}).status_code == 401
    archivist_app = make_app(data_dir / "a", fixture_site, ARCHIVER_ANONYMOUS_ROLE="archivist")
    made = archivist_app.test_client().post("/api/v1/captures", json={"url": "https://example.org/"})
    assert made.status_code == 202
    with archivist_app.extensions["archiver"].sessions() as db:
        assert db.get(Capture, made.get_json()["ids"][0]).submitted_by is None


def test_tokens_are_stored_hashed_and_can_be_revoked(app):
    client = app.test_client()
    admin = bearer(token_for(app, "admin@example.org"))
    made = client.post("/api/v1/tokens", json={"name": "script"}, headers=admin)
    assert made.status_code == 201
    token = made.get_json()["token"]
    with app.extensions["archiver"].sessions() as db:
        rows = service.tokens(db)
        assert all(token not in (r.token_sha256, r.prefix) for r in rows)
        assert service.token_digest(token) in {r.token_sha256 for r in rows}
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["email"] == "admin@example.org"
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["tokens"]
    assert "token" not in listed[0] and len(listed) == 2
    assert client.delete(f"/api/v1/tokens/{made.get_json()['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("arc_not-a-token")).status_code == 401


def test_someone_elses_token_cannot_be_revoked(app):
    client = app.test_client()
    mine = client.post("/api/v1/tokens", json={"name": "mine"},
                       headers=bearer(token_for(app, "archivist@example.org"))).get_json()
    other = bearer(token_for(app, "researcher@example.org"))
    assert client.delete(f"/api/v1/tokens/{mine['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(mine["token"])).status_code == 200


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(app):
    client = app.test_client()
    response = log_in(client, "archivist@example.org")
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Domain" not in cookie
    assert client.get("/watches").status_code == 200
    token = csrf_of(client.get("/"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/watches").status_code == 303


def test_login_form_needs_its_csrf_token(app):
    client = app.test_client()
    client.get("/login")
    refused = client.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    assert refused.status_code == 403 and b"CSRF" in refused.data
    wrong = client.post("/login", data={"email": "admin@example.org", "password": PASSWORD,
                                        "csrf_token": "guessed"})
    assert wrong.status_code == 403


def test_session_writes_need_the_csrf_token_and_tokens_do_not(app, fixture_site):
    client = app.test_client()
    log_in(client, "archivist@example.org")
    url = fixture_site.url("/article")
    assert client.post("/captures", data={"urls": url}).status_code == 403
    assert client.post("/captures", data={"urls": url, "csrf_token": csrf_of(client.get("/"))}).status_code == 303
    # the session cookie authenticates this JSON request, so it needs the token as a header
    assert client.post("/api/v1/captures", json={"url": url}).status_code == 403
    assert client.post("/api/v1/captures", json={"url": url},
                       headers={"X-CSRF-Token": csrf_of(client.get("/"))}).status_code == 202
    token = token_for(app, "archivist@example.org")
    assert app.test_client().post("/api/v1/captures", json={"url": url}, headers=bearer(token)).status_code == 202


def test_wrong_passwords_lock_the_account(data_dir, fixture_site):
    app = make_app(data_dir, fixture_site, ARCHIVER_LOCKOUT_AFTER=3, ARCHIVER_LOCKOUT_SECONDS=600)
    client = app.test_client()
    assert [log_in(client, "admin@example.org", "wrong password!").status_code for _ in range(2)] == [401, 401]
    locked = log_in(client, "admin@example.org", "wrong password!")
    assert locked.status_code == 429 and 590 <= int(locked.headers["Retry-After"]) <= 601
    # while locked, even the right password is refused
    assert log_in(client, "admin@example.org").status_code == 429
    assert log_in(client, "archivist@example.org").status_code == 303    # other accounts are not
    with transaction(app.extensions["archiver"].sessions) as db:
        db.execute(select(1))
        service.find_user(db, "admin@example.org").locked_until = None
    assert log_in(app.test_client(), "admin@example.org").status_code == 303


def test_unknown_account_and_wrong_password_answer_alike(app):
    unknown = log_in(app.test_client(), "nobody@example.org")
    wrong = log_in(app.test_client(), "admin@example.org", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert b"wrong e-mail address or password" in unknown.data and b"wrong e-mail address or password" in wrong.data


def test_login_attempts_are_rate_limited_per_address(data_dir, fixture_site):
    app = make_app(data_dir, fixture_site, ARCHIVER_LOGIN_RATE=3)
    client = app.test_client()
    statuses = [log_in(client, f"nobody{i}@example.org").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = log_in(client, "admin@example.org")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_submissions_are_rate_limited_per_token(data_dir, fixture_site):
    app = make_app(data_dir, fixture_site, ARCHIVER_SUBMIT_RATE=2)
    client = app.test_client()
    headers = bearer(token_for(app, "archivist@example.org"))
    statuses = [client.post("/api/v1/captures", json={"url": "https://example.org/"}, headers=headers)
                for _ in range(3)]
    assert [r.status_code for r in statuses] == [202, 202, 429]
    assert int(statuses[2].headers["Retry-After"]) >= 1 and statuses[2].is_json


def test_disabling_a_user_ends_their_sessions_and_tokens(app):
    client = app.test_client()
    log_in(client, "archivist@example.org")
    token = token_for(app, "archivist@example.org")
    with transaction(app.extensions["archiver"].sessions) as db:
        service.find_user(db, "archivist@example.org").active = False
    assert client.get("/watches").status_code == 303
    assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_a_new_password_ends_old_sessions(app):
    client = app.test_client()
    log_in(client, "archivist@example.org")
    with transaction(app.extensions["archiver"].sessions) as db:
        service.set_password(db, service.find_user(db, "archivist@example.org"), "another long password")
    assert client.get("/watches").status_code == 303


def test_passwords_are_scrypt_hashed():
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$32768$8$3$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored                     # salted
    assert not verify_password(PASSWORD, "md5$abc")


def _events(app, capture_id: int) -> list[LedgerEntry]:
    with app.extensions["archiver"].sessions() as db:
        return list(db.scalars(select(LedgerEntry).where(LedgerEntry.capture_id == capture_id)
                               .order_by(LedgerEntry.position)))


def _seen(client, headers: dict, capture_id: int, url: str) -> dict[str, bool]:
    """Where a capture shows for this viewer."""
    hits = client.get("/api/v1/search?q=fixture", headers=headers).get_json()["hits"]
    history = client.get(f"/api/v1/history?url={url}", headers=headers).get_json()["captures"]
    listing = client.get("/api/v1/captures", headers=headers).get_json()["captures"]
    return {
        "detail": client.get(f"/api/v1/captures/{capture_id}", headers=headers).status_code == 200,
        "warc": client.get(f"/api/v1/captures/{capture_id}/warc", headers=headers).status_code == 200,
        "text": client.get(f"/api/v1/captures/{capture_id}/text", headers=headers).status_code == 200,
        "search": any(h["id"] == capture_id for h in hits),
        "history": any(c["id"] == capture_id for c in history),
        "list": any(c["id"] == capture_id for c in listing),
    }


def test_private_and_taken_down_captures_are_hidden_and_their_bytes_kept(app, fixture_site):
    client = app.test_client()
    archivist = bearer(token_for(app, "archivist@example.org"))
    researcher = bearer(token_for(app, "researcher@example.org"))
    admin = bearer(token_for(app, "admin@example.org"))
    capture_id = store_capture(app, fixture_site, archivist)
    url = fixture_site.url("/article")
    with app.extensions["archiver"].sessions() as db:
        capture = db.get(Capture, capture_id)
        assert capture.state == "stored" and capture.submitted_by.startswith("archivist@example.org (token ")
        warc = app.extensions["archiver"].settings.warc_dir
    everywhere = dict.fromkeys(("detail", "warc", "text", "search", "history", "list"), True)
    nowhere = dict.fromkeys(everywhere, False)
    assert _seen(client, researcher, capture_id, url) == everywhere

    # the researcher may not hide it; the archivist who submitted it may make it private
    assert client.put(f"/api/v1/captures/{capture_id}/restriction", json={"kind": "private", "reason": "x"},
                      headers=researcher).status_code == 403
    assert client.put(f"/api/v1/captures/{capture_id}/restriction", json={"kind": "private"},
                      headers=archivist).status_code == 400              # a reason is required
    assert client.put(f"/api/v1/captures/{capture_id}/restriction", json={"kind": "taken_down", "reason": "x"},
                      headers=archivist).status_code == 403              # only admins take down
    made = client.put(f"/api/v1/captures/{capture_id}/restriction",
                      json={"kind": "private", "reason": "source protection"}, headers=archivist)
    assert made.status_code == 200 and made.get_json()["visibility"] == "private"
    assert _seen(client, researcher, capture_id, url) == nowhere
    assert _seen(client, archivist, capture_id, url) == {**everywhere, "search": True}
    assert _seen(client, admin, capture_id, url) == everywhere
    assert client.get(f"/api/v1/captures/{capture_id}/restriction", headers=researcher).status_code == 404

    # an admin takes it down: now even its owner does not see it
    down = client.put(f"/api/v1/captures/{capture_id}/restriction",
                      json={"kind": "taken_down", "reason": "court order 12/3"}, headers=admin)
    assert down.status_code == 200
    assert _seen(client, archivist, capture_id, url) == nowhere
    assert _seen(client, admin, capture_id, url) == everywhere
    assert client.delete(f"/api/v1/captures/{capture_id}/restriction", headers=archivist).status_code == 404

    events = [(e.event, e.agent.get("email"), e.details.get("reason")) for e in _events(app, capture_id)]
    assert ("made_private", "archivist@example.org", "source protection") in events
    assert ("taken_down", "admin@example.org", "court order 12/3") in events
    # the WARC bytes are kept: the admin downloads them as before
    assert any(warc.glob("*.warc.gz")) or any((warc.parent / "open").glob("*"))
    body = client.get(f"/api/v1/captures/{capture_id}/warc", headers=admin).data
    assert len(body) > 100

    assert client.delete(f"/api/v1/captures/{capture_id}/restriction", json={"reason": "appeal upheld"},
                         headers=admin).status_code == 200
    assert _seen(client, researcher, capture_id, url) == everywhere
    kinds = [e.event for e in _events(app, capture_id) if e.event in ("made_private", "taken_down", "reinstated")]
    assert kinds == ["made_private", "taken_down", "reinstated"]


def test_an_archivist_cannot_hide_someone_elses_capture(app, fixture_site):
    admin = bearer(token_for(app, "admin@example.org"))
    capture_id = store_capture(app, fixture_site, admin)
    archivist = bearer(token_for(app, "archivist@example.org"))
    refused = app.test_client().put(f"/api/v1/captures/{capture_id}/restriction",
                                    json={"kind": "private", "reason": "mine now"}, headers=archivist)
    assert refused.status_code == 403


def test_hidden_captures_leave_pages_and_feeds(app, fixture_site):
    admin_token = bearer(token_for(app, "admin@example.org"))
    capture_id = store_capture(app, fixture_site, admin_token)
    admin, researcher = app.test_client(), app.test_client()
    log_in(admin, "admin@example.org")
    log_in(researcher, "researcher@example.org")
    page = admin.get(f"/captures/{capture_id}")
    assert page.status_code == 200 and 'id="snapshot"' in page.get_data(as_text=True)
    hidden = admin.post(f"/captures/{capture_id}/restriction",
                        data={"kind": "taken_down", "reason": "defamation", "csrf_token": csrf_of(page)})
    assert hidden.status_code == 303
    page = admin.get(f"/captures/{capture_id}").get_data(as_text=True)
    assert 'id="restriction"' in page and "defamation" in page
    assert 'id="snapshot"' not in page and "/web/" not in page      # no frame, no replay link
    assert researcher.get(f"/captures/{capture_id}").status_code == 404
    assert f"/captures/{capture_id}" not in researcher.get("/").get_data(as_text=True)
    assert f"capture {capture_id}" not in researcher.get("/feeds/changes.atom").get_data(as_text=True).lower()


def test_cli_creates_admin_users_and_tokens(data_dir):
    env = {"PATH": "/usr/bin:/bin", "ARCHIVER_DATA_DIR": str(data_dir)}

    def run(*args, stdin=""):
        return subprocess.run([BIN / "archiver", *args], input=stdin, capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=120)

    made = run("create-admin", "Boss@Example.org", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert run("create-admin", "x@example.org", "--password-stdin", stdin="short\n").returncode == 2
    assert run("user", "add", "ann@example.org", "--role", "researcher", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    listing = run("user", "list").stdout
    assert "boss@example.org\tadmin\tactive" in listing and "ann@example.org\tresearcher" in listing
    token = run("token", "create", "ann@example.org", "--name", "notebook")
    assert token.returncode == 0 and token.stdout.strip().startswith("arc_")
    assert "notebook" in run("token", "list", "ann@example.org").stdout
    assert token.stdout.strip() not in run("token", "list").stdout
    assert run("token", "revoke", "1").returncode == 0
    assert "revoked" in run("token", "list").stdout
    assert run("user", "disable", "ann@example.org").returncode == 0
    assert "ann@example.org\tresearcher\tdisabled" in run("user", "list").stdout


def test_hidden_captures_leave_the_replay_index_and_come_back(app, fixture_site):
    from archiver.replay.index import lookup, rebuild_index
    svc = app.extensions["archiver"]
    admin = bearer(token_for(app, "admin@example.org"))
    kept = store_capture(app, fixture_site, admin, "/article")
    hidden = store_capture(app, fixture_site, admin, "/article?second")
    before = set(lookup(svc.settings, ""))
    with svc.sessions() as db:
        places = {(r.warc_file.filename, str(r.offset)) for r in db.get(Capture, hidden).records}
    mine = {line for line in before
            if (json.loads(line.split(" ", 2)[2])["filename"], json.loads(line.split(" ", 2)[2])["offset"]) in places}
    assert mine, "the capture was indexed for replay when it was stored"
    client = app.test_client()
    assert client.put(f"/api/v1/captures/{hidden}/restriction", json={"kind": "taken_down", "reason": "r"},
                      headers=admin).status_code == 200
    during = set(lookup(svc.settings, ""))
    assert not (during & mine) and during < before and during
    assert rebuild_index(svc.settings, svc.sessions, svc.storage) == len(during)   # reindex keeps it out
    assert set(lookup(svc.settings, "")) == during
    assert client.delete(f"/api/v1/captures/{hidden}/restriction", headers=admin).status_code == 200
    assert set(lookup(svc.settings, "")) == before
    assert kept != hidden


def test_a_capture_hidden_before_it_is_stored_never_enters_the_replay_index(app, fixture_site):
    from archiver.replay.index import lookup
    svc = app.extensions["archiver"]
    admin = bearer(token_for(app, "admin@example.org"))
    client = app.test_client()
    made = client.post("/api/v1/captures", json={"url": fixture_site.url("/article?early")}, headers=admin)
    [capture_id] = made.get_json()["ids"]
    assert client.put(f"/api/v1/captures/{capture_id}/restriction",
                      json={"kind": "private", "reason": "asked before it was fetched"},
                      headers=admin).status_code == 200
    ctx = build_context(svc.settings)
    try:
        assert run_capture(ctx, capture_id).state == "stored"
    finally:
        ctx.writer.close()

    def lines_of_capture() -> set[str]:
        with svc.sessions() as db:
            places = {(r.warc_file.filename, str(r.offset)) for r in db.get(Capture, capture_id).records}
        assert places
        return {line for line in lookup(svc.settings, "")
                if (json.loads(line.split(" ", 2)[2])["filename"],
                    json.loads(line.split(" ", 2)[2])["offset"]) in places}

    assert lines_of_capture() == set()
    # made public, it is replayable at once (the check above can fail)
    assert client.delete(f"/api/v1/captures/{capture_id}/restriction", headers=admin).status_code == 200
    assert lines_of_capture()


def test_by_default_visitors_read_but_do_not_submit(tmp_path):
    from archiver.config import Settings
    settings = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path)})
    assert settings.anonymous_role == "researcher"
