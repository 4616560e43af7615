"""Replaying WARCs through a real pywb, for tests.

    with pywb_replay(folder_or_paths) as replay:
        requests.get(replay.raw_url(url))     # /<coll>/<ts>id_/<url>: the archived bytes
        requests.get(replay.page_url(url))    # /<coll>/<ts>/<url>: the rewritten page

pywb lives in its own virtualenv (.venv-pywb, `make pywb`): its pins clash with Celery's
Redis client. The collection is made by hand in a temporary folder: the WARCs are linked
into `collections/<coll>/archive/` and indexed with cdxj-indexer from our own virtualenv
(not `wb-manager add`, whose indexer also indexes `conversion` records under the page's
URL; see docs/warc.md). Then `wayback` is started on 127.0.0.1 on a free port, polled
until it answers, and stopped at the end. Replay is unframed (config.yaml
`framed_replay: false`), so /<coll>/<ts>/<url> is the rewritten page itself.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator
from urllib.error import URLError
from urllib.request import urlopen

import pytest

REPO = Path(__file__).resolve().parent.parent
PYWB_VENV = REPO / ".venv-pywb"
WAYBACK = PYWB_VENV / "bin" / "wayback"
CDXJ_INDEXER = Path(sys.executable).parent / "cdxj-indexer"
COLLECTION = "archive"


def pywb_available() -> bool:
    return WAYBACK.is_file() and os.access(WAYBACK, os.X_OK)


def require_pywb() -> None:
    """Skip without pywb on a laptop; with CI=true, fail and say how to get it."""
    if pywb_available():
        return
    message = f"pywb is not installed in {PYWB_VENV}: run `make pywb`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: replay tests must run)", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Replay:
    base: str                  # http://127.0.0.1:PORT
    collection: str
    root: Path                 # the pywb folder (collections/<coll>/archive, indexes)

    def raw_url(self, url: str, timestamp: str = "") -> str:
        """The archived response as it was (no rewriting), closest to `timestamp` (latest if empty)."""
        return f"{self.base}/{self.collection}/{timestamp or '2999'}id_/{url}"

    def page_url(self, url: str, timestamp: str = "") -> str:
        """The page as pywb replays it to a browser: links rewritten (framed replay is off)."""
        return f"{self.base}/{self.collection}/{timestamp or '2999'}/{url}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _warc_paths(warcs: Path | str | Iterable[Path | str]) -> list[Path]:
    if isinstance(warcs, (str, Path)) and Path(warcs).is_dir():
        found = sorted(p for p in Path(warcs).iterdir() if p.name.endswith((".warc.gz", ".warc")))
    elif isinstance(warcs, (str, Path)):
        found = [Path(warcs)]
    else:
        found = [Path(p) for p in warcs]
    if not found:
        raise ValueError(f"no WARC files in {warcs}")
    return [p.resolve() for p in found]


def build_collection(root: Path, warcs: list[Path], collection: str = COLLECTION) -> Path:
    """A pywb collection folder holding (links to) the WARCs and a sorted CDXJ index."""
    archive = root / "collections" / collection / "archive"
    indexes = root / "collections" / collection / "indexes"
    archive.mkdir(parents=True)
    indexes.mkdir(parents=True)
    for path in warcs:
        (archive / path.name).symlink_to(path)
    # unframed replay: /<coll>/<ts>/<url> answers with the rewritten page itself
    (root / "config.yaml").write_text("framed_replay: false\n")
    index = indexes / "index.cdxj"
    done = subprocess.run([CDXJ_INDEXER, "--sort", "-o", index, *[archive / p.name for p in warcs]],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"cdxj-indexer failed: {done.stderr}")
    return index


def _wait_until_up(base: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wayback exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urlopen(f"{base}/", timeout=2) as answer:   # noqa: S310 (loopback only)
                if answer.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"wayback did not answer within {timeout}s:\n{log.read_text(errors='replace')}")


@contextmanager
def pywb_replay(warcs: Path | str | Iterable[Path | str], collection: str = COLLECTION) -> Iterator[Replay]:
    """Serve the WARCs (a folder of them, or paths) with pywb's `wayback` on 127.0.0.1."""
    require_pywb()
    paths = _warc_paths(warcs)
    root = Path(tempfile.mkdtemp(prefix="pywb-"))
    proc = None
    log_handle = None
    try:
        build_collection(root, paths, collection)
        port = _free_port()
        log = root / "wayback.log"
        log_handle = open(log, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        proc = subprocess.Popen([WAYBACK, "-b", "127.0.0.1", "-p", str(port), "-t", "4", "-d", root],
                                cwd=root, stdout=log_handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, proc, log)
        yield Replay(base=base, collection=collection, root=root)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if log_handle is not None:
            log_handle.close()
        shutil.rmtree(root, ignore_errors=True)
