"""The WARC writer's shortcuts against the library ways they replace, over many inputs.

Each shortcut computes what a standard-library or warcio function computes, with less
Python on the way; these tests hold each to the original, byte for byte.
"""
from __future__ import annotations

import base64
import hashlib
import io
import random
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from archiver.warc.base32 import b32encode


def _digests(rng: random.Random, count: int) -> list[bytes]:
    edges = [bytes(32), b"\xff" * 32] + [(1 << bit).to_bytes(32, "big") for bit in range(256)]
    return edges + [rng.randbytes(32) for _ in range(count)] + \
        [hashlib.sha256(str(n).encode()).digest() for n in range(count)]


def test_base32_of_a_digest_is_the_one_base64_writes():
    rng = random.Random(32)
    for digest in _digests(rng, 20_000):
        assert b32encode(digest) == base64.b32encode(digest), digest.hex()


@pytest.mark.parametrize("size", [0, 1, 5, 20, 31, 33, 64])
def test_base32_of_other_lengths_is_left_to_base64(size):
    rng = random.Random(size)
    for _ in range(200):
        data = rng.randbytes(size)
        assert b32encode(data) == base64.b32encode(data)


# Pieces of HTTP heads, with every kind of line warcio's parser may take as blank: ASCII
# whitespace, latin-1 and utf-8 spaces, bytes that are no utf-8 (decoded as latin-1).
_PIECES = [
    b"HTTP/1.1 200 OK\r\n", b"GET / HTTP/1.1\r\n", b"Content-Type: text/html\r\n", b"X: y\n",
    b" folded on\r\n", b"\tfolded\n", b"no colon\r\n", b"Caf\xc3\xa9: cr\xc3\xa8me\r\n",
    b"\r\n", b"\n", b" \r\n", b"\t\n", b"\x0b\x0c\r\n", b"\x1c\x1d\x1e\x1f\n", b"\r\r\n",
    b"\x85\r\n", b"\xa0\n", b"\xa0\x85\r\n", b"\xc2\x85\r\n", b"\xc2\xa0\n", b"\xe3\x80\x80\r\n",
    b"\xe3\x80\r\n", b"\x80\n", b"\xff \r\n", b"\xe2\x80\xa8\n", b"\r", b" ", b"x", b"\x00\n",
    b"<html>body</html>", b"\xc2", b"\n\n",
]


def _heads(rng: random.Random, count: int):
    for _ in range(count):
        yield b"".join(rng.choices(_PIECES, k=rng.randint(0, 12)))


def test_the_header_end_is_where_warcios_parser_stops_reading():
    from archiver.warc.records import http_header_end, parsed_header_length

    rng = random.Random(1)
    for data in _heads(rng, 30_000):
        expected = parsed_header_length(io.BytesIO(data), len(data))
        assert http_header_end(data, complete=True) == expected, data
        cut = rng.randint(0, len(data))
        found = http_header_end(data[:cut], complete=False)
        assert found is None or found == expected, (data, cut)
        if expected < cut:      # the blank line is whole within the cut
            assert found == expected, (data, cut)


