"""Faults, with real processes: nothing lost, nothing twice.

A throwaway `redis-server`, `archiver worker` (celery, prefork pool of 2), `archiver
scheduler` (beat, running the reconciler) and the web app. Workers are killed with
SIGKILL mid-capture, Redis is restarted with captures queued, and the catalogue (the
record of truth) must end with every capture stored exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.hostile_server import HostileServer
from tests.live_service import BIN, REPO, Service, live_service
from tests.redis_server import RedisServer

# Short limits so a dead worker's lease runs out in seconds. The page deadline leaves a
# window of several seconds in which a hanging capture is `fetching`.
FAST = {
    "ARCHIVER_TOTAL_DEADLINE": "6", "ARCHIVER_REQUISITES_DEADLINE": "1",
    "ARCHIVER_TASK_SOFT_TIME_LIMIT": "8", "ARCHIVER_TASK_TIME_LIMIT": "10",
    "ARCHIVER_MAX_ATTEMPTS": "2", "ARCHIVER_RECONCILE_INTERVAL": "2",
    "ARCHIVER_RECONCILE_AFTER": "5", "ARCHIVER_DISPATCH_INTERVAL": "60",
}


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory, own_redis, fixture_site, hostile):
    data_dir = tmp_path_factory.mktemp("faults") / "data"
    env = {**FAST, "ARCHIVER_ALLOW_PRIVATE": f"{fixture_site.allow},{hostile.allow}",
           "ARCHIVER_MAX_URLS_PER_SUBMISSION": "100"}
    with live_service(data_dir, own_redis.url, fixture_site, extra_env=env) as svc:
        scheduler = svc.spawn("scheduler")
        try:
            yield svc
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=30)


def catalogue(svc: Service):
    return create_engine(f"sqlite:///{svc.data_dir / 'catalogue.sqlite3'}")


def query(svc: Service, sql: str, **params) -> list:
    engine = catalogue(svc)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found += children
            todo += children
    return found


def kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def state_of(svc: Service, capture_id: int) -> tuple[str, int]:
    [(state, attempts)] = query(svc, "SELECT state, attempts FROM captures WHERE id = :i", i=capture_id)
    return state, attempts


def wait_for(svc: Service, capture_id: int, states: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, _ = state_of(svc, capture_id)
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"capture {capture_id} is still {state}, not {states}\n{svc.log('worker')}")


def submit(svc: Service, url: str) -> int:
    response = svc.submit(url=url)
    assert response.status_code == 202, response.text
    return response.json()["ids"][0]


def response_records(svc: Service, capture_id: int) -> int:
    [(count,)] = query(svc, "SELECT count(*) FROM capture_records WHERE capture_id = :i "
                            "AND record_type = 'response' AND requisite = 0", i=capture_id)
    return count


def wait_until_requested(hostile: HostileServer, target: str, times: int = 1, timeout: float = 60) -> None:
    """The capture is fetching and its request has reached the server: a kill now is a kill
    in the middle of the capture (a kill right after the claim would be before it)."""
    deadline = time.monotonic() + timeout
    while hostile.seen.get(target, 0) < times:
        if time.monotonic() > deadline:
            raise AssertionError(f"{target} was not requested {times} times: {hostile.seen}")
        time.sleep(0.02)


def restart_worker(svc: Service) -> None:
    svc.worker = svc.spawn("worker", "--concurrency", "2")


def test_pool_child_killed_mid_capture_gives_one_stored_capture(service, hostile):
    capture_id = submit(service, hostile.url("/hang-once?child"))
    wait_until_requested(hostile, "/hang-once?child")
    kill(descendants(service.worker.pid))          # the pool children; the main process lives
    assert wait_for(service, capture_id, {"stored", "failed"}) == "stored", (
        query(service, "SELECT error_code, error FROM captures WHERE id = :i", i=capture_id), hostile.seen,
        hostile.port, service.log("worker"))
    assert state_of(service, capture_id) == ("stored", 2)
    assert response_records(service, capture_id) == 1
    assert hostile.seen["/hang-once?child"] == 2


def test_pool_children_killed_mid_batch_every_capture_is_stored_once(service, hostile, fixture_site):
    # 16 URLs go as 8 tasks of 2 (archiver/submissions.py, batches): the first task holds
    # the hanging page, then a page its dead run claimed but never reached
    urls = [hostile.url("/hang-once?batch")] + [fixture_site.url(f"/plain.txt?batch={n}") for n in range(15)]
    response = service.submit(urls=urls)
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    wait_until_requested(hostile, "/hang-once?batch")
    [(claimed_at,)] = query(service, "SELECT started_at FROM captures WHERE id = :i", i=ids[1])
    kill(descendants(service.worker.pid))
    # the task comes back (acks_late) and sends what its dead run held as tasks of their own
    for capture_id in ids:
        assert wait_for(service, capture_id, {"stored", "failed"}) == "stored", service.log("worker")
    # ... at once, not once the dead run's lease has run out
    lease_end = datetime.fromisoformat(str(claimed_at)) + timedelta(seconds=int(FAST["ARCHIVER_TASK_TIME_LIMIT"]))
    [(started,)] = query(service, "SELECT started_at FROM captures WHERE id = :i", i=ids[1])
    assert datetime.fromisoformat(str(started)) < lease_end, (started, claimed_at)
    assert [response_records(service, capture_id) for capture_id in ids] == [1] * len(ids)
    assert state_of(service, ids[0]) == ("stored", 2)
    assert state_of(service, ids[1]) == ("stored", 2)     # the dead run's attempt counts
    assert hostile.seen["/hang-once?batch"] == 2


def test_whole_worker_killed_mid_capture_gives_one_stored_capture(service, hostile):
    capture_id = submit(service, hostile.url("/hang-once?main"))
    wait_until_requested(hostile, "/hang-once?main")
    dead = [service.worker.pid] + descendants(service.worker.pid)
    kill(dead)
    service.worker.wait(timeout=10)
    restart_worker(service)        # the reconciler sends it again once the lease has run out
    assert wait_for(service, capture_id, {"stored", "failed"}) == "stored", service.log("worker")
    assert response_records(service, capture_id) == 1
    # the dead processes' WARC files were cut to their last whole record and sealed
    open_files = {p.name for p in (service.data_dir / "open").glob("*.open")}
    for pid in dead:
        assert not any(f"-{pid}-" in name for name in open_files), (pid, open_files)
    rows = query(service, "SELECT filename, state FROM warc_files")
    assert all(state == "sealed" for name, state in rows if any(f"-{pid}-" in name for pid in dead)), rows


def test_a_capture_that_kills_its_worker_every_time_stops_after_the_cap(service, hostile):
    capture_id = submit(service, hostile.url("/hang?always"))
    kills = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state_of(service, capture_id)[0] == "failed":
            break
        if hostile.seen.get("/hang?always", 0) > kills:    # the page is being fetched: it "kills"
            kills += 1
            kill(descendants(service.worker.pid))
        time.sleep(0.02)
    [(state, attempts, code)] = query(service, "SELECT state, attempts, error_code FROM captures "
                                               "WHERE id = :i", i=capture_id)
    assert (state, code) == ("failed", "gave_up"), service.log("worker")
    assert kills == 2 and attempts == 3        # ARCHIVER_MAX_ATTEMPTS=2 fetches, then it gives up


def test_redis_restarted_with_a_thousand_queued_all_finish_once(service, own_redis, fixture_site):
    assert service.stop_worker() == 0
    ids: list[int] = []
    for batch in range(10):
        urls = [fixture_site.url(f"/plain.txt?n={batch * 100 + i}") for i in range(100)]
        response = service.submit(urls=urls)
        assert response.status_code == 202, response.text
        ids += response.json()["ids"]
    own_redis.restart()             # every queued message is gone; the rows are not
    restart_worker(service)
    restarted_again, supervised = False, []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        rows = dict(query(service, "SELECT state, count(*) FROM captures WHERE id BETWEEN :a AND :b "
                                   "GROUP BY state", a=ids[0], b=ids[-1]))
        if rows.get("stored", 0) >= 300 and not restarted_again:
            own_redis.restart()     # again, while the worker is consuming
            restarted_again = True
        if rows.get("stored", 0) == len(ids):
            break
        if service.worker.poll() is not None:
            # kombu 5.7 can end the worker's main process when Redis goes away while it
            # acknowledges a task ("Unrecoverable error: ... 'hostname'"); deployments run
            # workers under a supervisor that starts them again (docs/deploy.md), as here
            supervised.append(service.worker.returncode)
            restart_worker(service)
        time.sleep(0.5)
    assert rows == {"stored": len(ids)}, (rows, supervised, service.log("worker"))
    assert restarted_again
    per_capture = query(service, "SELECT capture_id, count(*) FROM capture_records WHERE record_type = "
                                 "'response' AND capture_id BETWEEN :a AND :b GROUP BY capture_id",
                        a=ids[0], b=ids[-1])
    assert len(per_capture) == len(ids) and {n for _, n in per_capture} == {1}
    attempts = {n for (n,) in query(service, "SELECT attempts FROM captures WHERE id BETWEEN :a AND :b",
                                    a=ids[0], b=ids[-1])}
    assert attempts == {1}


def test_negative_control_without_acks_late_the_killed_capture_is_lost(tmp_path, own_redis, fixture_site,
                                                                       hostile):
    """The same kill as the first test, on a worker whose tasks are acknowledged when they
    start (and no reconciler): the capture is never finished. This is what acks_late and
    task_reject_on_worker_lost buy."""
    env = {**FAST, "ARCHIVER_ALLOW_PRIVATE": f"{fixture_site.allow},{hostile.allow}"}
    with live_service(tmp_path / "data", own_redis.url, fixture_site, extra_env=env) as svc:
        svc.stop_worker()
        with open(svc.logs / "worker.log", "wb") as log:
            svc.worker = subprocess.Popen(
                [BIN / "celery", "-A", "tests.celery_acks_early", "worker", "--queues",
                 svc.env["ARCHIVER_CAPTURE_QUEUE"], "--concurrency", "2", "--loglevel", "INFO"],
                env=svc.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        capture_id = submit(svc, hostile.url("/hang-once?control"))
        wait_until_requested(hostile, "/hang-once?control", timeout=90)
        kill(descendants(svc.worker.pid))
        time.sleep(float(FAST["ARCHIVER_TASK_TIME_LIMIT"]) * 2.5)      # well past the lease
        assert state_of(svc, capture_id) == ("fetching", 1)
        assert hostile.seen["/hang-once?control"] == 1
