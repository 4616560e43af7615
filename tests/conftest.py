"""Shared fixtures: settings in a temporary data folder, real databases, real Redis."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from archiver.config import Settings
from tests.fixture_site import fixture_site  # noqa: F401  (the loopback web site tests capture from)

REDIS_URL = os.environ.get("ARCHIVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent


def service_missing(what: str, why: Exception | str) -> None:
    """In CI a missing service fails the run; on a laptop the test is skipped, loudly."""
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def make_settings(data_dir: Path, **env) -> Settings:
    # tests that are not about accounts act as an anonymous archivist (tests/test_accounts.py
    # covers the roles); pass ARCHIVER_ANONYMOUS_ROLE to test another
    base = {"ARCHIVER_DATA_DIR": str(data_dir), "ARCHIVER_ANONYMOUS_ROLE": "archivist"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def form_token(client) -> str:
    """The CSRF token a form of the app carries (from the submission page), for a Flask test
    client or a requests.Session pointed at it with `client.base`."""
    import re
    page = client.get(getattr(client, "base", "") + "/")
    body = page.get_data(as_text=True) if hasattr(page, "get_data") else page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, fixture_site) -> Settings:  # noqa: F811
    return make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=fixture_site.allow,
                         ARCHIVER_TOTAL_DEADLINE=20, ARCHIVER_READ_TIMEOUT=5,
                         ARCHIVER_CONNECT_TIMEOUT=3, ARCHIVER_RETRY_BACKOFF=0.1,
                         ARCHIVER_MAX_ATTEMPTS=2)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        service_missing(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway database on the real PostgreSQL, dropped at the end of the session."""
    import psycopg
    name = f"archiver_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        service_missing(f"PostgreSQL at {POSTGRES_ADMIN_URL}", exc)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, data_dir: Path) -> str:
    """Catalogue tests run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{data_dir / 'catalogue.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    # each test gets clean tables: drop everything alembic made before
    from sqlalchemy import create_engine, text
    from archiver.db import normalise_url
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def app(settings):
    """The web app on a migrated catalogue in the test's data folder."""
    from archiver.db import migrate
    from archiver.web import create_app
    migrate(settings.database_url)
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@contextmanager
def capture_contexts():
    """make(settings) -> a worker's CaptureContext on a migrated catalogue; all are closed
    (WARCs sealed, pooled connections dropped) when the block ends."""
    from archiver.db import migrate
    from workers.context import build_context
    made = []

    def make(settings: Settings):
        migrate(settings.database_url)
        ctx = build_context(settings)
        made.append(ctx)
        return ctx

    try:
        yield make
    finally:
        for ctx in made:
            ctx.writer.close()
            ctx.sessions.kw["bind"].dispose()     # no pooled connection outlives the test database


@pytest.fixture
def make_ctx(settings):
    """make_ctx(**overrides): a capture context on the test's settings, changed as given."""
    with capture_contexts() as make:
        yield lambda **overrides: make(settings.with_overrides(**overrides) if overrides else settings)


@pytest.fixture
def ctx(make_ctx):
    """A capture context on the test's settings."""
    return make_ctx()


def capture_now(ctx, url: str, mode: str | None = None):
    """Submit `url` and run its capture at once in this process (no broker); the stored
    row, detached, with its WARC file and its records' files loaded."""
    from archiver.capture import run_capture
    from archiver.models import Capture
    from archiver.submissions import Submitter, submit_captures
    [submitted] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "tester"),
                                  lambda _id: None, mode=mode)
    run_capture(ctx, submitted.id, task_id="test")
    with ctx.sessions() as session:
        row = session.get(Capture, submitted.id)
        _ = row.warc_file, [r.warc_file for r in row.records]
        session.expunge_all()
        return row
