"""Offline checks of an evidence bundle, each reported with pass or fail and the reason.

1. package: every file listed in datapackage.json with its sha256 and size, nothing unlisted;
   datapackage-digest.json's hash is datapackage.json's;
2. package signature (wacz-auth 0.1.0 anonymous signature, plus the archive's own, see
   signature.py);
3. records: every WARC record's block and payload digests recomputed (a digest that could
   not be checked fails);
4. log entries: each entry's leaf hash recomputed from its exact bytes;
5. records against the log: every record is the one the log's `stored`/`revisit` entry
   lists, with the same digests, and every record that entry lists is in the bundle;
6. inclusion proofs of the entries against the signed head;
7. the head's signature with the bundled key, and that key against a pinned one if given.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from archiver.ledger.keys import HeadSignatureError, TreeHead, load_public_key, verify_head
from archiver.ledger.merkle import ProofError, leaf_hash, verify_inclusion
from archiver.verifier import layout
from archiver.verifier.report import Report
from archiver.verifier.signature import SignatureError, check_signed_data, spki_der

CHUNK = 1024 * 1024
RECORD_EVENTS = ("stored", "revisit", "failed")      # the entries that list records (ledger/events.py)


class BundleUnreadable(ValueError):
    """The file is not a bundle at all (not a ZIP, or without its manifest)."""


def verify_bundle(path: str | Path, pinned_key_pem: bytes | None = None) -> Report:
    report = Report()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleUnreadable(f"{path} is not a readable ZIP/WACZ file: {exc}") from None
    with zf:
        names = set(zf.namelist())
        for required in (layout.DATAPACKAGE, layout.DIGEST):
            if required not in names:
                raise BundleUnreadable(f"{path} has no {required}: it is not a WACZ package")
        package = _json(zf, layout.DATAPACKAGE)
        _check_package(zf, names, package, report)
        bundled_key = _check_signature(zf, package, report)
        records = _check_records(zf, names, report)
        entries = _check_entries(zf, names, report)
        _check_records_against_log(package, records, entries, report)
        head = _check_head(zf, names, bundled_key, pinned_key_pem, report)
        _check_inclusion(zf, names, entries, head, report)
    return report


def _json(zf: zipfile.ZipFile, name: str):
    try:
        return json.loads(zf.read(name))
    except (KeyError, ValueError) as exc:
        raise BundleUnreadable(f"{name} cannot be read as JSON: {exc}") from None


def _sha256_of(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with zf.open(name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size


def _check_package(zf, names: set[str], package: dict, report: Report) -> None:
    problems = []
    listed = {}
    for resource in package.get("resources", []):
        listed[resource.get("path")] = resource
    for path, resource in sorted(listed.items()):
        if path not in names:
            problems.append(f"{path} is listed in datapackage.json but not in the package")
            continue
        try:
            actual, size = _sha256_of(zf, path)
        except (zipfile.BadZipFile, zlib.error, OSError) as exc:
            problems.append(f"{path} cannot be read from the ZIP: {exc}")
            continue
        if actual != resource.get("hash"):
            problems.append(f"{path} hashes to {actual}; datapackage.json lists {resource.get('hash')}")
        elif size != resource.get("bytes"):
            problems.append(f"{path} is {size} bytes; datapackage.json lists {resource.get('bytes')}")
    for extra in sorted(names - set(listed) - {layout.DATAPACKAGE, layout.DIGEST}):
        if not extra.endswith("/"):
            problems.append(f"{extra} is in the package but not listed in datapackage.json")
    digest = _json(zf, layout.DIGEST)
    actual = f"sha256:{hashlib.sha256(zf.read(layout.DATAPACKAGE)).hexdigest()}"
    if digest.get("hash") != actual:
        problems.append(f"datapackage.json hashes to {actual}; datapackage-digest.json says {digest.get('hash')}")
    report.judge("package hashes", problems, f"{len(listed)} files match datapackage.json, and it matches "
                                             "datapackage-digest.json")


def _check_signature(zf, package: dict, report: Report):
    digest = _json(zf, layout.DIGEST)
    actual = f"sha256:{hashlib.sha256(zf.read(layout.DATAPACKAGE)).hexdigest()}"   # not the digest file's word
    try:
        key = check_signed_data(digest.get("signedData"), actual, package.get("created", ""))
    except SignatureError as exc:
        report.failed("package signature", str(exc))
        return None
    report.passed("package signature", "datapackage.json's hash is signed (ECDSA P-384, wacz-auth 0.1.0) "
                                       "and countersigned by the archive's Ed25519 key")
    return key


def _block_digest(data: bytes) -> str | None:
    """sha256 of a record's block from the bytes of its gzip member."""
    raw = zlib.decompress(data, zlib.MAX_WBITS + 16)
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    headers = StatusAndHeadersParser(["WARC/1.1", "WARC/1.0"]).parse(io.BytesIO(raw[:end + 4]))
    size = int(headers.get_header("Content-Length") or 0)
    return "sha256:" + base64.b32encode(hashlib.sha256(raw[end + 4:end + 4 + size]).digest()).decode("ascii")


