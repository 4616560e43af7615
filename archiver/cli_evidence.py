"""`archiver audit` and `archiver log ...`: fixity audits and the evidence log from the shell."""
from __future__ import annotations

import json
import sys

from archiver.config import Settings


def add_parser(sub) -> None:
    audit = sub.add_parser("audit", help="re-read every stored WARC file now and compare it with the "
                                         "catalogue (exit status 1 when anything fails)")
    audit.add_argument("--pace", type=float, default=None, metavar="MB_PER_S",
                       help="read at most this many MB per second (default: ARCHIVER_AUDIT_PACE_MBPS)")
    log = sub.add_parser("log", help="the evidence log: sign a head, check it, prove entries")
    actions = log.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    actions.add_parser("head", help="sign the log as it is now and print the head")
    actions.add_parser("check", help="re-hash every entry and check every signed head (exit 1 on tampering)")
    prove = actions.add_parser("prove", help="inclusion proof of an entry against the latest head")
    prove.add_argument("position", type=int)
    consistent = actions.add_parser("consistency", help="consistency proof from an earlier size to the latest head")
    consistent.add_argument("old_size", type=int)
    actions.add_parser("public-key", help="print the archive's public key (PEM)")


def _sessions(settings: Settings):
    from archiver.db import make_engine, make_session_factory
    return make_session_factory(make_engine(settings.database_url))


def cmd_audit(settings: Settings, args) -> int:
    from archiver.fixity import OK, run_audit
    from storage import open_storage
    pace = args.pace if args.pace is not None else settings.audit_pace_mbps
    width = 0

    def progress(done: int, total: int, result) -> None:
        nonlocal width
        line = f"[{done}/{total}] {result.status:<9} {result.key}"
        print(line, flush=True)
        for problem in result.problems[:10] if result.status != OK else []:
            print(f"      {problem}")

    report = run_audit(_sessions(settings), open_storage(settings.storage_url), settings,
                       pace_bytes=pace * 1_000_000 if pace else None, progress=progress)
    summary = report.summary()
    print(f"audit {summary['audit_id']}: {summary['files']} files, {summary['ok']} ok, "
          f"{summary['changed']} changed, {summary['missing']} missing, {summary['untracked']} untracked; "
          f"{summary['bytes_read'] / 1e6:.1f} MB read")
    return 0 if report.ok else 1


def cmd_log(settings: Settings, args) -> int:
    from archiver.ledger.keys import load_or_create_key, public_key_pem
    from archiver.ledger.log import check_log, consistency, inclusion, latest_head, sign_current_head
    key = load_or_create_key(settings.data_dir)
    sessions = _sessions(settings)
    if args.log_command == "public-key":
        print(public_key_pem(key), end="")
        return 0
    if args.log_command == "head":
        print(json.dumps(sign_current_head(sessions, key).to_json(), indent=2))
        return 0
    with sessions() as session:
        if args.log_command == "check":
            report = check_log(session, key.public_key())
            for problem in report.problems:
                print(f"TAMPERED: {problem}")
            print(f"{report.entries} entries, {report.heads} signed heads: "
                  + ("the log checks" if report.ok else f"{len(report.problems)} problems"))
            return 0 if report.ok else 1
        head = latest_head(session)
        if head is None:
            print("archiver: no signed head yet; run `archiver log head` first", file=sys.stderr)
            return 2
        try:
            if args.log_command == "prove":
                proof = inclusion(session, args.position, head)
                out = {"position": args.position, "head": head.to_json(), "proof": [p.hex() for p in proof]}
            else:
                proof = consistency(session, args.old_size, head)
                out = {"old_size": args.old_size, "head": head.to_json(), "proof": [p.hex() for p in proof]}
        except ValueError as exc:
            print(f"archiver: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(out, indent=2))
        return 0
