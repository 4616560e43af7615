"""The whole service for real, as a module's fixture: `archiver web` (gunicorn) and
`archiver worker` (a `celery worker` on the real Redis, on a queue of its own), and with
`replay=True` also `archiver replay` (pywb) on its own free port, which the app frames.

    with live_service(data_dir, redis_url, fixture_site, replay=True) as svc:
        svc.submit(url=...)                 # POST /api/v1/captures
        svc.wait(capture_id)                # until stored or failed
        svc.base, svc.replay_base           # http://127.0.0.1:PORT of the app, of replay
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import redis
import requests

from archiver.config import Settings
from tests.conftest import REPO
from tests.replay_server import free_port, replay_server, require_replay

BIN = Path(sys.executable).parent


class Service:
    def __init__(self, data_dir: Path, env: dict, port: int):
        self.data_dir, self.env, self.port = data_dir, env, port
        self.base = f"http://127.0.0.1:{port}"
        self.replay_base: str | None = None
        self.worker: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.logs = data_dir.parent

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def start(self) -> None:
        subprocess.run([BIN / "archiver", "migrate"], env=self.env, check=True, cwd=REPO,
                       capture_output=True)
        self.worker = self.spawn("worker", "--concurrency", "2")
        self.web = self.spawn("web", "--workers", "1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:     # not listening yet, or slow to answer the first
                time.sleep(0.2)
        else:
            raise RuntimeError("web app did not start:\n" + self.log("web"))
        # a worker stopped while it still boots dies of the signal instead of a warm shutdown
        while " ready." not in self.log("worker"):
            if time.monotonic() > deadline or self.worker.poll() is not None:
                raise RuntimeError("the worker did not start:\n" + self.log("worker"))
            time.sleep(0.1)

    def spawn(self, part: str, *args: str) -> subprocess.Popen:
        with open(self.logs / f"{part}.log", "wb") as log:   # the child keeps its own handle
            return subprocess.Popen([BIN / "archiver", part, *args], env=self.env, cwd=REPO,
                                    stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop_worker(self) -> int:
        if self.worker and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)   # warm shutdown: finish, seal, exit
            return self.worker.wait(timeout=60)
        return self.worker.returncode if self.worker else 0

    def stop(self) -> None:
        self.stop_worker()
        if self.web and self.web.poll() is None:
            self.web.terminate()
            self.web.wait(timeout=30)

    def submit(self, **payload) -> requests.Response:
        return requests.post(self.base + "/api/v1/captures", json=payload, timeout=10)

    def captures(self) -> list[dict]:
        return requests.get(self.base + "/api/v1/captures", timeout=10).json()["captures"]

    def wait(self, capture_id: int, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = requests.get(f"{self.base}/api/v1/captures/{capture_id}", timeout=10).json()
            if body["state"] in ("stored", "failed"):
                return body
            time.sleep(0.2)
        raise AssertionError(f"capture {capture_id} not finished in {timeout} s; state {body['state']}"
                             f"\nworker log:\n{self.log('worker')}")


@contextmanager
def live_service(data_dir: Path, redis_url: str, fixture_site, replay: bool = False,
                 extra_env: dict[str, str] | None = None) -> Iterator[Service]:
    """`extra_env`: more ARCHIVER_* settings for every part (they win over the defaults here)."""
    if replay:
        require_replay()            # skip (laptop) or fail (CI) before starting anything
    queue = f"archiver-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env.update({
        "ARCHIVER_DATA_DIR": str(data_dir),
        "ARCHIVER_BROKER_URL": redis_url,
        "ARCHIVER_CAPTURE_QUEUE": queue,
        "ARCHIVER_MAINTENANCE_QUEUE": f"{queue}-maintenance",
        "ARCHIVER_ALLOW_PRIVATE": fixture_site.allow,
        "ARCHIVER_PORT": str(free_port()),
        "ARCHIVER_REPLAY_PORT": str(free_port()),
        "ARCHIVER_MAX_ATTEMPTS": "2",
        "ARCHIVER_RETRY_BACKOFF": "0.2",
        "ARCHIVER_TOTAL_DEADLINE": "20",
        "ARCHIVER_ANONYMOUS_ROLE": "archivist",    # accounts are tested in tests/test_accounts.py
    })
    env.update(extra_env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    svc = Service(data_dir, env, int(env["ARCHIVER_PORT"]))
    try:
        with ExitStack() as stack:
            svc.start()
            if replay:
                svc.replay_base = stack.enter_context(replay_server(svc.settings))
            yield svc
    finally:
        svc.stop()
        redis.Redis.from_url(redis_url).delete(queue, f"{queue}-maintenance")
