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
    verify = sub.add_parser("verify", help="re-hash a capture's records and check them against the "
                                           "catalogue, the evidence log and a signed head (exit 1 on failure)")
    verify.add_argument("capture_id", type=int)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    bundle = sub.add_parser("bundle", help="write a capture's evidence bundle: a signed WACZ with its "
                                           "records, provenance, log entries, proofs, head and key")
    bundle.add_argument("capture_id", type=int)
    bundle.add_argument("-o", "--output", required=True, metavar="FILE.wacz")
    describe = sub.add_parser("describe", help="print a capture's provenance as W3C PROV-JSON or PREMIS 3 XML")
    describe.add_argument("capture_id", type=int)
    describe.add_argument("--as", dest="form", choices=("prov", "premis"), default="prov")


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

    storage = open_storage(settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    report = run_audit(_sessions(settings), storage, settings,
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


def cli_agent(settings: Settings) -> dict:
    """Who runs a command: the shell user on this host."""
    import getpass
    import socket
    from archiver.provenance import software_versions
    versions = software_versions()
    return {"kind": "cli", "user": getpass.getuser(), "host": settings.hostname or socket.gethostname(),
            "software": f"{versions['name']} {versions['version']}"}


def cmd_verify(settings: Settings, args) -> int:
    from archiver.evidence import UnknownCapture, verify_capture
    from storage import open_storage
    try:
        report = verify_capture(_sessions(settings), settings, open_storage(settings.storage_url), args.capture_id)
    except UnknownCapture as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"capture_id": args.capture_id, **report.to_json()}, indent=2))
    else:
        for check in report.checks:
            print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        print(f"capture {args.capture_id}: " + ("VERIFIED, every check passed" if report.ok
                                              else f"NOT VERIFIED, {len(report.failures())} check(s) failed"))
    return 0 if report.ok else 1


def cmd_bundle(settings: Settings, args) -> int:
    import os
    from pathlib import Path
    from archiver.evidence import write_bundle
    from archiver.export.wacz import ExportError
    from storage import open_storage
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with open(partial, "wb") as out:
            write_bundle(out, _sessions(settings), settings, open_storage(settings.storage_url),
                         args.capture_id, cli_agent(settings))
        partial.replace(target)
    except ExportError as exc:
        partial.unlink(missing_ok=True)
        print(f"archiver: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    print(f"{target}: evidence bundle of capture {args.capture_id} ({target.stat().st_size} bytes); "
          f"check it with: archiver-verify {target}")
    return 0


def cmd_describe(settings: Settings, args) -> int:
    from archiver.evidence.describe_capture import load_description
    found = load_description(_sessions(settings), args.capture_id)
    if found is None:
        print(f"archiver: no capture with id {args.capture_id}", file=sys.stderr)
        return 2
    capture, entries = found
    if args.form == "prov":
        from archiver.evidence import prov_document
        print(json.dumps(prov_document(capture, entries), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from archiver.evidence import premis_xml
        sys.stdout.write(premis_xml(capture, entries).decode("utf-8"))
    return 0
