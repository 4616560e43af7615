"""Verification of a capture against the catalogue and the evidence log, and its evidence
bundle: captures from the fixture site, tampered with in storage, in the catalogue and in
the log, each failure named by its check; bundles checked by py-wacz and by the standalone
verifier, also from a fresh folder with no data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, update

from archiver.capture import run_capture
from archiver.db import transaction
from archiver.evidence import UnknownCapture, verify_capture, write_bundle
from archiver.ledger.models import LedgerEntry
from archiver.models import CaptureRecord
from archiver.submissions import Submitter, submit_captures
from archiver.verifier import verify_bundle
from tests.premis_schema import premis_schema

BIN = Path(sys.executable).parent
AGENT = {"kind": "test", "user": "tester"}


def capture(ctx, url: str) -> int:
    [row] = submit_captures(ctx.sessions, [url], "for the file", Submitter("cli", "tester"), lambda _id: None)
    run_capture(ctx, row.id, task_id="evidence-test")
    return row.id


@pytest.fixture
def sealed(ctx, fixture_site):
    """A stored capture of the article, its WARC file sealed into storage."""
    capture_id = capture(ctx, fixture_site.url("/article"))
    ctx.writer.close()
    return capture_id


def verify(ctx, capture_id):
    return verify_capture(ctx.sessions, ctx.settings, ctx.writer.storage, capture_id)


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


def test_a_stored_capture_verifies_on_every_check(ctx, sealed):
    report = verify(ctx, sealed)
    assert report.ok, report.to_json()
    assert [c.name for c in report.checks] == ["record digests", "records against the catalogue",
                                               "log entries", "records against the log",
                                               "inclusion proof", "signed head"]


def test_a_capture_in_a_file_still_open_verifies(ctx, fixture_site):
    assert verify(ctx, capture(ctx, fixture_site.url("/plain.txt"))).ok


def test_an_unknown_capture_is_refused(ctx):
    with pytest.raises(UnknownCapture):
        verify(ctx, 999)


def _stored_record(ctx, capture_id, record_type="response"):
    with ctx.sessions() as session:
        rec = session.scalars(select(CaptureRecord).where(CaptureRecord.capture_id == capture_id,
                                                          CaptureRecord.record_type == record_type)
                              .order_by(CaptureRecord.offset)).first()
        return rec.id, rec.offset, rec.length, rec.warc_file.filename


def test_a_changed_record_byte_fails_the_record_digests(ctx, sealed):
    _id, offset, length, filename = _stored_record(ctx, sealed)
    path = ctx.settings.warc_dir / filename
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x01                  # inside the compressed response body
    path.write_bytes(bytes(data))
    bad = failed(verify(ctx, sealed))
    assert "record digests" in bad and "response record" in bad["record digests"], bad


def test_a_changed_catalogue_digest_fails_the_catalogue_check(ctx, sealed):
    rec_id, *_ = _stored_record(ctx, sealed)
    with transaction(ctx.sessions) as session:
        session.execute(update(CaptureRecord).where(CaptureRecord.id == rec_id)
                        .values(block_digest="sha256:" + "A" * 52))
    bad = failed(verify(ctx, sealed))
    assert set(bad) == {"records against the catalogue"}, bad
    assert "block digest" in bad["records against the catalogue"]


def test_an_edited_log_entry_fails_the_log_checks(ctx, sealed):
    with transaction(ctx.sessions) as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.capture_id == sealed,
                                                          LedgerEntry.event == "stored")).one()
        details = json.loads(json.dumps(entry.details))
        details["records"][0]["block_digest"] = "sha256:" + "B" * 52
        entry.details = details
    bad = failed(verify(ctx, sealed))
    assert "edited" in bad["log entries"], bad
    assert "records against the log" in bad, bad


def test_a_forged_head_fails_the_signed_head_check(ctx, sealed):
    from archiver.ledger.log import sign_current_head
    from archiver.ledger.keys import load_or_create_key
    from archiver.ledger.models import LedgerHead
    sign_current_head(ctx.sessions, load_or_create_key(ctx.settings.data_dir))
    with transaction(ctx.sessions) as session:
        session.execute(update(LedgerHead).values(timestamp_ms=LedgerHead.timestamp_ms + 1))
    bad = failed(verify(ctx, sealed))
    assert set(bad) == {"signed head"} and "signature" in bad["signed head"], bad


def test_archiver_verify_command_exit_status(ctx, sealed):
    env = {**os.environ, "ARCHIVER_DATA_DIR": str(ctx.settings.data_dir)}
    good = subprocess.run([BIN / "archiver", "verify", str(sealed)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert good.returncode == 0 and "VERIFIED" in good.stdout, good.stdout + good.stderr
    rec_id, *_ = _stored_record(ctx, sealed)
    with transaction(ctx.sessions) as session:
        session.execute(update(CaptureRecord).where(CaptureRecord.id == rec_id)
                        .values(payload_digest="sha256:" + "C" * 52))
    bad = subprocess.run([BIN / "archiver", "verify", str(sealed)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert bad.returncode == 1 and "FAIL  records against the catalogue" in bad.stdout, bad.stdout


# --- bundles ---------------------------------------------------------------------------

def make_bundle(ctx, capture_id, target: Path) -> Path:
    with open(target, "wb") as out:
        write_bundle(out, ctx.sessions, ctx.settings, ctx.writer.storage, capture_id, AGENT)
    return target


@pytest.fixture
def bundle(ctx, sealed, tmp_path):
    return make_bundle(ctx, sealed, tmp_path / "capture.wacz")


def run_verifier(path: Path, *extra, cwd=None, env=None):
    return subprocess.run([BIN / "archiver-verify", str(path), *extra], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def test_a_bundle_passes_wacz_validate_and_the_verifier(bundle):
    validated = subprocess.run([BIN / "wacz", "validate", "-f", str(bundle)], capture_output=True, text=True,
                               timeout=120)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    report = verify_bundle(bundle)
    assert report.ok, report.to_json()
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        digest = json.loads(zf.read("datapackage-digest.json"))
        entries = [json.loads(line) for line in zf.read("log/entries.jsonl").splitlines()]
    assert {"log/entries.jsonl", "log/proofs.json", "log/head.json", "log/public-key.pem",
            "datapackage.json", "datapackage-digest.json"} <= names
    assert any(n.startswith("archive/") for n in names)
    assert digest["signedData"]["hash"] == digest["hash"]
    events = [e["event"] for e in entries]
    assert events[:1] == ["submitted"] and "stored" in events and events[-1] == "exported"


def test_the_bundle_verifies_in_a_fresh_folder_with_no_data(ctx, sealed, tmp_path):
    made = make_bundle(ctx, sealed, tmp_path / "made.wacz")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "evidence.wacz"
    copy.write_bytes(made.read_bytes())
    key = elsewhere / "archive.pem"
    key.write_bytes(subprocess.run([BIN / "archiver", "log", "public-key"], capture_output=True, check=True,
                                   env={**os.environ, "ARCHIVER_DATA_DIR": str(ctx.settings.data_dir)}).stdout)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(elsewhere),
           "ARCHIVER_DATA_DIR": str(elsewhere / "no-such-data")}
    result = run_verifier(copy, "--public-key", str(key), cwd=elsewhere, env=env)
    assert result.returncode == 0 and "VERIFIED" in result.stdout, result.stdout + result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["archive.pem", "evidence.wacz"]


def test_the_verifier_imports_nothing_that_needs_the_archive():
    code = ("import sys, archiver.verifier.cli; "
            "print(sorted(m for m in ('sqlalchemy', 'flask', 'celery', 'requests', 'storage', "
            "'archiver.config', 'archiver.db', 'archiver.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the bundle with `change(name, data) -> data | None` applied to each member."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)
    return target


def flip_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def _json_edit(fn):
    def edit(data: bytes) -> bytes:
        doc = json.loads(data)
        fn(doc)
        return json.dumps(doc, indent=2).encode()
    return edit


def _other_key_pem() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from archiver.ledger.keys import public_key_pem
    return public_key_pem(Ed25519PrivateKey.generate()).encode()


def _bump_first_proof(doc):
    doc["entries"][0]["proof"][0] = "00" * 32


def _edit_first_entry(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[0] = lines[0].replace(b'"event":"submitted"', b'"event":"submittet"')
    return b"\n".join(lines)


# (what is corrupted, member, change, the check that must fail, words its reason must hold)
CORRUPTIONS = [
    ("a WARC byte", "archive/", flip_middle, "package hashes", "hashes to"),
    ("the provenance", "provenance/", lambda d: d + b" ", "package hashes", "provenance/"),
    ("datapackage.json", "datapackage.json", lambda d: d.replace(b'"title": "', b'"title": "X'),
     "package signature", "datapackage.json hashes to"),
    ("the signature", "datapackage-digest.json",
     _json_edit(lambda d: d["signedData"].update(signature=d["signedData"]["signature"][::-1])),
     "package signature", "ECDSA"),
    ("a log entry", "log/entries.jsonl", _edit_first_entry, "log entries", "was edited"),
    ("a proof", "log/proofs.json", _json_edit(_bump_first_proof), "inclusion proofs", "entry"),
    ("the head", "log/head.json", _json_edit(lambda d: d.update(timestamp_ms=d["timestamp_ms"] + 1)),
     "signed head", "signature"),
    ("the public key", "log/public-key.pem", lambda d: _other_key_pem(), "signed head", "signature"),
]


@pytest.mark.parametrize("what, member, change, check, words", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_the_verifier_fails_each_corrupted_part_and_says_which(bundle, tmp_path, what, member, change,
                                                               check, words):
    bad = rewrite(bundle, tmp_path / "bad.wacz",
                  lambda name, data: change(data) if name.startswith(member) else data)
    report = verify_bundle(bad)
    assert not report.ok
    reasons = {c.name: c.detail for c in report.failures()}
    assert check in reasons and words in reasons[check], reasons
    result = run_verifier(bad)
    assert result.returncode == 1 and f"FAIL  {check}" in result.stdout, result.stdout


def test_a_record_changed_with_the_package_rehashed_fails_the_record_digests(ctx, bundle, tmp_path):
    """Someone who recomputes datapackage.json still cannot sign it, and the record's own
    digests and the log still catch the change."""
    import gzip
    import hashlib
    with zipfile.ZipFile(bundle) as zf:
        [warc] = [n for n in zf.namelist() if n.startswith("archive/")]
        raw = gzip.decompress(zf.read(warc))
    changed = gzip.compress(raw.replace(b"Fixture headline", b"Fixture HEADLINE"))
    package = {}

    def change(name, data):
        if name == warc:
            return changed
        if name == "datapackage.json":
            doc = json.loads(data)
            for res in doc["resources"]:
                if res["path"] == warc:
                    res["hash"], res["bytes"] = f"sha256:{hashlib.sha256(changed).hexdigest()}", len(changed)
            package["bytes"] = json.dumps(doc).encode()
            return package["bytes"]
        if name == "datapackage-digest.json":
            doc = json.loads(data)
            doc["hash"] = f"sha256:{hashlib.sha256(package['bytes']).hexdigest()}"
            return json.dumps(doc).encode()
        return data

    report = verify_bundle(rewrite(bundle, tmp_path / "rehashed.wacz", change))
    reasons = {c.name: c.detail for c in report.failures()}
    assert "package hashes" not in reasons
    assert {"package signature", "record digests"} <= set(reasons), reasons


def test_a_pinned_key_refuses_a_bundle_of_another_archive(bundle, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(_other_key_pem())
    result = run_verifier(bundle, "--public-key", str(other))
    assert result.returncode == 1 and "not the pinned one" in result.stdout, result.stdout


def test_a_file_that_is_not_a_bundle_exits_2(tmp_path):
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip")
    result = run_verifier(junk)
    assert result.returncode == 2 and "not a readable ZIP" in result.stderr


def test_a_revisit_bundle_verifies(ctx, fixture_site, tmp_path):
    first = capture(ctx, fixture_site.url("/article"))
    second = capture(ctx, fixture_site.url("/article"))
    ctx.writer.close()
    with ctx.sessions() as session:
        from archiver.models import Capture
        assert session.get(Capture, second).revisit_of == first
    assert verify(ctx, second).ok
    report = verify_bundle(make_bundle(ctx, second, tmp_path / "revisit.wacz"))
    assert report.ok, report.to_json()


def test_a_failed_capture_kept_as_evidence_verifies_and_bundles(ctx, fixture_site, tmp_path):
    """A redirect loop fails the capture but keeps its hops; their records are in the
    `failed` entry of the log, and they verify like any others."""
    capture_id = capture(ctx, fixture_site.url("/loop/a"))
    with ctx.sessions() as session:
        from archiver.models import Capture
        row = session.get(Capture, capture_id)
        assert row.state == "failed" and row.records
    assert verify(ctx, capture_id).ok, verify(ctx, capture_id).to_json()
    report = verify_bundle(make_bundle(ctx, capture_id, tmp_path / "failed.wacz"))
    assert report.ok, report.to_json()


def test_archiver_bundle_and_describe_commands(ctx, sealed, tmp_path):
    env = {**os.environ, "ARCHIVER_DATA_DIR": str(ctx.settings.data_dir)}
    target = tmp_path / "cli.wacz"
    made = subprocess.run([BIN / "archiver", "bundle", str(sealed), "-o", str(target)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert made.returncode == 0 and target.exists(), made.stdout + made.stderr
    assert run_verifier(target).returncode == 0
    assert list(tmp_path.glob(".*part")) == []
    missing = subprocess.run([BIN / "archiver", "bundle", "999", "-o", str(tmp_path / "no.wacz")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2 and not (tmp_path / "no.wacz").exists()
    premis = subprocess.run([BIN / "archiver", "describe", str(sealed), "--as", "premis"], capture_output=True,
                            env=env, timeout=120)
    assert premis.returncode == 0
    schema = premis_schema()
    assert schema.validate(etree.fromstring(premis.stdout)), [str(e) for e in schema.error_log]
    prov = subprocess.run([BIN / "archiver", "describe", str(sealed)], capture_output=True, env=env, timeout=120)
    assert f"archiver:capture-{sealed}" in json.loads(prov.stdout)["entity"]
