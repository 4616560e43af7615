"""The web app: the submission form, capture pages and the JSON API."""
from __future__ import annotations

import re
from dataclasses import dataclass

from celery import Celery
from flask import Flask
from werkzeug.routing import IntegerConverter
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings, load_settings
from archiver.db import make_engine, make_session_factory
from storage import Storage, open_storage

MAX_REQUEST_BYTES = 1024 * 1024
MAX_ROW_ID = 2**63 - 1   # the largest id either database can hold


class RowIdConverter(IntegerConverter):
    """`<id:name>`: a positive integer a database row can have; anything else is a 404."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


@dataclass
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    celery: Celery


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    from workers.app import create_celery  # the producer side of the same Celery app
    from archiver.web import api, openapi, research_api, research_ui, security, ui
    from archiver.web import watches_api, watches_ui
    from archiver.web.jsonbody import RequestJSONProvider

    settings = settings or load_settings()
    app = Flask(__name__)
    app.json = RequestJSONProvider(app)
    app.url_map.converters["id"] = RowIdConverter
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    app.extensions["archiver"] = Services(
        settings=settings,
        sessions=make_session_factory(make_engine(settings.database_url, pool_size=settings.db_pool_size,
                                                  max_overflow=settings.db_max_overflow)),
        storage=open_storage(settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        celery=create_celery(settings),
    )
    app.register_blueprint(ui.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(research_ui.bp)
    app.register_blueprint(research_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(watches_ui.bp)
    app.register_blueprint(watches_api.bp)
    from archiver.web import alerts_api, feeds   # change alerts: deliveries, Atom feeds
    app.register_blueprint(alerts_api.bp)
    app.register_blueprint(feeds.bp)
    from archiver.web import evidence_api   # the evidence log, verification, bundles (docs/provenance.md)
    app.register_blueprint(evidence_api.bp)
    from archiver.web import raw_replay   # raw mementos from the catalogue (docs/replay.md)
    app.register_blueprint(raw_replay.bp)
    from archiver.web import import_ui   # importing WARCs of other tools (docs/import.md)
    app.register_blueprint(import_ui.bp)  # before security and auth: its body-limit hook goes first
    from archiver.web import imports_api
    app.register_blueprint(imports_api.bp)
    security.init_app(app)
    from archiver.web import accounts_api, auth   # the role table, login, tokens (docs/accounts.md)
    app.register_blueprint(accounts_api.bp)
    auth.init_app(app)
    return app


def parse_ids(raw: str, limit: int = 500) -> list[int] | None:
    """`1,2,3` -> [1, 2, 3] (at most `limit`); None when it is not such a list."""
    if not re.fullmatch(r"[0-9]{1,18}(,[0-9]{1,18})*", raw):
        return None
    return [i for i in (int(x) for x in raw.split(",")) if 0 < i <= MAX_ROW_ID][:limit]


def row_or_404(session, model, row_id: int, what: str):
    """The row of `model` with this id, or a 404 that names what was asked for."""
    row = session.get(model, row_id)
    if row is None:
        from flask import abort
        abort(404, description=f"no {what} with id {row_id}")
    return row


def services(app: Flask | None = None) -> Services:
    from flask import current_app
    return (app or current_app).extensions["archiver"]