def _check_records(zf, names: set[str], report: Report) -> dict[str, dict]:
    """Every record's digests recomputed; returns {record id: its WARC digests}."""
    found: dict[str, dict] = {}
    problems: list[str] = []
    warcs = sorted(n for n in names if n.startswith(layout.ARCHIVE_PREFIX) and not n.endswith("/"))
    for name in warcs:
        data = zf.read(name)
        iterator = ArchiveIterator(io.BytesIO(data), check_digests=True)
        try:
            for record in iterator:
                headers = record.rec_headers
                rec_id = headers.get_header("WARC-Record-ID")
                label = f"{name}: {record.rec_type} record {rec_id}"
                while record.raw_stream.read(CHUNK):
                    pass
                block = headers.get_header("WARC-Block-Digest")
                payload = headers.get_header("WARC-Payload-Digest")
                found[rec_id] = {"type": record.rec_type, "block_digest": block, "payload_digest": payload}
                if not block:
                    problems.append(f"{label} has no WARC-Block-Digest")
                elif record.rec_type == "revisit":
                    member = data[iterator.get_record_offset():][:iterator.get_record_length()]
                    if not block.lower().startswith("sha256:"):
                        problems.append(f"{label}: its block digest could not be checked")
                    elif _block_digest(member) != block:
                        problems.append(f"{label}: its block digest does not match its bytes")
                else:
                    checker = record.digest_checker
                    if checker.problems:
                        problems.extend(f"{label}: {p}" for p in checker.problems)
                    elif checker.passed is not True:
                        problems.append(f"{label}: its digests could not be checked")
        except Exception as exc:  # noqa: BLE001  (a damaged file is a finding)
            problems.append(f"{name} cannot be read to its end: {type(exc).__name__}: {exc}")
    if not warcs:
        problems.append("the package holds no WARC file in archive/")
    report.judge("record digests", problems, f"{len(found)} records in {len(warcs)} WARC file(s): every block "
                                             "and payload digest recomputed and matching")
    return found


def _check_entries(zf, names: set[str], report: Report) -> list[dict]:
    """Each entry's leaf hash recomputed from its exact bytes; returns the entries with
    `_leaf` (bytes) and `_ok`."""
    if layout.ENTRIES not in names or layout.PROOFS not in names:
        report.failed("log entries", f"the package has no {layout.ENTRIES} or {layout.PROOFS}")
        return []
    proofs = {p.get("position"): p for p in _json(zf, layout.PROOFS).get("entries", [])}
    entries, problems = [], []
    for number, line in enumerate(zf.read(layout.ENTRIES).split(b"\n"), 1):
        if not line:
            continue
        leaf = leaf_hash(line)
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(f"line {number} of {layout.ENTRIES} is not JSON")
            continue
        entry["_leaf"] = leaf
        proof = proofs.get(entry.get("position"))
        if proof is None:
            problems.append(f"entry {entry.get('position')} has no proof in {layout.PROOFS}")
        elif proof.get("leaf_hash") != leaf.hex():
            problems.append(f"entry {entry.get('position')} ({entry.get('event')}) hashes to {leaf.hex()}, "
                            f"but its proof is for leaf {proof.get('leaf_hash')}: the entry was edited")
        entries.append(entry)
    if not entries:
        problems.append("the package holds no log entries")
    report.judge("log entries", problems, f"{len(entries)} entries; each one's leaf hash recomputed from its bytes")
    return entries


