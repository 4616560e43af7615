"""Replay of captures through pywb on its own origin, with Memento (docs/replay.md).

    add_capture_to_index(settings, storage, written.filename, written.records)  # after a capture
    rebuild_index(settings, sessions, storage)       # `archiver reindex`
    replay_url(settings, url, timestamp, raw=False)  # /web/<ts>/<url>, /web/<ts>id_/<url>

`archiver replay` runs pywb from .venv-pywb (server.py, pywb_app.py, memento.py).
"""
from archiver.replay.index import add_capture_to_index, rebuild_index
from archiver.replay.urls import capture_replay_links, capture_timestamp, replay_origin, replay_url, timemap_url

__all__ = ["add_capture_to_index", "rebuild_index", "replay_url", "replay_origin", "timemap_url",
           "capture_timestamp", "capture_replay_links"]
