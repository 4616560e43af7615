"""The replay index's own reading of the writer's record heads (archiver/replay/heads.py)
against warcio's loader and cdxj-indexer (index.indexer_head_lines), over many records:
every record type, odd WARC and HTTP heads, odd URLs and dates. Same lines, same errors,
same None (read the records back); and the plain heads do take the short way."""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass

import pytest
from warcio.timeutils import iso_date_to_timestamp

from archiver.replay import heads
from archiver.replay.index import head_lines, indexer_head_lines

FILENAME = "archiver-20260304050607890123-host-1-00001.warc.gz"
DIGEST = "sha256:X5Q4IZHAFSYA7UEPTNQUOU6SU5ZJ45KP6E6BYN6REIFLT36BEW6Q===="
DATE = "2026-03-04T05:06:07.890123Z"

RECORD_TYPES = ["response", "revisit", "resource", "metadata", "request", "conversion", "warcinfo",
                "continuation", "Response", None]
URIS = ["http://example.test/", "https://example.test/a?b=1&a=2", "HTTP://Example.TEST:80/Path/../a?b=2#frag",
        "http://127.0.0.1:8080/article/1", "https://[2001:db8::1]:8443/x?y=1",
        "http://user:pw@www.example.test/%zz%41", "http://b\u00fccher.example/stra\u00dfe?q=\u00fc",
        "ftp://example.test/f.txt", "dns:example.test", "urn:archiver:provenance:http://example.test/",
        "urn:archiver:text-metadata:https://example.test/a?b", "http://example.test/a b",
        "<http://example.test/wrapped>", "<http://example.test/half", "", None, "filedesc://x.arc",
        "https://example.test/" + "long/" * 300,
        "http://www.example.test/a;jsessionid=0123456789ABCDEF0123456789ABCDEF?x=1",
        "mailto:someone@example.test", "data:text/plain,hi", "http://example.test/%E6%97%A5",
        "http://example.test/\u65e5\u672c", "https://EXAMPLE.test./..//a/./b", "http://3232235777/",
        "https://example.test/search?q=a+b&q=%20c&&", "http://example.test:/x", "http:example.test"]
DATES = [DATE, "2026-03-04T05:06:07Z", "2026-03-04T05:06:07.1234567Z", "2026-03-04T05:06:07",
         "2026-03-04T05:06:07.Z", "2026-13-04T05:06:07Z", "2026-02-30T00:00:00Z", "2024-02-29T23:59:59Z",
         "0999-01-01T00:00:00Z", "1000-01-01T00:00:00Z", "2026-03-04 05:06:07Z", "2026-03-04T05:06:07+00:00",
         "20260304050607", "2026-03-04t05:06:07z", "2026-03-04T24:00:00Z", "2026-03-04T05:06:60Z",
         "2026-03-04T05:06:07.000000Z", "\u0662\u0660\u0662\u0666-03-04T05:06:07Z", "garbage", "", None]
WARC_CONTENT_TYPES = ["application/http; msgtype=response", "application/json", "application/warc-fields",
                      "application/warc-fields; x=1", "text/plain; charset=utf-8", "image/png", "", None,
                      "TEXT/HTML ;x", " text/html", "application/http;msgtype=request"]
DIGESTS = [DIGEST, "", None, "sha1:AAAA"]

HTTP_HEADS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 301 Moved Permanently\r\nLocation: /new\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.0 200\r\nContent-Type: image/png\r\n\r\n",
    b"HTTP/1.1\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1\r\n\r\n",
    b"HTTP/1.1 \r\n\r\n",
    b"HTTP/1.1 abc Weird\r\n\r\n",
    b"HTTP/1.1  500  Internal  Error \r\n\r\n",
    b"HTTP/2 200\r\ncontent-type: application/json\r\n\r\n",
    b"ICY 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\nContent-Type: text/css\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nCONTENT-TYPE :  text/plain \r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type:\ttext/plain\t;x=1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type:\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type\r\nX: y\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html;\r\n\tcharset=utf-8\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n Content-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=\xe9\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"caf\xc3\xa9.pdf\"\r\n"
    b"Content-Type: application/pdf\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\xc2\xa0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/\xe2\x80\xa8html\r\n\r\n",
    b"HTTP/1.0 200 OK\nContent-Type: text/html\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html",
    b"",
    b"\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"\r\nContent-Type: text/html\r\n\r\n",
    b" \r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n   \r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\x0b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\x0bContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: te\rxt/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=x\r\n\r\n",
    b" HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: \"text/html\"\r\nSet-Cookie: a=b; \\\"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/xhtml+xml\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
    # requests, as the writer keeps them before their responses
    b"GET /article?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: archiver\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 7\r\n\r\n",
    b"BREW /pot HTTP/1.1\r\n\r\n",
]
BODIES = [b"", b"<p>body</p>", b"\r\n\r\nHTTP/1.1 500 Not this one\r\nContent-Type: text/bad\r\n\r\n"]


