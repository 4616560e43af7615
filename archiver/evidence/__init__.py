"""Evidence about captures: verification against the catalogue and the log, evidence
bundles (signed WACZ), PROV and PREMIS descriptions, `exported` events (docs/provenance.md).

    report = verify_capture(sessions, settings, storage, capture_id)   # Report: .ok, .checks
    package = bundle_tempfile(sessions, settings, storage, capture_id, agent)
    prov_document(capture, entries) / premis_xml(capture, entries)
    record_export(sessions, capture_ids, "wacz", agent)
"""
from archiver.evidence.bundle import bundle_tempfile, write_bundle
from archiver.evidence.exports import record_export
from archiver.evidence.premis import premis_xml
from archiver.evidence.prov import prov_document
from archiver.evidence.verify import UnknownCapture, verify_capture

__all__ = ["bundle_tempfile", "write_bundle", "record_export", "premis_xml", "prov_document",
           "verify_capture", "UnknownCapture"]