def _check_records_against_log(package: dict, records: dict[str, dict], entries: list[dict],
                               report: Report) -> None:
    listed: dict[str, dict] = {}
    problems = []
    captures = set(package.get("captures", []))
    recorded = {e.get("capture_id") for e in entries
                if e.get("event") in RECORD_EVENTS and "records" in e.get("details", {})}
    for capture_id in sorted(captures - recorded):
        problems.append(f"capture {capture_id} has no entry in the log that lists its records")
    for entry in entries:
        if entry.get("event") in RECORD_EVENTS:
            for rec in entry.get("details", {}).get("records", []):
                listed[rec.get("id")] = {**rec, "_capture": entry.get("capture_id")}
    for rec_id, found in records.items():
        logged = listed.get(rec_id)
        if logged is None:
            problems.append(f"the {found['type']} record {rec_id} is not in any stored/revisit entry of the log")
            continue
        for field in ("block_digest", "payload_digest"):
            if (logged.get(field) or None) != (found.get(field) or None):
                problems.append(f"record {rec_id}: its {field.replace('_', ' ')} is {found.get(field)}, "
                                f"the log recorded {logged.get(field)}")
    for rec_id, logged in listed.items():
        if logged["_capture"] in captures and rec_id not in records:
            problems.append(f"the log lists the {logged.get('type')} record {rec_id} of capture "
                            f"{logged['_capture']}, but it is not in the package")
    report.judge("records against the log", problems, f"all {len(records)} records are the ones the log recorded, "
                                                      "with the same digests")


def _check_head(zf, names: set[str], bundled_key, pinned_key_pem: bytes | None, report: Report):
    if layout.HEAD not in names or layout.PUBLIC_KEY not in names:
        report.failed("signed head", f"the package has no {layout.HEAD} or {layout.PUBLIC_KEY}")
        return None
    try:
        key = load_public_key(zf.read(layout.PUBLIC_KEY))
        head = TreeHead.from_json(_json(zf, layout.HEAD))
    except (ValueError, KeyError, TypeError) as exc:
        report.failed("signed head", f"the head or the public key cannot be read: {exc}")
        return None
    proofs_head = _json(zf, layout.PROOFS).get("head")
    problems = []
    try:
        verify_head(key, head)
    except HeadSignatureError as exc:
        problems.append(str(exc))
    if proofs_head != _json(zf, layout.HEAD):
        problems.append(f"{layout.PROOFS} names another head than {layout.HEAD}")
    if bundled_key is not None and spki_der(bundled_key) != spki_der(key):
        problems.append("the package was signed with another archive key than the one in "
                        f"{layout.PUBLIC_KEY}")
    if pinned_key_pem is not None:
        try:
            pinned = load_public_key(pinned_key_pem)
        except ValueError as exc:
            problems.append(f"the pinned public key cannot be read: {exc}")
        else:
            if spki_der(pinned) != spki_der(key):
                problems.append("the bundled public key is not the pinned one: this bundle was not "
                                "signed by the archive whose key you gave")
    if problems:
        report.failed("signed head", "; ".join(problems))
        return None
    pinned_note = ", which is the pinned key" if pinned_key_pem is not None else \
        " (not pinned: compare it with the archive's published key, or pass --public-key)"
    report.passed("signed head", f"the head of size {head.size} signed at {head.timestamp_ms} ms "
                                 f"checks with the bundled key{pinned_note}")
    return head


def _check_inclusion(zf, names: set[str], entries: list[dict], head, report: Report) -> None:
    if head is None or layout.PROOFS not in names:
        report.failed("inclusion proofs", "no trusted signed head to check the entries against")
        return
    proofs = {p.get("position"): p for p in _json(zf, layout.PROOFS).get("entries", [])}
    problems = []
    for entry in entries:
        position = entry.get("position")
        proof = proofs.get(position)
        if proof is None:
            problems.append(f"entry {position} has no inclusion proof")
            continue
        try:
            path = [bytes.fromhex(h) for h in proof.get("proof", [])]
            verify_inclusion(position, head.size, entry["_leaf"], path, head.root)
        except (ProofError, ValueError, TypeError) as exc:
            problems.append(f"entry {position} ({entry.get('event')}): {exc}")
    if not entries:
        problems.append("there are no entries to prove")
    report.judge("inclusion proofs", problems, f"all {len(entries)} entries are in the signed log of "
                                               f"{head.size} entries")
