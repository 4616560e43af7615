"""The capture worker's memory allocator (archiver/allocator.py): mimalloc from its wheel by
default, preloaded into the Celery worker that `archiver worker` starts, and its pool."""
from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from archiver.allocator import describe, keep_to_this_process, library_for, mimalloc_library, with_allocator
from archiver.config import ConfigError, Settings
from tests.conftest import REPO
from tests.live_service import BIN

# pyproject.toml installs the wheel on x86_64 Linux only (the platform it is built for)
WHEEL_PLATFORM = sys.platform == "linux" and platform.machine() == "x86_64"


def mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def installed_mimalloc() -> Path:
    """The wheel's library; where pyproject.toml installs it, missing is a failure."""
    library = mimalloc_library()
    if library is None:
        assert not WHEEL_PLATFORM, "cmeel-mimalloc is not installed: run make install"
        pytest.skip("cmeel-mimalloc is installed on x86_64 Linux only")
    return library


def python_output(script: str, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True).stdout


def test_mimalloc_is_the_default_and_its_wheel_is_installed(tmp_path):
    settings = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path)})
    assert settings.worker_allocator == "mimalloc"
    library = installed_mimalloc()
    assert library.is_file() and library.name.startswith("libmimalloc.so.")
    assert library_for("mimalloc") == library
    assert str(library) in describe("mimalloc")


def test_a_process_started_with_the_environment_allocates_with_it():
    library = installed_mimalloc()
    script = ("import lxml.etree as e, pathlib, os; "
              "root = e.fromstring('<html><body>' + '<p>x</p>' * 5000 + '</body></html>', e.HTMLParser()); "
              "print(len(root.findall('.//p'))); print(pathlib.Path('/proc/self/maps').read_text())")
    count, maps = python_output(script, with_allocator(os.environ, "mimalloc")).split("\n", 1)
    assert count == "5000" and str(library) in maps
    assert "libmimalloc" not in python_output(script, with_allocator(os.environ, "system"))


def test_mimalloc_gives_big_blocks_back_at_once_unless_told_otherwise():
    installed_mimalloc()
    assert with_allocator({}, "mimalloc")["MIMALLOC_ARENA_MAX_OBJECT_SIZE"] == "4096"
    told = with_allocator({"MIMALLOC_ARENA_MAX_OBJECT_SIZE": "65536"}, "mimalloc")
    assert told["MIMALLOC_ARENA_MAX_OBJECT_SIZE"] == "65536"
    assert "MIMALLOC_ARENA_MAX_OBJECT_SIZE" not in with_allocator({}, "system")


def test_system_keeps_the_environment_and_a_library_goes_before_other_preloads():
    env = {"PATH": "/usr/bin", "LD_PRELOAD": "/opt/trace.so"}
    assert with_allocator(env, "system") == env
    assert "system's" in describe("system")
    other = "/usr/lib/libsomething.so"        # a path is taken as given (Settings checks it exists)
    assert with_allocator(env, other)["LD_PRELOAD"] == f"{other} /opt/trace.so"
    assert with_allocator({}, other)["LD_PRELOAD"] == other


def test_the_worker_keeps_the_allocator_from_the_programs_it_starts():
    installed_mimalloc()
    # the worker's module runs keep_to_this_process() at import (workers/app.py), then a
    # program it starts (as Playwright starts its driver and Chromium) has the plain allocator
    script = ("import pathlib, subprocess, sys; import workers.app; "
              "print('libmimalloc' in pathlib.Path('/proc/self/maps').read_text()); "
              "child = 'import os, pathlib; print(\"libmimalloc\" in pathlib.Path(\"/proc/self/maps\").read_text(), "
              "os.environ.get(\"LD_PRELOAD\"))'; "
              "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True).stdout)")
    env = with_allocator({**os.environ, "LD_PRELOAD": "libc.so.6"}, "mimalloc")
    assert python_output(script, env).split("\n")[:2] == ["True", "False libc.so.6"]


def test_keeping_it_to_this_process_leaves_other_preloads():
    env = with_allocator({"LD_PRELOAD": "/opt/trace.so"}, "/usr/lib/liballoc.so")
    keep_to_this_process(env)
    assert env == {"LD_PRELOAD": "/opt/trace.so"}
    env = with_allocator({}, "/usr/lib/liballoc.so")
    keep_to_this_process(env)
    assert env == {}
    untouched = {"LD_PRELOAD": "/usr/lib/liballoc.so"}      # not ours: preloaded by someone else
    keep_to_this_process(untouched)
    assert untouched == {"LD_PRELOAD": "/usr/lib/liballoc.so"}


def test_a_value_that_is_no_allocator_is_refused_with_what_to_use(tmp_path):
    for value in ("jemalloc", "libmimalloc.so.3", str(tmp_path / "missing.so")):
        with pytest.raises(ConfigError, match="ARCHIVER_WORKER_ALLOCATOR.*use mimalloc"):
            Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), "ARCHIVER_WORKER_ALLOCATOR": value})
    library = tmp_path / "liballoc.so"
    library.write_bytes(b"")
    chosen = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), "ARCHIVER_WORKER_ALLOCATOR": str(library)})
    assert chosen.worker_allocator == str(library)


def start_worker(tmp_path: Path, redis_url: str, allocator: str) -> tuple[subprocess.Popen, Path, str]:
    queue = f"archiver-test-alloc-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env.update({"ARCHIVER_DATA_DIR": str(tmp_path / "data"), "ARCHIVER_BROKER_URL": redis_url,
                "ARCHIVER_CAPTURE_QUEUE": queue, "ARCHIVER_MAINTENANCE_QUEUE": f"{queue}-m",
                "ARCHIVER_WORKER_ALLOCATOR": allocator})
    subprocess.run([BIN / "archiver", "migrate"], env=env, cwd=REPO, check=True, capture_output=True)
    log = tmp_path / f"worker-{allocator.replace('/', '_')}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN / "archiver", "worker", "--concurrency", "1", "--queues", "capture"],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError("the worker did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    return proc, log, queue


def pool_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


@pytest.mark.parametrize("allocator", ["mimalloc", "system"])
def test_archiver_worker_and_its_pool_run_on_the_chosen_allocator(tmp_path, redis_url, allocator):
    if allocator == "mimalloc":
        installed_mimalloc()
    proc, log, queue = start_worker(tmp_path, redis_url, allocator)
    try:
        pids = [proc.pid, *pool_pids(proc.pid)]     # archiver worker execs Celery in place
        assert len(pids) == 2
        for pid in pids:
            assert ("libmimalloc" in mapped_libraries(pid)) == (allocator == "mimalloc")
        assert describe(allocator) in log.read_text(errors="replace")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        redis.Redis.from_url(redis_url).delete(queue, f"{queue}-m")