@pytest.mark.parametrize("header_bytes", [100, 16 * 1024 - 30, 16 * 1024, 40_000, 70_000])
def test_headers_longer_than_the_probe_are_parsed(header_bytes):
    from archiver.warc.records import http_header_length, parsed_header_length

    line = b"X-Long: " + b"v" * 90 + b"\r\n"
    head = b"HTTP/1.1 200 OK\r\n" + line * (header_bytes // len(line)) + b"\r\n"
    for data in (head + b"body" * 1000, head, head[:-2], b"HTTP/1.1 200 OK\r\n" + b"v" * header_bytes):
        stream = io.BytesIO(data)
        for length in (len(data), len(data) - 1, len(head) // 2):
            assert http_header_length(stream, length) == parsed_header_length(stream, length)
            assert stream.tell() == 0


def test_a_uuid_from_random_bytes_is_the_one_uuid4_makes_of_them():
    from archiver.warc.record_ids import uuid4_text

    rng = random.Random(4)
    for raw in [bytes(16), b"\xff" * 16] + [rng.randbytes(16) for _ in range(20_000)]:
        assert uuid4_text(raw) == str(uuid.UUID(bytes=raw, version=4)), raw.hex()


def test_record_ids_are_urn_uuids_of_distinct_random_version_4_uuids():
    from archiver.warc.record_ids import random_record_id

    ids = [random_record_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for record_id in ids[:2000]:
        assert record_id.startswith("<urn:uuid:") and record_id.endswith(">")
        parsed = uuid.UUID(record_id[len("<urn:uuid:"):-1])
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert f"<urn:uuid:{parsed}>" == record_id


def _strftime_warc_date(moment: datetime) -> str:
    """warc_date as it was written with strftime."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def test_warc_dates_are_the_ones_strftime_wrote():
    from archiver.warc.records import warc_date

    rng = random.Random(8601)
    zones = [timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30)),
             ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")]
    moments = [datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
               datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone.utc),
               datetime(1, 1, 2, tzinfo=timezone.utc), datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=timezone.utc),
               datetime(1000, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 12, tzinfo=timezone.utc)]
    for _ in range(30_000):
        moment = datetime(rng.randint(2, 9998), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                          rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999_999)]))
        moments.append(moment.replace(tzinfo=rng.choice(zones)))
    for moment in moments:
        assert warc_date(moment) == _strftime_warc_date(moment), moment
    with pytest.raises(ValueError, match="naive"):
        warc_date(datetime(2026, 1, 2))


@pytest.mark.parametrize("record_type", ["metadata", "conversion", "resource", "warcinfo"])
@pytest.mark.parametrize("content_type", ["application/json", ""])
@pytest.mark.parametrize("data", [b"", b"{}", "Caf\u00e9\r\n".encode() * 9000])
def test_plain_records_are_written_as_warcios_own_records_are(record_type, content_type, data):
    """plain_record builds the record create_warc_record would: warcio writes the same bytes."""
    from archiver.warc.records import Sha256WARCWriter, plain_record, warc_headers

    fields = [("WARC-Type", record_type), ("WARC-Record-ID", f"<urn:uuid:{uuid.UUID(int=9)}>"),
              ("WARC-Date", "2026-01-02T03:04:05Z"), ("WARC-Concurrent-To", None)]

    def written(make_record) -> bytes:
        builder = Sha256WARCWriter()
        builder.out = io.BytesIO()
        builder.write_record(make_record(builder))
        return builder.out.getvalue()

    ours = written(lambda b: plain_record(b, record_type, fields, data, content_type))
    warcios = written(lambda b: b.create_warc_record(
        "", record_type, payload=io.BytesIO(data), length=len(data),
        warc_content_type=content_type, warc_headers=warc_headers(fields)))
    assert ours == warcios


def test_warc_headers_are_the_ones_warcio_builds_of_the_same_fields():
    from warcio.statusandheaders import StatusAndHeaders

    from archiver.warc.records import WARC_VERSION, warc_headers

    fields = [("WARC-Type", "response"), ("WARC-Truncated", None), ("WARC-Target-URI", "http://x.test/\u00e9"),
              ("Content-Length", 7)]
    ours = warc_headers(fields)
    theirs = StatusAndHeaders("", [(k, str(v)) for k, v in fields if v is not None], protocol=WARC_VERSION)
    assert ours == theirs and ours.to_bytes() == theirs.to_bytes()
    with pytest.raises(ValueError, match="line break"):
        warc_headers([("WARC-Target-URI", "http://x.test/\r\nX: y")])


@pytest.mark.parametrize("engine", ["isal", "zlib"])
@pytest.mark.parametrize("piece", [1, 1000, 64 * 1024, 1024 * 1024])
def test_a_gzip_member_holds_exactly_the_pieces_written_to_it(engine, piece, monkeypatch):
    """GzipMember gathers warcio's writes and compresses them in pieces of COMPRESS_PIECE:
    one gzip member of exactly the bytes written, whatever the piece size."""
    from archiver.warc.compression import compressobj_factory
    from archiver.warc.records import GzipMember

    monkeypatch.setattr("archiver.warc.records.COMPRESS_PIECE", piece)
    rng = random.Random(piece)
    words = [rng.randbytes(rng.randint(1, 12)) for _ in range(300)]
    writes = [b"WARC/1.1\r\nWARC-Type: response\r\n\r\n"] + [
        b" ".join(rng.choices(words, k=rng.randint(0, 3000))) for _ in range(120)] + [b"\r\n\r\n"]
    out = io.BytesIO()
    member = GzipMember(out, 2, compressobj_factory(engine))
    for data in writes:
        assert member.write(data) == len(data)
    member.flush()
    member.flush()                      # a second flush adds nothing
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    assert inflater.decompress(out.getvalue()) == b"".join(writes)
    assert inflater.eof and not inflater.unused_data
    assert member.first_write == writes[0]
    with pytest.raises(ValueError, match="already finished"):
        member.write(b"more")
