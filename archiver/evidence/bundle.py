"""The evidence bundle of a capture: a WACZ package (archiver/export) that also holds the
capture's log entries with their inclusion proofs, the signed tree head they lead to, the
archive's public key, PROV and PREMIS descriptions, and a wacz-auth signature.

Made in this order, so the bundle proves its own making: the `exported` entry is appended,
a head covering it is signed, then the package is written and signed.
"""
from __future__ import annotations

import json
import os
import tempfile

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.evidence.exports import record_export
from archiver.evidence.premis import premis_xml
from archiver.evidence.prov import prov_document
from archiver.evidence.signing import load_or_create_package_key, signed_data
from archiver.export import PackageFile, WaczWriter, check_packable, load_captures
from archiver.export.wacz import ExportError
from archiver.ledger.keys import TreeHead, load_or_create_key, public_key_pem
from archiver.ledger.log import entry_bytes, leaf_hashes, sign_current_head
from archiver.ledger.merkle import inclusion_proof
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture
from archiver.verifier import layout
from storage import Storage


class BundleWriter(WaczWriter):
    def __init__(self, settings: Settings, storage: Storage, *, title: str, description: str,
                 entries: list[LedgerEntry], head: TreeHead, leaves: list[bytes], tmp_dir=None):
        super().__init__(settings, storage, title=title, description=description, tmp_dir=tmp_dir)
        self.entries, self.head, self.leaves = entries, head, leaves
        self.archive_key = load_or_create_key(settings.data_dir)
        self.package_key = load_or_create_package_key(settings.data_dir)

    def capture_files(self, capture: Capture) -> list[tuple[str, bytes]]:
        mine = [e for e in self.entries if e.capture_id == capture.id]
        prov = json.dumps(prov_document(capture, mine), indent=2, sort_keys=True, ensure_ascii=False)
        return [(f"provenance/capture-{capture.id}.prov.json", prov.encode("utf-8") + b"\n"),
                (f"provenance/capture-{capture.id}.premis.xml", premis_xml(capture, mine))]

    def package_files(self, summary) -> list[tuple[str, bytes]]:
        lines = b"".join(entry_bytes(e) + b"\n" for e in self.entries)
        head = self.head.to_json()
        proofs = {"head": head, "entries": [
            {"position": e.position, "event": e.event, "capture_id": e.capture_id,
             "leaf_hash": bytes(e.leaf_hash).hex(),
             "proof": [p.hex() for p in inclusion_proof(e.position, self.leaves)]} for e in self.entries]}
        return [(layout.ENTRIES, lines),
                (layout.PROOFS, json.dumps(proofs, indent=2).encode() + b"\n"),
                (layout.HEAD, json.dumps(head, indent=2).encode() + b"\n"),
                (layout.PUBLIC_KEY, public_key_pem(self.archive_key).encode("ascii"))]

    def sign(self, datapackage_hash: str, created: str) -> dict:
        return signed_data(datapackage_hash, created, self.package_key, self.archive_key)


def bundle_entries(session: Session, capture: Capture, head_size: int) -> list[LedgerEntry]:
    """The capture's entries within the head, and the `stored` entry of the capture a revisit
    refers to (its response record is in the bundle too)."""
    ids = [capture.id] + ([capture.revisit_of] if capture.revisit_of else [])
    rows = session.scalars(select(LedgerEntry).where(LedgerEntry.capture_id.in_(ids),
                                                     LedgerEntry.position < head_size)
                           .order_by(LedgerEntry.position)).all()
    return [e for e in rows if e.capture_id == capture.id or e.event in ("stored", "revisit")]


def write_bundle(out, sessions: sessionmaker[Session], settings: Settings, storage: Storage,
                 capture_id: int, agent: dict, tmp_dir=None) -> None:
    """Write the evidence bundle of a capture to `out`; raises NothingToPackage / ExportError."""
    with sessions() as session:
        found = load_captures(session, [capture_id])
        if not found:
            raise ExportError(f"no capture with id {capture_id}")
        capture = found[0]
        check_packable(capture)
    record_export(sessions, [capture_id], "bundle", agent, package=f"capture-{capture_id}-evidence.wacz")
    head = sign_current_head(sessions, load_or_create_key(settings.data_dir))
    with sessions() as session:
        entries = bundle_entries(session, capture, head.size)
        leaves = leaf_hashes(session, head.size)
        session.expunge_all()
    url = capture.final_url or capture.requested_url
    BundleWriter(settings, storage, title=f"Evidence bundle of capture {capture_id}: {capture.title or url}",
                 description=f"Capture {capture_id} of {url} made by archiver: its WARC records, provenance "
                             "(JSON, W3C PROV, PREMIS), its evidence-log entries with inclusion proofs, the "
                             "signed tree head and the archive's public key. Check it with archiver-verify.",
                 entries=entries, head=head, leaves=leaves, tmp_dir=tmp_dir).write(out, [capture])


def bundle_tempfile(sessions, settings: Settings, storage: Storage, capture_id: int, agent: dict) -> PackageFile:
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.TemporaryFile(dir=tmp_dir, prefix="bundle-", suffix=".wacz")
    try:
        write_bundle(handle, sessions, settings, storage, capture_id, agent, tmp_dir=tmp_dir)
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return PackageFile(handle, size, None)
