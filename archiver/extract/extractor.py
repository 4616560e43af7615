"""extract(): route a response body to the HTML, PDF or plain-text reader; never raise."""
from __future__ import annotations

import re

from archiver.extract import encoding
from archiver.extract.deadline import Deadline, TimedOut
from archiver.extract.html import extract_html
from archiver.extract.pdf import extract_pdf
from archiver.extract.result import Extraction, empty_metadata

TIMEOUT = 5.0
MAX_TEXT_BYTES = 20_000_000      # a plain-text body longer than this is cut

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
TEXT_TYPES = {"text/plain"}
_SNIFF_HTML = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|"
                         rb"title|div|p|script|link|h1|table|!--)[\s>]", re.I | re.S)
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def sniff(data: bytes) -> str | None:
    """A media type guessed from the first bytes, or None."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf")
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if _SNIFF_HTML.match(head):
        return "text/html"
    if b"\x00" not in head and head.strip():
        return "text/plain"
    return None


def extract(content: bytes | str, url: str | None = None, content_type: str | None = None,
            *, timeout: float = TIMEOUT) -> Extraction:
    """Title, body text and metadata of a response body. Never raises."""
    try:
        return _extract(content, url, content_type, Deadline(timeout))
    except TimedOut as exc:
        return Extraction.failed(str(exc))
    except RecursionError:
        return Extraction.failed("extraction failed: document nested too deeply")
    except Exception as exc:            # noqa: BLE001 - a capture must never crash here
        return Extraction.failed(f"extraction failed: {type(exc).__name__}: {exc}"[:300])


def extract_text(html: bytes | str, url: str | None = None) -> str:
    """The article body of an HTML page, without the title line ("" if none)."""
    return extract(html, url=url, content_type="text/html").text


def _extract(content, url, content_type, deadline: Deadline) -> Extraction:
    if content is None or len(content) == 0:
        return Extraction.failed("the response body is empty")
    kind = media_type(content_type)
    if kind in (None, "application/octet-stream", "binary/octet-stream", "unknown/unknown"):
        kind = sniff(content.encode("utf-8") if isinstance(content, str) else content) or kind
    if kind in HTML_TYPES:
        if isinstance(content, str):
            text, utf8 = content, None
        else:
            text, used = encoding.decode(content, content_type)
            utf8 = encoding.exact_utf8(content, text, used)
        title, body, meta = extract_html(text, url, deadline, utf8=utf8)
        return _finish(title, body, meta, "no article text found in the page")
    if kind in PDF_TYPES:
        if isinstance(content, str):
            return Extraction.failed("a PDF body must be bytes")
        title, body, info = extract_pdf(content, deadline)
        meta = empty_metadata()
        meta.update(info)
        return _finish(title, body, meta, "the PDF has no extractable text")
    if kind in TEXT_TYPES:
        if not isinstance(content, str):
            content = encoding.decode(content[:MAX_TEXT_BYTES], content_type)[0]
        return _finish("", plain_paragraphs(content), empty_metadata(), "the text is blank")
    return Extraction.failed(f"content type {kind or 'unknown'} has no text")


def _finish(title: str, body: str, meta: dict, empty_reason: str) -> Extraction:
    if not body:
        return Extraction(title=title, text="", metadata=meta, reason=empty_reason)
    return Extraction(title=title, text=body, metadata=meta)


def plain_paragraphs(text: str) -> str:
    """Plain text with whitespace normalised: paragraphs kept, separated by blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [_SPACES.sub(" ", line).strip() for line in chunk.split("\n")]
        chunk = "\n".join(line for line in lines if line)
        if chunk:
            paragraphs.append(chunk)
    return "\n\n".join(paragraphs)
