"""Content types, sniffing, and the promise that extract() never raises."""
from __future__ import annotations

import pytest

from archiver.extract import Extraction, extract, extract_text
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

ARTICLE = b"""<html lang="en"><head><title>Harbour light restored | Daily</title>
<meta property="og:title" content="Harbour light restored"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Harbour light restored</h1>
<p>The town council voted on Tuesday to restore the old harbour lighthouse, which has
stood dark since the storm of the winter before last.</p>
<p>Work on the stone tower will begin in spring, and the lamp should shine again before
the first autumn gales, the engineers told the meeting.</p></article>
<footer>Copyright 2026 Daily. All rights reserved.</footer></body></html>"""


def _pdf(lines: list[str]) -> bytes:
    """A small valid PDF with one page of Helvetica text (built here, byte by byte)."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(
        "({}) '".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)"))
        for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Title (Quarterly notes) /Author (Ada Example) >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def test_html_article():
    result = extract(ARTICLE, url="https://daily.example/a", content_type="text/html")
    assert result.title == "Harbour light restored"
    paragraphs = result.text.split("\n\n")
    assert len(paragraphs) == 2 and paragraphs[0].startswith("The town council voted")
    assert "Home" not in result.text and "Copyright" not in result.text
    assert result.reason is None and result.extractor == "archiver-extract/1"
    assert result.document() == "Harbour light restored\n\n" + result.text
    assert extract_text(ARTICLE) == result.text


def test_str_input_is_accepted():
    assert extract(ARTICLE.decode(), content_type="text/html").text == extract(ARTICLE).text


def test_xhtml_with_an_xml_declaration():
    page = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head><body>'
            '<article><p>' + "Words of an XHTML page, long enough to count as prose. " * 3
            + "</p></article></body></html>")
    for body in (page, page.encode("utf-8")):
        result = extract(body, content_type="application/xhtml+xml")
        assert result.text.startswith("Words of an XHTML page") and result.reason is None


def test_pdf_gives_its_text_and_metadata():
    result = extract(_pdf(["Fixture PDF text for the archive.", "A second line follows."]),
                     content_type="application/pdf")
    assert "Fixture PDF text for the archive." in result.text
    assert "A second line follows." in result.text
    assert result.title == "Quarterly notes"
    assert result.metadata["authors"] == ["Ada Example"]


def test_pdf_is_sniffed_without_content_type():
    assert "Fixture PDF text" in extract(_pdf(["Fixture PDF text"])).text


def test_broken_pdf_records_why():
    result = extract(b"%PDF-1.4\nnot really a pdf", content_type="application/pdf")
    assert result.text == "" and result.reason


def test_plain_text_is_kept_with_its_paragraphs():
    body = "First line of the note.\r\nSecond line.\r\n\r\n\r\n  Second   paragraph.  \n"
    result = extract(body.encode("utf-8"), content_type="text/plain; charset=utf-8")
    assert result.text == "First line of the note.\nSecond line.\n\nSecond paragraph."
    assert result.title == "" and result.document() == result.text


@pytest.mark.parametrize("content_type", ["image/png", "application/zip", "video/mp4",
                                          "application/json"])
def test_other_types_give_no_text_and_say_why(content_type):
    result = extract(b"\x89PNG\r\n\x1a\n\x00\x00", content_type=content_type)
    assert result.text == "" and result.title == ""
    assert result.reason == f"content type {content_type} has no text"


def test_unknown_binary_without_type_says_why():
    result = extract(b"\x00\x01\x02\x03" * 100)
    assert result.text == "" and "has no text" in result.reason


def test_html_sniffed_from_octet_stream():
    assert extract(ARTICLE, content_type="application/octet-stream").title


def test_empty_body():
    for body in (b"", ""):
        result = extract(body, content_type="text/html")
        assert result.text == "" and result.reason == "the response body is empty"


def test_page_without_article_text_says_why():
    result = extract(b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
                     content_type="text/html")
    assert result.text == "" and result.reason == "no article text found in the page"


def test_failed_result_shape():
    failed = Extraction.failed("could not decode the response body: bad gzip")
    assert failed.text == "" and failed.title == "" and failed.document() == ""
    assert set(failed.metadata) == {"authors", "date", "site_name", "language",
                                    "canonical_url", "description"}


@pytest.mark.parametrize("body", [
    b"<div>" * 200_000 + b"<p>deep</p>",                                  # deeply nested
    b"<html><body>" + b"<b><i><span>" * 50_000 + b"text " * 100,           # never closed
    b"<html><body>" + b"<a href='x'>x</a>" * 200_000,                      # many elements
    b"<html>\x00\x00<body><p>\xff\xfe garbage \x80\x81</p>",               # NULs, bad bytes
    bytes(range(256)) * 2_000,                                             # binary as html
    b"<table>" + b"<tr><td>cell" * 50_000,                                 # broken tables
    b"<html><head><script type='application/ld+json'>{\"@type\": [[[[</script></head>",
], ids=["nested", "unclosed", "many", "nul", "binary", "table", "bad-json-ld"])
def test_pathological_html_never_raises(body):
    result = extract(body, url="https://example.org/x", content_type="text/html")
    assert isinstance(result, Extraction)
    assert result.text or result.reason


def test_huge_page_is_capped_in_time():
    paragraph = b"<p>" + b"Sentence number %d of a very long page, written to be unique. "
    body = b"<html><body>" + b"".join(paragraph % i + b"</p>" for i in range(200_000))
    result = extract(body, content_type="text/html", timeout=30)
    assert result.text and len(body) > 10_000_000


def test_timeout_is_recorded_as_the_reason():
    body = ARTICLE.replace(b"<footer>", b"<p>more words here</p>" * 20_000 + b"<footer>")
    result = extract(body, content_type="text/html", timeout=0)
    assert result.text == "" and result.reason == "timed out after 0 s"


def test_unexpected_error_is_recorded(monkeypatch):
    from archiver.extract import extractor

    def boom(*args, **kwargs):
        raise ValueError("kaputt")
    monkeypatch.setattr(extractor, "extract_html", boom)
    result = extract(ARTICLE, content_type="text/html")
    assert result.text == "" and result.reason == "extraction failed: ValueError: kaputt"


def test_metadata_from_meta_tags_and_relative_canonical():
    page = """<html lang="de"><head><title>Ein Titel | Zeitung</title>
    <meta name="author" content="By Erika Muster and Max Beispiel">
    <meta name="twitter:creator" content="@zeitung">
    <meta property="og:site_name" content="Zeitung">
    <meta name="description" content="Worum es geht.">
    <link rel="canonical" href="/artikel/1"></head>
    <body><article><p>Ein Absatz, der lang genug ist, um als Fliesstext zu gelten, steht hier.</p>
    <time datetime="2025-03-01T08:00:00Z">1. März</time></article></body></html>""".encode()
    meta = extract(page, url="https://zeitung.example/x?y=1", content_type="text/html").metadata
    assert meta == {"authors": ["Erika Muster", "Max Beispiel"],
                    "date": "2025-03-01T08:00:00+00:00", "site_name": "Zeitung",
                    "language": "de", "canonical_url": "https://zeitung.example/artikel/1",
                    "description": "Worum es geht."}
