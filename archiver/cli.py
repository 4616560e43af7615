"""The `archiver` command: run the service's parts, and work from the shell."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import Sequence

from archiver import __version__
from archiver.config import ConfigError, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="archiver", description="A web archive with provenance.")
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("migrate", help="create or upgrade the catalogue schema")
    sub.add_parser("config", help="print the effective settings")
    web = sub.add_parser("web", help="serve the web app and API with gunicorn")
    web.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    web.add_argument("--threads", type=int, default=4, help="threads per worker process (default 4)")
    worker = sub.add_parser("worker", help="run a Celery worker (captures and maintenance)")
    worker.add_argument("--concurrency", type=int, help="default: ARCHIVER_WORKER_CONCURRENCY")
    worker.add_argument("--queues", default="capture,maintenance", metavar="KINDS",
                        help="kinds of work to take, comma-separated: capture (ARCHIVER_CAPTURE_QUEUE), "
                             "maintenance (ARCHIVER_MAINTENANCE_QUEUE); default both")
    sub.add_parser("scheduler", help="run the Celery beat scheduler")
    sub.add_parser("replay", help="serve replay (pywb, with Memento) on ARCHIVER_REPLAY_HOST:PORT")
    sub.add_parser("reindex", help="rebuild the replay index from the catalogue and WARC files")
    sub.add_parser("run", help="migrate, then run web app, worker, scheduler and replay together")
    capture = sub.add_parser("capture", help="capture URLs and show progress until they finish")
    capture.add_argument("urls", nargs="+", metavar="URL")
    capture.add_argument("--note", help="why these are captured")
    capture.add_argument("--mode", choices=("plain", "browser"),
                         help="plain: one HTTP fetch; browser: load the page in headless Chromium "
                              "(default: ARCHIVER_CAPTURE_MODE)")
    capture.add_argument("--no-wait", action="store_true", help="queue and return at once")
    capture.add_argument("--timeout", type=float, default=600, help="seconds to wait (default 600)")

    from archiver import cli_accounts, cli_evidence, cli_import, cli_watch
    cli_accounts.add_parser(sub)
    cli_watch.add_parser(sub)
    cli_evidence.add_parser(sub)
    cli_import.add_parser(sub)

    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"archiver: configuration error: {exc}", file=sys.stderr)
        return 2
    handler = {
        "migrate": cmd_migrate, "config": cmd_config, "web": cmd_web, "worker": cmd_worker,
        "scheduler": cmd_scheduler, "run": cmd_run, "capture": cmd_capture,
        "replay": cmd_replay, "reindex": cmd_reindex, "watch": cli_watch.cmd_watch,
        "create-admin": cli_accounts.cmd_create_admin, "user": cli_accounts.cmd_user,
        "token": cli_accounts.cmd_token,
        "audit": cli_evidence.cmd_audit, "log": cli_evidence.cmd_log,
        "verify": cli_evidence.cmd_verify, "bundle": cli_evidence.cmd_bundle,
        "describe": cli_evidence.cmd_describe, "import": cli_import.cmd_import,
    }[args.command]
    return handler(settings, args)


def cmd_migrate(settings: Settings, _args) -> int:
    from archiver.db import migrate
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    print(f"catalogue is up to date ({_safe_url(settings.database_url)})")
    return 0


def cmd_config(settings: Settings, _args) -> int:
    for name, value in sorted(vars(settings).items()):
        if name == "secret_key":
            value = "(set)" if value else "(unset)"
        elif name == "database_url":
            value = _safe_url(value)
        print(f"{name} = {value}")
    return 0


def _web_argv(settings: Settings, workers: int, threads: int = 4) -> list[str]:
    # threaded workers: a browser opens spare connections it may never send a request on
    # (preconnect); a sync worker waits on such a socket and serves nobody meanwhile
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads),
            "--bind", f"{settings.host}:{settings.port}", "--access-logfile", "-",
            "archiver.web.wsgi:app"]


def worker_queues(settings: Settings, kinds: str = "capture,maintenance") -> list[str]:
    """The Celery queue names for `kinds` ("capture", "maintenance"); ValueError if unknown."""
    names = {"capture": settings.capture_queue, "maintenance": settings.maintenance_queue}
    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in names]
    if unknown or not wanted:
        raise ValueError(f"--queues {kinds!r}: use capture, maintenance or both (comma-separated)")
    return [names[k] for k in dict.fromkeys(wanted)]


def _worker_argv(settings: Settings, concurrency: int | None,
                 kinds: str = "capture,maintenance") -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
            "--queues", ",".join(worker_queues(settings, kinds)), "--loglevel", "INFO",
            "--concurrency", str(concurrency or settings.worker_concurrency),
            "--hostname", f"archiver-{os.getpid()}@%h"]


def _scheduler_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "--loglevel", "INFO",
            "--schedule", str(settings.data_dir / "celerybeat-schedule")]


def cmd_web(settings: Settings, args) -> int:
    os.execv(sys.executable, _web_argv(settings, args.workers, args.threads))


def _worker_env(settings: Settings) -> dict[str, str]:
    """The worker's environment: this one, with its memory allocator (archiver/allocator.py)."""
    from archiver.allocator import describe, with_allocator
    print(f"archiver: worker {describe(settings.worker_allocator)}", file=sys.stderr, flush=True)
    return with_allocator(os.environ, settings.worker_allocator)