@dataclass(frozen=True)
class Kept:
    """A record as capture_lines hands it on: its place and the head the writer kept."""
    offset: int
    length: int
    head: bytes


def warc_head(record_type, uri, date=DATE, digest=DIGEST, content_type="application/http; msgtype=response",
              http=b"", body=b"", length="auto", version="WARC/1.1", extra=(), eol=b"\r\n") -> bytes:
    lines = [("WARC-Type", record_type), ("WARC-Record-ID", "<urn:uuid:00000000-0000-0000-0000-000000000002>"),
             ("WARC-Date", date), ("WARC-Target-URI", uri), ("WARC-Payload-Digest", digest),
             ("Content-Type", content_type),
             ("Content-Length", str(len(http) + len(body) + 40) if length == "auto" else length)]
    text = version.encode() + eol
    for name, value in [*lines, *extra]:
        if value is not None:
            text += f"{name}: {value}".encode("utf-8") + eol
    return text + eol + http + body


def outcome(make, records):
    """What a way of making the lines gives: its lines (or None), or the error it raises."""
    try:
        return "lines", make(records, FILENAME)
    except Exception as exc:  # noqa: BLE001 - the errors must match too
        return "raises", type(exc), str(exc)


def assert_same(records):
    ours, theirs = outcome(head_lines, records), outcome(indexer_head_lines, records)
    assert ours == theirs, [r.head for r in records]
    return ours


def kept(head: bytes, offset: int = 1234) -> Kept:
    return Kept(offset, 5678 + offset, head)


def corpus() -> list[bytes]:
    """Heads of every shape above: each axis against plain values, then random mixes."""
    found = []
    for record_type, uri in itertools.product(RECORD_TYPES, URIS):
        http = HTTP_HEADS[0] if record_type != "request" else HTTP_HEADS[-3]
        found.append(warc_head(record_type, uri, http=http))
        found.append(warc_head(record_type, uri, content_type="application/json"))
    for record_type, http, body in itertools.product(["response", "revisit", "request", "resource"],
                                                     HTTP_HEADS, BODIES):
        found.append(warc_head(record_type, "https://example.test/p", http=http, body=body))
    for record_type, date in itertools.product(["response", "metadata", "conversion"], DATES):
        found.append(warc_head(record_type, "http://example.test/d", date=date, http=HTTP_HEADS[0]))
    for record_type, content_type, digest in itertools.product(["response", "resource", "metadata", "revisit"],
                                                                WARC_CONTENT_TYPES, DIGESTS):
        found.append(warc_head(record_type, "http://example.test/c", content_type=content_type,
                               digest=digest, http=HTTP_HEADS[1]))
    for record_type, length in itertools.product(["response", "revisit", "metadata"],
                                                 [None, "0", "-5", "abc", " 12 ", "+40", "10", "61", "62",
                                                  "\u0661\u0662", "1_000", "99999999"]):
        found.append(warc_head(record_type, "http://example.test/l", http=HTTP_HEADS[0], length=length))
    found += warc_shapes()
    rng = random.Random(20260304)
    for _ in range(1500):
        found.append(warc_head(rng.choice(RECORD_TYPES), rng.choice(URIS), date=rng.choice(DATES),
                               digest=rng.choice(DIGESTS), content_type=rng.choice(WARC_CONTENT_TYPES),
                               http=rng.choice(HTTP_HEADS), body=rng.choice(BODIES),
                               length=rng.choice(["auto", "auto", "auto", "0", None, "7"])))
    return found


