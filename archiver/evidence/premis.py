"""A capture in PREMIS 3 (https://www.loc.gov/standards/premis/v3/), as XML.

Objects: the capture (an intellectual entity) and each of its WARC records (a file, with
its block digest as fixity and its place in the WARC file as storage). Events: each
evidence-log entry of the capture. Agents: whoever the entries name, and the software.
Elements are written in the order the PREMIS 3.0 schema's sequences give.
"""
from __future__ import annotations

from lxml import etree

from archiver.evidence.describe import agent_key, agent_label, events, hex_digest, iso, software_label
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = "http://www.loc.gov/premis/v3 https://www.loc.gov/standards/premis/premis.xsd"
LOG_ID_TYPE = "archiver evidence-log position"
RECORD_ID_TYPE = "WARC-Record-ID"
CAPTURE_ID_TYPE = "archiver capture id"
AGENT_ID_TYPE = "archiver agent"
# our log events in the Library of Congress event type vocabulary (id.loc.gov/vocabulary/preservation/eventType)
EVENT_TYPES = {"submitted": "ingestion start", "fetched": "capture", "text_extracted": "metadata extraction",
               "stored": "message digest calculation", "revisit": "message digest calculation",
               "failed": "capture", "fixity_checked": "fixity check", "exported": "dissemination"}
FAILING = {"failed"}


def _el(parent, name: str, text: str | None = None, **attrs):
    node = etree.SubElement(parent, f"{{{PREMIS_NS}}}{name}", **attrs)
    if text is not None:
        node.text = str(text)
    return node


def _identifier(parent, element: str, kind: str, value: str):
    ident = _el(parent, element)
    prefix = element.replace("Identifier", "")
    # objectIdentifier -> objectIdentifierType/Value; linking ones likewise
    _el(ident, f"{prefix}IdentifierType", kind)
    _el(ident, f"{prefix}IdentifierValue", value)
    return ident


def premis_xml(capture: Capture, entries: list[LedgerEntry]) -> bytes:
    root = etree.Element(f"{{{PREMIS_NS}}}premis", nsmap={None: PREMIS_NS, "xsi": XSI_NS}, version="3.0")
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    xsi_type = f"{{{XSI_NS}}}type"
    ordered = events(entries)
    agents: dict[str, dict] = {}
    for entry in ordered:
        agents.setdefault(agent_key(entry.agent or {}), entry.agent or {})

    entity = _el(root, "object", **{xsi_type: "intellectualEntity"})
    _identifier(entity, "objectIdentifier", CAPTURE_ID_TYPE, str(capture.id))
    _el(entity, "originalName", capture.requested_url)
    for rec in capture.records:
        relationship = _el(entity, "relationship")
        _el(relationship, "relationshipType", "structural")
        _el(relationship, "relationshipSubType", "includes")
        _identifier(relationship, "relatedObjectIdentifier", RECORD_ID_TYPE, rec.record_id)
    for entry in ordered:
        _identifier(entity, "linkingEventIdentifier", LOG_ID_TYPE, str(entry.position))

    for rec in capture.records:
        obj = _el(root, "object", **{xsi_type: "file"})
        _identifier(obj, "objectIdentifier", RECORD_ID_TYPE, rec.record_id)
        chars = _el(obj, "objectCharacteristics")
        _el(chars, "compositionLevel", "0")
        digest = hex_digest(rec.block_digest)
        if digest:
            fixity = _el(chars, "fixity")
            _el(fixity, "messageDigestAlgorithm", "SHA-256")
            _el(fixity, "messageDigest", digest)
            _el(fixity, "messageDigestOriginator", "WARC-Block-Digest")
        fmt = _el(chars, "format")
        designation = _el(fmt, "formatDesignation")
        _el(designation, "formatName", f"WARC {rec.record_type} record")
        _el(designation, "formatVersion", "1.1")
        if rec.target_uri:
            _el(obj, "originalName", rec.target_uri)
        storage = _el(obj, "storage")
        location = _el(storage, "contentLocation")
        _el(location, "contentLocationType", "WARC file, gzip member offset and length")
        filename = rec.warc_file.filename if rec.warc_file else ""
        _el(location, "contentLocationValue", f"{filename}#offset={rec.offset}&length={rec.length}")
        relationship = _el(obj, "relationship")
        _el(relationship, "relationshipType", "structural")
        _el(relationship, "relationshipSubType", "is included in")
        _identifier(relationship, "relatedObjectIdentifier", CAPTURE_ID_TYPE, str(capture.id))

    for entry in ordered:
        event = _el(root, "event")
        _identifier(event, "eventIdentifier", LOG_ID_TYPE, str(entry.position))
        _el(event, "eventType", EVENT_TYPES.get(entry.event, entry.event))
        _el(event, "eventDateTime", iso(entry.recorded_at))
        detail = _el(event, "eventDetailInformation")
        _el(detail, "eventDetail", f"archiver log event {entry.event}; leaf hash {bytes(entry.leaf_hash).hex()}")
        outcome = _el(event, "eventOutcomeInformation")
        failed = entry.event in FAILING or (entry.details or {}).get("result") == "fail"
        _el(outcome, "eventOutcome", "failure" if failed else "success")
        _identifier(event, "linkingAgentIdentifier", AGENT_ID_TYPE, agent_key(entry.agent or {}))
        _identifier(event, "linkingObjectIdentifier", CAPTURE_ID_TYPE, str(capture.id))

    for key, agent in agents.items():
        node = _el(root, "agent")
        _identifier(node, "agentIdentifier", AGENT_ID_TYPE, key)
        _el(node, "agentName", agent_label(agent))
        _el(node, "agentType", "software" if agent.get("kind") in ("worker", "system") else "person"
            if agent.get("user") or agent.get("email") else "organization")
        if agent.get("software"):
            _el(node, "agentVersion", agent["software"])
    software = _el(root, "agent")
    _identifier(software, "agentIdentifier", AGENT_ID_TYPE, "software")
    _el(software, "agentName", software_label(capture))
    _el(software, "agentType", "software")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
