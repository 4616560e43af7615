"""The evidence log and a capture's evidence over HTTP: public key, signed heads, entries
with inclusion proofs, consistency proofs, verification, bundles, PROV and PREMIS, and the
`exported` entries downloads leave in the log."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, update

from archiver.capture import run_capture
from archiver.db import transaction
from archiver.ledger import verify_consistency, verify_inclusion
from archiver.ledger.keys import TreeHead, load_or_create_key, load_public_key, verify_head
from archiver.ledger.log import sign_current_head
from archiver.ledger.merkle import leaf_hash
from archiver.ledger.models import LedgerEntry
from archiver.models import CaptureRecord
from archiver.submissions import Submitter, submit_captures
from archiver.web import create_app
from tests.premis_schema import premis_schema

BIN = Path(sys.executable).parent
PREMIS = "{http://www.loc.gov/premis/v3}"


@pytest.fixture
def client(ctx):
    return create_app(ctx.settings).test_client()


@pytest.fixture
def stored(ctx, fixture_site):
    [row] = submit_captures(ctx.sessions, [fixture_site.url("/article")], "for the file",
                            Submitter("cli", "tester"), lambda _id: None)
    run_capture(ctx, row.id, task_id="evidence-api-test")
    ctx.writer.close()
    return row.id


def sign(ctx):
    return sign_current_head(ctx.sessions, load_or_create_key(ctx.settings.data_dir))


def exported(ctx, capture_id):
    with ctx.sessions() as session:
        return [e for e in session.scalars(select(LedgerEntry).where(
            LedgerEntry.capture_id == capture_id, LedgerEntry.event == "exported")
            .order_by(LedgerEntry.position))]


def test_public_key_and_head_verify_each_other(ctx, client, stored):
    assert client.get("/api/v1/log/head").status_code == 404          # nothing signed yet
    sign(ctx)
    pem = client.get("/api/v1/log/public-key")
    assert pem.status_code == 200 and pem.mimetype == "application/x-pem-file"
    head = client.get("/api/v1/log/head").get_json()
    verify_head(load_public_key(pem.data), TreeHead.from_json(head))
    assert head["size"] == 4                           # submitted, fetched, text_extracted, stored


def test_an_entry_comes_with_an_inclusion_proof_against_the_latest_head(ctx, client, stored):
    before = client.get("/api/v1/log/entries/3").get_json()
    assert before["event"] == "stored" and before["inclusion"] is None
    head = sign(ctx)
    body = client.get("/api/v1/log/entries/3").get_json()
    leaf = leaf_hash(body["canonical"].encode("utf-8"))
    assert leaf.hex() == body["leaf_hash"]
    assert json.loads(body["canonical"])["details"] == body["details"]
    proof = [bytes.fromhex(p) for p in body["inclusion"]["proof"]]
    verify_inclusion(3, head.size, leaf, proof, bytes.fromhex(body["inclusion"]["head"]["root"]))
    assert client.get("/api/v1/log/entries/99").status_code == 404
    assert client.get("/api/v1/log/entries/-1").status_code == 404


def test_consistency_between_two_signed_heads(ctx, client, stored, fixture_site):
    old = sign(ctx)
    [row] = submit_captures(ctx.sessions, [fixture_site.url("/plain.txt")], None, Submitter("cli", "t"),
                            lambda _id: None)
    run_capture(ctx, row.id, task_id="evidence-api-test")
    new = sign(ctx)
    body = client.get(f"/api/v1/log/consistency?from={old.size}&to={new.size}").get_json()
    verify_consistency(old.size, new.size, bytes.fromhex(body["from"]["root"]),
                       bytes.fromhex(body["to"]["root"]), [bytes.fromhex(p) for p in body["proof"]])
    assert client.get(f"/api/v1/log/consistency?from={new.size}&to={old.size}").status_code == 400
    assert client.get(f"/api/v1/log/consistency?from=1&to={new.size}").status_code == 404
    assert client.get("/api/v1/log/consistency?from=x&to=1").status_code == 400


def test_verify_endpoint_passes_then_names_the_tampered_check(ctx, client, stored):
    good = client.get(f"/api/v1/captures/{stored}/verify").get_json()
    assert good["ok"] and {c["result"] for c in good["checks"]} == {"pass"}, good
    with transaction(ctx.sessions) as session:
        session.execute(update(CaptureRecord).where(CaptureRecord.capture_id == stored,
                                                    CaptureRecord.record_type == "metadata")
                        .values(block_digest="sha256:" + "D" * 52))
    bad = client.get(f"/api/v1/captures/{stored}/verify").get_json()
    assert not bad["ok"]
    assert [c["check"] for c in bad["checks"] if c["result"] == "fail"] == ["records against the catalogue"]
    assert client.get("/api/v1/captures/999/verify").status_code == 404


def test_bundle_download_verifies_offline_and_is_logged(ctx, client, stored, tmp_path):
    response = client.get(f"/api/v1/captures/{stored}/bundle", environ_base={"REMOTE_ADDR": "127.0.0.9"})
    assert response.status_code == 200
    assert f"capture-{stored}-evidence.wacz" in response.headers["Content-Disposition"]
    path = tmp_path / "bundle.wacz"
    path.write_bytes(response.data)
    response.close()
    result = subprocess.run([BIN / "archiver-verify", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [entry] = exported(ctx, stored)
    assert entry.details["format"] == "bundle" and entry.agent["remote_addr"] == "127.0.0.9"


def test_warc_and_wacz_downloads_leave_exported_entries_but_range_reads_do_not(ctx, client, stored):
    client.get(f"/api/v1/captures/{stored}/warc").close()
    client.get(f"/api/v1/captures/{stored}/wacz").close()
    client.get(f"/api/v1/captures/{stored}/wacz", headers={"Range": "bytes=0-99"}).close()
    client.get("/api/v1/search.wacz?q=Fixture").close()
    formats = [(e.details["format"], e.details["package"].split("-")[0]) for e in exported(ctx, stored)]
    assert formats == [("warc", "capture"), ("wacz", "capture"), ("wacz", "search")]
    assert all(e.agent.get("remote_addr") == "127.0.0.1" for e in exported(ctx, stored))


def test_prov_json_is_read_by_the_prov_library(client, stored):
    from prov.model import ProvDocument
    response = client.get(f"/api/v1/captures/{stored}/prov")
    assert response.status_code == 200
    document = ProvDocument.deserialize(content=response.data.decode("utf-8"), format="json")
    names = {str(r.identifier) for r in document.get_records() if r.identifier}
    assert f"archiver:capture-{stored}" in names
    kinds = {type(r).__name__ for r in document.get_records()}
    assert {"ProvEntity", "ProvActivity", "ProvAgent", "ProvGeneration", "ProvAssociation",
            "ProvMembership", "ProvAttribution"} <= kinds
    with pytest.raises(Exception):                    # the library is not lenient: garbage is refused
        ProvDocument.deserialize(content='{"entity": {"no-prefix:x": {}}}', format="json")
    assert "document" in document.serialize(format="provn")


def test_premis_is_valid_against_the_premis_3_schema(client, stored):
    schema = premis_schema()
    response = client.get(f"/api/v1/captures/{stored}/premis")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = etree.fromstring(response.data)
    assert root.tag == f"{PREMIS}premis" and root.get("version") == "3.0"
    assert schema.validate(root), [str(e) for e in schema.error_log]
    # the check is not vacuous: an element out of schema order is refused
    event = root.find(f"{PREMIS}event")
    event.append(event.find(f"{PREMIS}eventType"))
    assert not schema.validate(root)
    assert "eventType" in str(schema.error_log)
    root = etree.fromstring(response.data)
    for when in root.iter(f"{PREMIS}eventDateTime"):
        datetime.fromisoformat(when.text)
    events = {e.findtext(f"{PREMIS}eventIdentifier/{PREMIS}eventIdentifierValue") for e in root.iter(f"{PREMIS}event")}
    linked = {e.findtext(f"{PREMIS}linkingEventIdentifierValue") for e in root.iter(f"{PREMIS}linkingEventIdentifier")}
    assert linked and linked <= events
    agents = {a.findtext(f"{PREMIS}agentIdentifier/{PREMIS}agentIdentifierValue") for a in root.iter(f"{PREMIS}agent")}
    assert {a.findtext(f"{PREMIS}linkingAgentIdentifierValue") for a in root.iter(f"{PREMIS}linkingAgentIdentifier")} <= agents
    fixities = [f.findtext(f"{PREMIS}messageDigest") for f in root.iter(f"{PREMIS}fixity")]
    with client.application.extensions["archiver"].sessions() as session:
        digests = session.scalars(select(CaptureRecord.block_digest).where(CaptureRecord.capture_id == stored)).all()
    assert sorted(fixities) == sorted(base64.b32decode(d.split(":")[1]).hex() for d in digests)


def test_describedby_resolves_a_record_to_its_capture(ctx, client, stored):
    with ctx.sessions() as session:
        rec = session.scalars(select(CaptureRecord).where(CaptureRecord.capture_id == stored,
                                                          CaptureRecord.record_type == "response")).first()
        filename, offset = rec.warc_file.filename, rec.offset
    body = client.get(f"/api/v1/records/describedby?file={filename}&offset={offset}").get_json()
    assert body["capture_id"] == stored and body["links"]["verify"] == f"/api/v1/captures/{stored}/verify"
    then = client.get(f"/api/v1/records/describedby?file={filename}&offset={offset}&then=provenance")
    assert then.status_code == 302 and then.headers["Location"].endswith(f"/captures/{stored}/provenance")
    assert client.get(f"/api/v1/records/describedby?file={filename}&offset=1").status_code == 404
    assert client.get("/api/v1/records/describedby?file=x").status_code == 400
