"""Queues by kind of work: captures and maintenance, each a setting, routed by Celery, taken
by `archiver worker --queues KINDS` (both by default, as `make run` does)."""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import redis

from archiver.cli import _worker_argv, worker_queues
from archiver.config import ConfigError, Settings
from tests.conftest import REPO
from tests.live_service import BIN
from workers.app import (CAPTURE_TASKS, MAINTENANCE_TASKS, create_celery, send_capture, send_capture_batch,
                         visibility_timeout)


def settings_with(tmp_path, **env) -> Settings:
    return Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path), **env})


def test_queue_names_are_settings_and_must_differ(tmp_path):
    s = settings_with(tmp_path)
    assert (s.capture_queue, s.maintenance_queue) == ("capture", "maintenance")
    s = settings_with(tmp_path, ARCHIVER_CAPTURE_QUEUE="cap-1", ARCHIVER_MAINTENANCE_QUEUE="maint-1")
    assert (s.capture_queue, s.maintenance_queue) == ("cap-1", "maint-1")
    with pytest.raises(ConfigError, match="its own queue"):
        settings_with(tmp_path, ARCHIVER_MAINTENANCE_QUEUE="capture")
    with pytest.raises(ConfigError, match="queue name"):
        settings_with(tmp_path, ARCHIVER_MAINTENANCE_QUEUE="two words")


def test_worker_takes_both_kinds_by_default_with_the_concurrency_setting(tmp_path):
    s = settings_with(tmp_path, ARCHIVER_CAPTURE_QUEUE="c", ARCHIVER_MAINTENANCE_QUEUE="m",
                      ARCHIVER_WORKER_CONCURRENCY="7")
    argv = _worker_argv(s, None)           # what `archiver run` (make run) starts
    assert argv[argv.index("--queues") + 1] == "c,m"
    assert argv[argv.index("--concurrency") + 1] == "7"
    assert worker_queues(s, "maintenance") == ["m"] and worker_queues(s, "capture, capture") == ["c"]
    with pytest.raises(ValueError, match="capture, maintenance"):
        worker_queues(s, "fixity")


def test_prefetch_is_a_setting_with_bounds(tmp_path):
    assert create_celery(settings_with(tmp_path)).conf.worker_prefetch_multiplier == 2
    app = create_celery(settings_with(tmp_path, ARCHIVER_WORKER_PREFETCH="1"))
    assert app.conf.worker_prefetch_multiplier == 1
    with pytest.raises(ConfigError, match="ARCHIVER_WORKER_PREFETCH"):
        settings_with(tmp_path, ARCHIVER_WORKER_PREFETCH="0")


def test_visibility_timeout_outlasts_every_batch_a_process_holds(tmp_path):
    # a reserved batch may wait behind the running one, each up to its hard limit, before
    # it is acknowledged: Redis must not deliver it again to another worker meanwhile
    for prefetch in ("1", "2", "4"):
        s = settings_with(tmp_path, ARCHIVER_WORKER_PREFETCH=prefetch, ARCHIVER_CAPTURE_BATCH="20")
        timeout = create_celery(s).conf.broker_transport_options["visibility_timeout"]
        assert timeout == visibility_timeout(s)
        assert timeout > s.worker_prefetch * s.capture_batch * s.task_time_limit


def test_archiver_worker_refuses_an_unknown_kind(tmp_path):
    done = subprocess.run([BIN / "archiver", "worker", "--queues", "capture,reindexing"], cwd=REPO,
                          env={"ARCHIVER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--queues 'capture,reindexing'" in done.stderr


def test_tasks_reach_the_queue_of_their_kind_on_redis(tmp_path, redis_url):
    tag = uuid.uuid4().hex[:8]
    s = settings_with(tmp_path, ARCHIVER_BROKER_URL=redis_url, ARCHIVER_CAPTURE_QUEUE=f"cap-{tag}",
                      ARCHIVER_MAINTENANCE_QUEUE=f"maint-{tag}")
    app = create_celery(s)
    client = redis.Redis.from_url(redis_url)
    try:
        for name in MAINTENANCE_TASKS + CAPTURE_TASKS:
            app.send_task(name, args=[] if name in MAINTENANCE_TASKS else [1])
        send_capture(app, 2)
        send_capture_batch(app, [3, 4, 5])
        messages = {q: [json.loads(m)["headers"] for m in client.lrange(q, 0, -1)]
                    for q in (s.capture_queue, s.maintenance_queue)}
        sent = {q: [m["task"] for m in found] for q, found in messages.items()}
        assert sorted(sent[s.maintenance_queue]) == sorted(MAINTENANCE_TASKS)
        assert sorted(sent[s.capture_queue]) == sorted(CAPTURE_TASKS + ("archiver.capture", "archiver.capture_batch"))
        # a batch's time limits are the per-capture limits times its captures
        [batch] = [m for m in messages[s.capture_queue] if m["argsrepr"] == "[[3, 4, 5]]"]
        assert batch["timelimit"] == [3 * s.task_time_limit, 3 * s.task_soft_time_limit]
        # beat's periodic maintenance goes to the maintenance queue too
        queues = {entry["task"]: entry["options"]["queue"] for entry in app.conf.beat_schedule.values()}
        assert set(queues) <= set(MAINTENANCE_TASKS) and set(queues.values()) == {s.maintenance_queue}
    finally:
        client.delete(s.capture_queue, s.maintenance_queue)
        client.close()      # not app.pool: kombu's pools are shared by every app on this Redis
