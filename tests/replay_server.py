"""`archiver replay` (pywb with our Memento middleware) as a child process, for tests.

    with replay_server(settings) as base:      # http://127.0.0.1:PORT
        requests.get(f"{base}/web/{url}")
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests

from archiver.config import Settings
from archiver.replay.server import PywbMissing, pywb_python

ARCHIVER = Path(sys.executable).parent / "archiver"


def require_replay() -> None:
    """Skip without .venv-pywb on a laptop; with CI=true, fail and say how to get it."""
    try:
        pywb_python()
    except PywbMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} (CI=true: replay tests must run)", pytrace=False)
        pytest.skip(str(exc))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def replay_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env.update({"ARCHIVER_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url,
                "ARCHIVER_STORAGE_URL": settings.storage_url,
                "ARCHIVER_REPLAY_HOST": settings.replay_host,
                "ARCHIVER_REPLAY_PORT": str(settings.replay_port)})
    if settings.s3_endpoint_url:
        env["ARCHIVER_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    return env


@contextmanager
def replay_server(settings: Settings, timeout: float = 60.0) -> Iterator[str]:
    """Run `archiver replay` for `settings` (give it a free replay port) until the block ends."""
    require_replay()
    log_path = settings.data_dir / "replay.log"
    base = f"http://{settings.replay_host}:{settings.replay_port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([ARCHIVER, "replay"], env=replay_env(settings), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"archiver replay exited with {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace"))
            try:
                if requests.get(f"{base}/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("archiver replay did not answer:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
