"""`archiver-verify FILE.wacz [--public-key KEY.pem]`: check an evidence bundle offline.

Exit status 0 only when every check passes; 1 when one fails; 2 when the file cannot be
read as a bundle at all.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from archiver.verifier.bundle import BundleUnreadable, verify_bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="archiver-verify",
        description="Check an archiver evidence bundle (.wacz) without the archive: package hashes "
                    "and signature, every record's digests, the log entries, their inclusion proofs "
                    "and the signed tree head.")
    parser.add_argument("bundle", type=Path, help="the evidence bundle (.wacz)")
    parser.add_argument("--public-key", type=Path, metavar="KEY.pem",
                        help="the archive's public key as published (/api/v1/log/public-key): "
                             "refuse a bundle signed by any other key")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        pinned = args.public_key.read_bytes() if args.public_key else None
        report = verify_bundle(args.bundle, pinned)
    except (OSError, BundleUnreadable) as exc:
        print(f"archiver-verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for check in report.checks:
            print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        print("VERIFIED: every check passed" if report.ok
              else f"NOT VERIFIED: {len(report.failures())} check(s) failed")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