def warc_shapes() -> list[bytes]:
    """Odd WARC header blocks: versions, name case, spacing, repeats, folds, line ends."""
    uri, http = "http://example.test/w", HTTP_HEADS[0]
    shapes = [warc_head("response", uri, http=http, version=v)
              for v in ["WARC/1.0", "WARC/0.18", "WARC/0.17", "warc/1.1", "WARC/1.1 ", "WARC/1.1\t",
                        "WARC/1.1x", "WARC/2.0", "ARC", "", " WARC/1.1"]]
    shapes += [warc_head("response", uri, http=http, eol=b"\n"), warc_head("metadata", uri, eol=b"\n")]
    extras = [
        [("WARC-Target-URI", "http://example.test/second")], [("warc-type", "metadata")],
        [("X-Note", "caf\u00e9")], [("X-Empty", "")],
    ]
    shapes += [warc_head("response", uri, http=http, extra=extra) for extra in extras]
    plain = warc_head("response", uri, http=http)
    end = plain.index(b"\r\n\r\n")
    for old, new in [(b"WARC-Type: ", b"warc-TYPE: "), (b"WARC-Type: ", b"WARC-Type :  "),
                     (b"WARC-Type: ", b"WARC-Type:\t"), (b"WARC-Date: ", b"WARC-Date:"),
                     (b"WARC-Target-URI: ", b"WARC-Target-URI:   "), (b"Content-Length: ", b"Content-Length:\t "),
                     (b"WARC-Payload-Digest: ", b"WARC-Payload-Digest\t: "),
                     (b"WARC-Type: response", b"WARC-Type: response  "),
                     (b"\r\nWARC-Date", b"\r\n continued\r\nWARC-Date"),
                     (b"\r\nWARC-Date", b"\r\n\tcontinued\r\nWARC-Date"),
                     (b"\r\nWARC-Date", b"\r\nno colon\r\nWARC-Date"), (b"\r\nWARC-Date", b"\r\n   \r\nWARC-Date"),
                     (b"\r\nWARC-Date", b"\r\n\r\nWARC-Date"), (b"\r\nWARC-Date", b"\n\nWARC-Date"),
                     (b"\r\nWARC-Date", b"\r\n\x0c\r\nWARC-Date"), (b"response\r\n", b"response\r\r\n"),
                     (b"response\r\n", b"response\x1c\r\n"), (b"\r\nWARC-Date", b"\r\nX-Bad: \xff\xfe\r\nWARC-Date"),
                     (b"\r\nWARC-Date", b"\r\nX-Latin: caf\xe9\r\nWARC-Date"), (b"WARC-Type", b"WARC\xe2\x80\xa8Type")]:
        shapes.append(plain[:end].replace(old, new, 1) + plain[end:])
    for record_type, body in [("response", http), ("metadata", b""), ("revisit", HTTP_HEADS[3])]:
        head = warc_head(record_type, uri, http=body)
        for name in [b"WARC-Type", b"WARC-Target-URI", b"WARC-Date", b"WARC-Payload-Digest",
                     b"Content-Type", b"Content-Length"]:
            start = head.index(b"\r\n" + name + b":") + 2
            line_end = head.index(b"\r\n", start) + 2
            for fold in [b" more", b"\tmore", b"  ", b" 1"]:      # folded into the line above
                shapes.append(head[:line_end] + fold + b"\r\n" + head[line_end:])
    shapes += [plain[:end] + b"\n\r\n" + plain[end + 4:], plain[:end] + b"\r\n\n" + plain[end + 4:],
               plain[:end], plain[:end] + b"\r\n", b"", b"\r\n\r\n", b"WARC/1.1\r\n\r\n"]
    return shapes


def test_every_head_gives_the_lines_or_errors_of_warcio_and_cdxj_indexer():
    found = corpus()
    short = 0
    for head in found:
        assert_same([kept(head)])
        short += heads.read_head(head) is not None
    assert len(found) > 2500 and short > len(found) // 2      # the short way is well exercised


def test_captures_of_several_records_give_the_same_lines():
    """A head the short way does not read sends the whole capture to cdxj-indexer; one
    without a payload digest sends it to the records read back (None) in both ways."""
    found = corpus()
    rng = random.Random(7)
    for _ in range(400):
        records = [kept(head, offset) for offset, head in enumerate(rng.sample(found, rng.randint(2, 6)))]
        assert_same(records)


def test_the_writers_plain_heads_take_the_short_way():
    page = [
        warc_head("response", "http://127.0.0.1:8080/article/1", http=HTTP_HEADS[0]),
        warc_head("metadata", "urn:archiver:provenance:http://127.0.0.1:8080/article/1",
                  content_type="application/json"),
        warc_head("metadata", "urn:archiver:text-metadata:http://127.0.0.1:8080/article/1",
                  content_type="application/json"),
        warc_head("revisit", "https://example.test/same", http=HTTP_HEADS[3],
                  extra=[("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest")]),
        warc_head("resource", "urn:screenshot:http://example.test/", content_type="image/png"),
    ]
    assert all(heads.read_head(head) is not None for head in page)
    kind, lines = assert_same([kept(head, n * 100) for n, head in enumerate(page)])
    assert kind == "lines" and len(lines) == len(page)


@pytest.mark.parametrize("date", DATES)
def test_timestamps_are_warcios(date):
    def of(function):
        try:
            return function(date)
        except Exception as exc:  # noqa: BLE001
            return type(exc), str(exc)
    assert of(heads.timestamp) == of(iso_date_to_timestamp)


def test_the_json_block_is_json_dumps():
    values = ["plain", "", "caf\u00e9", "\u65e5\u672c", "quote\" back\\slash", "\x00\x1f\x7f tab\t nl\n",
              "\ud83d\ude00 \U0001f600", "\u2028\u2029", "</script>", "&<>'"]
    for value in values:
        fields = [("url", value), ("mime", "text/html"), ("filename", value)]
        assert heads._json_object(fields) == json.dumps(dict(fields))