def cmd_worker(settings: Settings, args) -> int:
    try:
        argv = _worker_argv(settings, args.concurrency, args.queues)
    except ValueError as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    os.execve(sys.executable, argv, _worker_env(settings))


def cmd_scheduler(settings: Settings, _args) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.execv(sys.executable, _scheduler_argv(settings))


def cmd_replay(settings: Settings, _args) -> int:
    from archiver.replay.server import PywbMissing, replay_argv, replay_env
    try:
        argv = replay_argv(settings)
    except PywbMissing as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    os.execve(argv[0], argv, replay_env(settings=settings))


def cmd_reindex(settings: Settings, _args) -> int:
    from archiver.db import make_engine, make_session_factory
    from archiver.replay import rebuild_index
    from storage import open_storage
    sessions = make_session_factory(make_engine(settings.database_url))
    storage = open_storage(settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    lines = rebuild_index(settings, sessions, storage)
    print(f"replay index rebuilt: {lines} lines")
    return 0


def cmd_run(settings: Settings, args) -> int:
    """Everything on one machine, for a first look: stops all parts on Ctrl-C."""
    from archiver.replay import replay_origin
    from archiver.replay.server import PywbMissing, replay_argv, replay_env
    try:
        replay = replay_argv(settings)
    except PywbMissing as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    cmd_migrate(settings, args)
    _admin_hint(settings)
    parts = {
        "web": _web_argv(settings, 2),
        "worker": _worker_argv(settings, None),    # both queues, ARCHIVER_WORKER_CONCURRENCY
        "scheduler": _scheduler_argv(settings),
    }
    envs = {"worker": _worker_env(settings)}
    procs = {name: subprocess.Popen(argv, env=envs.get(name)) for name, argv in parts.items()}
    procs["replay"] = subprocess.Popen(replay, env=replay_env(settings=settings))
    print(f"\narchiver is running at http://{settings.host}:{settings.port}/ "
          f"(replay at {replay_origin(settings)}/web/; "
          f"data in {settings.data_dir}); press Ctrl-C to stop.\n", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"archiver: the {name} process stopped (exit {proc.returncode}); "
                      "stopping the others", file=sys.stderr)
                exit_code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return exit_code


def _admin_hint(settings: Settings) -> None:
    from archiver.accounts.service import has_admin
    from archiver.db import make_engine, make_session_factory
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        if not has_admin(session):
            print("\nNo admin account yet: create one with\n"
                  "    .venv/bin/archiver create-admin you@example.org\n"
                  f"(visitors who are not logged in act as: {settings.anonymous_role}; "
                  "ARCHIVER_ANONYMOUS_ROLE)", flush=True)
    engine.dispose()


def cmd_capture(settings: Settings, args) -> int:
    from archiver.db import make_engine, make_session_factory, migrate
    from archiver.models import FINAL_STATES, STORED, Capture
    from archiver.submissions import SubmissionError, Submitter, submit_captures
    from workers.app import create_celery, send_capture, send_capture_batch

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    sessions = make_session_factory(make_engine(settings.database_url))
    celery = create_celery(settings)
    try:
        captures = submit_captures(sessions, args.urls, args.note,
                                   Submitter(source="cli", submitted_by=_user()),
                                   enqueue=lambda cid: send_capture(celery, cid),
                                   enqueue_batch=lambda ids: send_capture_batch(celery, ids),
                                   batch_size=settings.capture_batch,
                                   max_urls=settings.max_urls_per_submission,
                                   mode=args.mode or settings.capture_mode)
    except SubmissionError as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    for c in captures:
        print(f"capture {c.id}: {c.state} {c.requested_url}")
    if args.no_wait:
        return 0
    ids = [c.id for c in captures]
    seen: dict[int, str] = {c.id: c.state for c in captures}
    deadline = time.monotonic() + args.timeout
    final: dict[int, Capture] = {}
    while time.monotonic() < deadline:
        with sessions() as session:
            rows = {c.id: c for c in session.query(Capture).filter(Capture.id.in_(ids))}
        for cid in ids:
            row = rows[cid]
            if seen.get(cid) != row.state:
                seen[cid] = row.state
                detail = ""
                if row.state == STORED:
                    detail = f" {row.http_status} {row.payload_size or 0} bytes {row.title or ''}"
                elif row.error:
                    detail = f" {row.error_code}: {row.error}"
                print(f"capture {cid}: {row.state}{detail}", flush=True)
            if row.state in FINAL_STATES:
                final[cid] = row
        if len(final) == len(ids):
            break
        time.sleep(0.5)
    else:
        pending = [cid for cid in ids if cid not in final]
        print(f"archiver: still not finished after {args.timeout:.0f} s: captures {pending}. "
              "Is a worker running? Start one with `archiver worker` (or `make run`).",
              file=sys.stderr)
        return 3
    stored = sum(1 for c in final.values() if c.state == STORED)
    print(f"{stored} of {len(ids)} captures stored")
    return 0 if stored == len(ids) else 1


def _user() -> str:
    try:
        import getpass
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


if __name__ == "__main__":
    sys.exit(main())
