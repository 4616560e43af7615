"""Limits, against a real worker: hostile responses each end in a clear state, and the
worker's memory stays within 100 MiB of what it used once warmed up.

The captures go through the whole service (API, Redis, `celery worker`, WARC, catalogue);
the hostile server (tests/hostile_server.py) breaks HTTP on purpose.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile_server import HostileServer
from tests.live_service import live_service

MEMORY_BUDGET = 100 * 1024 * 1024
BODY_CAP = 1024 * 1024

# path -> (state, words the error or the text's reason must contain)
EXPECTED = {
    "/many-headers": ("failed", "headers"),
    "/long-header": ("failed", "header"),
    "/three-encodings": ("stored", "at most 2"),
    "/bomb": ("stored", "limit"),
    "/reset-mid-body": ("stored", None),
    "/trickle": ("stored", None),          # what came before the deadline, marked truncated
    "/oversize": ("stored", None),
}


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_url, fixture_site, hostile):
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    env = {"ARCHIVER_ALLOW_PRIVATE": f"{fixture_site.allow},{hostile.allow}",
           "ARCHIVER_MAX_BODY_BYTES": str(BODY_CAP), "ARCHIVER_TOTAL_DEADLINE": "8",
           "ARCHIVER_READ_TIMEOUT": "5", "ARCHIVER_MAX_ATTEMPTS": "1"}
    with live_service(data_dir, redis_url, fixture_site, extra_env=env) as svc:
        yield svc


def worker_processes(root_pid: int) -> list[int]:
    """The worker's main process and every process below it."""
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            todo.extend(int(c) for c in children)
    return found


def memory(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def test_hostile_responses_end_clearly_within_the_memory_budget(service, fixture_site, hostile):
    # Warm up: every pool process has done an ordinary capture, imports and caches loaded.
    warm = [service.submit(url=fixture_site.url(f"/article?warm={i}")).json()["ids"][0] for i in range(4)]
    for capture_id in warm:
        assert service.wait(capture_id)["state"] == "stored"
    pids = worker_processes(service.worker.pid)
    assert len(pids) >= 3, pids          # main process and its two pool children
    baseline = {pid: memory(pid, "VmRSS") for pid in pids}

    hostile.wait_for_bomb()         # so the server answers /bomb at once
    ids = {path: service.submit(url=hostile.url(path)).json()["ids"][0] for path in EXPECTED}
    outcomes = {path: service.wait(capture_id, timeout=90) for path, capture_id in ids.items()}

    for path, (state, words) in EXPECTED.items():
        body = outcomes[path]
        assert body["state"] == state, (path, body)
        if state == "failed":
            assert words in body["error"]["message"], (path, body["error"])
        elif words:
            text = body["provenance"]["text"]
            assert words in (text["reason"] or ""), (path, text)

    assert outcomes["/reset-mid-body"]["provenance"]["response"]["truncated"] in ("disconnect", "reset")
    assert outcomes["/trickle"]["provenance"]["response"]["truncated"] == "time"
    oversize = outcomes["/oversize"]["provenance"]["response"]
    assert oversize["truncated"] == "length" and BODY_CAP <= oversize["payload_size"] <= BODY_CAP + 65536

    for pid in pids:
        grown = memory(pid, "VmHWM") - baseline[pid]
        assert grown < MEMORY_BUDGET, f"process {pid} grew by {grown / 2**20:.0f} MiB"
