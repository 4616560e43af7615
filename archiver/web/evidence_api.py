"""The evidence log and a capture's evidence over HTTP (docs/provenance.md):

    GET /api/v1/log/public-key                   the archive's Ed25519 key, PEM (stable URL)
    GET /api/v1/log/head                         the latest signed tree head
    GET /api/v1/log/entries/<position>           an entry, with its inclusion proof against the latest head
    GET /api/v1/log/consistency?from=N&to=M      consistency proof between two signed heads
    GET /api/v1/captures/<id>/verify             re-hash and check the capture (archiver.evidence.verify)
    GET /api/v1/captures/<id>/bundle             its evidence bundle (a signed WACZ)
    GET /api/v1/captures/<id>/prov               W3C PROV-JSON
    GET /api/v1/captures/<id>/premis             PREMIS 3 XML
    GET /api/v1/records/describedby?file=F&offset=O&then=provenance|verify
                                                 from a memento's WARC record to its capture's evidence
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, g, jsonify, redirect, request, url_for
from sqlalchemy import select

from archiver.evidence import bundle_tempfile, premis_xml, prov_document, verify_capture
from archiver.evidence.describe_capture import load_description
from archiver.ledger.keys import TreeHead, load_or_create_key, public_key_pem
from archiver.ledger.log import consistency, entry_bytes, inclusion, latest_head
from archiver.ledger.models import LedgerEntry, LedgerHead
from archiver.models import CaptureRecord, WarcFile
from archiver.web import MAX_ROW_ID, services
from archiver.web.api import _load, load_packable, wacz_response
from archiver.web.downloads import requester_agent

bp = Blueprint("evidence_api", __name__, url_prefix="/api/v1")

PEM_TYPE = "application/x-pem-file"


def _may_see(session, capture_id: int | None) -> bool:
    viewer = g.get("viewer")
    if capture_id is None or viewer is None:
        return True
    from archiver.accounts import visibility
    return visibility.may_see(session, viewer, capture_id)


@bp.get("/log/public-key")
def log_public_key():
    key = load_or_create_key(services().settings.data_dir)
    return Response(public_key_pem(key), mimetype=PEM_TYPE,
                    headers={"Content-Disposition": 'inline; filename="archiver-log-ed25519.pem"'})


def _latest_head() -> TreeHead:
    with services().sessions() as session:
        head = latest_head(session)
    if head is None:
        abort(404, description="the log has no signed head yet (the scheduler signs one every minute; "
                               "`archiver log head` signs one now)")
    return head


@bp.get("/log/head")
def log_head():
    return jsonify(_latest_head().to_json())


@bp.get(f"/log/entries/<int(max={MAX_ROW_ID}):position>")
def log_entry(position: int):
    with services().sessions() as session:
        entry = session.get(LedgerEntry, position)
        if entry is None:
            abort(404, description=f"the log has no entry {position}")
        head = latest_head(session)
        body = {"position": entry.position, "event": entry.event, "capture_id": entry.capture_id,
                "leaf_hash": bytes(entry.leaf_hash).hex()}
        if _may_see(session, entry.capture_id):
            body.update(recorded_at=entry.recorded_at.isoformat(), agent=entry.agent, details=entry.details,
                        # the exact bytes the leaf hash covers: SHA-256(0x00 || canonical)
                        canonical=entry_bytes(entry).decode("utf-8"))
        else:
            body["withheld"] = "the capture is not public: only its leaf hash and proof are shown"
        if head is not None and position < head.size:
            body["inclusion"] = {"head": head.to_json(),
                                 "proof": [p.hex() for p in inclusion(session, position, head)]}
        else:
            body["inclusion"] = None
            body["detail"] = "no signed head covers this entry yet; ask again after the next head"
    return jsonify(body)


def _size_arg(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=f"{name} must be the size of a signed head (a whole number), "
                               "e.g. ?from=10&to=20")
    return int(raw)


def _head_of_size(session, size: int) -> TreeHead:
    row = session.scalars(select(LedgerHead).where(LedgerHead.size == size).order_by(LedgerHead.id.desc())).first()
    if row is None:
        abort(404, description=f"no signed head has size {size}")
    return TreeHead(row.size, bytes(row.root), row.timestamp_ms, bytes(row.signature))


@bp.get("/log/consistency")
def log_consistency():
    old_size, new_size = _size_arg("from"), _size_arg("to")
    if old_size > new_size:
        abort(400, description=f"from ({old_size}) must not be larger than to ({new_size})")
    with services().sessions() as session:
        old, new = _head_of_size(session, old_size), _head_of_size(session, new_size)
        proof = consistency(session, old.size, new)
    return jsonify({"from": old.to_json(), "to": new.to_json(), "proof": [p.hex() for p in proof]})


@bp.get("/captures/<id:capture_id>/verify")
def capture_verify(capture_id: int):
    _load(capture_id)                                  # 404 when unknown or hidden from the viewer
    svc = services()
    report = verify_capture(svc.sessions, svc.settings, svc.storage, capture_id)
    return jsonify({"capture_id": capture_id, **report.to_json()})


@bp.get("/captures/<id:capture_id>/bundle")
def capture_bundle(capture_id: int):
    load_packable(capture_id)
    svc = services()
    package = bundle_tempfile(svc.sessions, svc.settings, svc.storage, capture_id, requester_agent())
    return wacz_response(package, f"capture-{capture_id}-evidence.wacz")


def _description(capture_id: int):
    _load(capture_id)
    found = load_description(services().sessions, capture_id)
    if found is None:
        abort(404, description=f"no capture with id {capture_id}")
    return found


@bp.get("/captures/<id:capture_id>/prov")
def capture_prov(capture_id: int):
    capture, entries = _description(capture_id)
    body = json.dumps(prov_document(capture, entries), indent=2, sort_keys=True, ensure_ascii=False)
    return Response(body + "\n", mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="capture-{capture_id}.prov.json"'})


@bp.get("/captures/<id:capture_id>/premis")
def capture_premis(capture_id: int):
    capture, entries = _description(capture_id)
    return Response(premis_xml(capture, entries), mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="capture-{capture_id}.premis.xml"'})


DESCRIBED = {"provenance": "api.get_provenance", "verify": "evidence_api.capture_verify",
             "bundle": "evidence_api.capture_bundle", "prov": "evidence_api.capture_prov",
             "premis": "evidence_api.capture_premis"}


@bp.get("/records/describedby")
def record_describedby():
    """A memento's evidence: replay knows the WARC file and offset of what it serves, the
    catalogue knows whose record that is."""
    filename, offset = request.args.get("file", ""), request.args.get("offset", "")
    then = request.args.get("then")
    if not filename or not offset.isdigit() or len(offset) > 18 or (then and then not in DESCRIBED):
        abort(400, description="give file=<WARC file name>&offset=<record offset>, and optionally "
                               f"then={'|'.join(DESCRIBED)}")
    with services().sessions() as session:
        rec = session.scalars(select(CaptureRecord).join(WarcFile).where(
            WarcFile.filename == filename, CaptureRecord.offset == int(offset))).first()
        capture_id = rec.capture_id if rec else None
        if rec is None or not _may_see(session, capture_id):
            abort(404, description=f"no archived record at offset {offset} of {filename}")
        record = {"record_id": rec.record_id, "type": rec.record_type, "target_uri": rec.target_uri,
                  "block_digest": rec.block_digest, "payload_digest": rec.payload_digest}
    links = {name: url_for(endpoint, capture_id=capture_id) for name, endpoint in DESCRIBED.items()}
    if then:
        return redirect(links[then], code=302)
    return jsonify({"capture_id": capture_id, "record": record, "links": links})
