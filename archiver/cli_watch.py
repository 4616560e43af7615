"""`archiver watch ...`: watches from the shell (add, list, pause, resume, edit, delete,
import, export). The same service functions as the web UI and the API."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from archiver.config import Settings


def add_parser(sub) -> None:
    watch = sub.add_parser("watch", help="watched URLs, recaptured on a schedule (docs/watches.md)")
    actions = watch.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="watch a URL")
    add.add_argument("url")
    add.add_argument("--cron", required=True, help="e.g. '0 */6 * * *' (a 6th field is seconds)")
    _field_options(add)

    actions.add_parser("list", help="every watch, its next run and last result")
    for name, text in (("pause", "stop running a watch"), ("resume", "run it again (clears a flag)"),
                       ("delete", "delete a watch (its captures stay)")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int)
    edit = actions.add_parser("edit", help="change a watch's fields")
    edit.add_argument("id", type=int)
    edit.add_argument("--url")
    edit.add_argument("--cron")
    _field_options(edit)

    imp = actions.add_parser("import", help="add or update watches from a watch list file")
    imp.add_argument("file", help="a watch list (see seeds/news.watches); '-' reads stdin")
    exp = actions.add_parser("export", help="write every watch as a watch list")
    exp.add_argument("file", nargs="?", default="-", help="default: stdout")


def _field_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tz", dest="timezone", help="IANA time zone of the schedule (default UTC)")
    parser.add_argument("--note")
    parser.add_argument("--owner", help="default: cli:USER when adding")
    parser.add_argument("--webhook", dest="webhook_url", help="URL for change alerts ('' removes it)")
    parser.add_argument("--mode", choices=("plain", "browser"),
                        help="how each run captures (default: ARCHIVER_CAPTURE_MODE at each run)")
    robots = parser.add_mutually_exclusive_group()
    robots.add_argument("--robots", dest="respect_robots", action="store_true", default=None,
                        help="honour robots.txt (the default for new watches)")
    robots.add_argument("--no-robots", dest="respect_robots", action="store_false")
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--paused", dest="enabled", action="store_false", default=None)
    state.add_argument("--enabled", dest="enabled", action="store_true")


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:   # noqa: BLE001 - no user name in some containers
        return "cli"


def _fields(args) -> dict:
    names = ("url", "cron", "timezone", "note", "owner", "webhook_url", "respect_robots", "enabled",
             "mode")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def cmd_watch(settings: Settings, args) -> int:
    from archiver.db import make_engine, make_session_factory, migrate, transaction
    from archiver.models import Watch
    from archiver.watches import (WatchError, WatchListError, create_watch, delete_watch,
                                  export_list, import_list, update_watch, watches)

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    sessions = make_session_factory(make_engine(settings.database_url))
    try:
        if args.action == "list":
            with sessions() as session:
                rows = watches(session)
            for w in rows:
                print(describe(w))
            if not rows:
                print("no watches; add one with `archiver watch add URL --cron '0 * * * *'`")
            return 0
        if args.action == "export":
            with sessions() as session:
                text = export_list(session)
            if args.file == "-":
                sys.stdout.write(text)
            else:
                Path(args.file).write_text(text, encoding="utf-8")
                print(f"{text.count(chr(10)) - 2} watches written to {args.file}")
            return 0
        if args.action == "import":
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
            with transaction(sessions) as session:
                report = import_list(session, text, owner=_user())
            print(f"{len(report.added)} watches added, {len(report.updated)} updated")
            return 0
        if args.action == "add":
            fields = _fields(args)
            fields.setdefault("owner", _user())
            with transaction(sessions) as session:
                watch = create_watch(session, fields)
                print(describe(watch))
                if watch.webhook_secret:
                    print(f"webhook secret (keep it to check signatures): {watch.webhook_secret}")
            return 0
        with transaction(sessions) as session:
            watch = session.get(Watch, args.id)
            if watch is None:
                print(f"archiver: no watch with id {args.id}", file=sys.stderr)
                return 1
            if args.action == "delete":
                delete_watch(session, watch)
                print(f"watch {args.id} deleted")
                return 0
            changes = {"pause": {"enabled": False}, "resume": {"enabled": True}}.get(args.action)
            update_watch(session, watch, changes if changes is not None else _fields(args))
            print(describe(watch))
        return 0
    except (WatchError, WatchListError) as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    finally:
        sessions.kw["bind"].dispose()


def describe(w) -> str:
    if w.flagged:
        state = f"FLAGGED ({w.flag_reason})"
    elif not w.enabled:
        state = "paused"
    else:
        state = f"next {w.next_run_at:%Y-%m-%d %H:%M:%S} UTC" if w.next_run_at else "active"
    last = f", last {w.last_result} (capture {w.last_capture_id})" if w.last_result else ""
    return f"watch {w.id}: {w.url}  [{w.cron}] {w.timezone}  {state}{last}"
