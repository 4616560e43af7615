"""WSGI entry point for gunicorn: `gunicorn archiver.web.wsgi:app`."""
from archiver.web import create_app

app = create_app()
