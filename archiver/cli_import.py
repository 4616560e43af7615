"""`archiver import FILE...`: bring WARCs made by other tools into the archive (docs/import.md)."""
from __future__ import annotations

import sys
from pathlib import Path

from archiver.config import Settings


def add_parser(sub) -> None:
    parser = sub.add_parser("import", help="import WARC files made by wget, Heritrix, pywb, Browsertrix...")
    parser.add_argument("files", nargs="+", metavar="FILE", help=".warc.gz or .warc files")
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="who the provenance names as importer (default: cli:<your OS user>)")
    parser.add_argument("--note", help="why these are imported (default: 'imported from FILE')")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_import(settings: Settings, args) -> int:
    """Exit 0 when every file came in whole (or was in already); 1 when anything was skipped,
    a file is missing or an import failed; the other files are imported all the same."""
    from archiver.cli import _user
    from archiver.db import make_engine, make_session_factory, migrate
    from archiver.importer import import_warc
    from archiver.importer.progress import ProgressBar
    from storage import open_storage

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    storage = open_storage(settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    who = args.as_user or _user()
    clean = True
    try:
        for name in args.files:
            bar = None if args.quiet else ProgressBar(Path(name).name)
            try:
                report = import_warc(settings, sessions, storage, Path(name), imported_by=who,
                                     via="cli", note=args.note, progress=bar)
            finally:
                if bar is not None:
                    bar.close()
            clean = clean and report.ok
            _print_report(name, report)
    finally:
        engine.dispose()
    return 0 if clean else 1


def _print_report(name: str, report) -> None:
    out = sys.stdout if report.state == "done" else sys.stderr
    print(f"{name}: {report.message} (import {report.import_id})", file=out)
    if report.source_sha256:
        print(f"  source: {report.source_size} bytes, sha256 {report.source_sha256}")
    if report.warc_file:
        print(f"  kept as WARC file {report.warc_file}")
    if report.capture_ids:
        ids = report.capture_ids
        shown = ", ".join(map(str, ids[:20])) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")
        print(f"  captures: {shown}")
    for problem in report.problems:
        print(f"  skipped: {problem}", file=sys.stderr)
    sys.stdout.flush()
