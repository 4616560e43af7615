"""Bytes to text: HTTP header, BOM, meta charset, then detection.

A declared encoding is trusted only if the bytes decode under it without error and the
result does not look like UTF-8 read as a single-byte code page; otherwise the next
source is tried, and detection (charset-normalizer) has the last word.
"""
from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
# Run over the lower-cased head (for bytes, re.I folds only ASCII letters, as lower()
# does): a pattern without re.I finds its literal start far faster.
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""")
# Aliases browsers apply (WHATWG Encoding Standard): labels that mean a superset.
_SUPERSETS = {"iso-8859-1": "windows-1252", "latin-1": "windows-1252", "ascii": "windows-1252",
              "us-ascii": "windows-1252", "iso-8859-9": "windows-1254",
              "iso-8859-11": "windows-874", "tis-620": "windows-874",
              "gb2312": "gb18030", "gbk": "gb18030", "x-sjis": "shift_jis"}
_UTF8_LOOK = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    found = _HEADER_CHARSET.search(content_type)
    return _normalise(found.group(1)) if found else None


def _normalise(label: str) -> str | None:
    label = label.strip().lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _bom(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def meta_charset(data: bytes) -> str | None:
    found = _META_CHARSET.search(data[:8192].lower())
    return _normalise(found.group(1).decode("ascii", "ignore")) if found else None


def _try(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used). Never raises: the last resort replaces undecodable bytes."""
    bom = _bom(data)
    if bom:
        text = _try(data, bom)
        if text is not None:
            return text.lstrip("\ufeff"), bom
    for declared in _declared(data, content_type):
        if declared in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
            continue          # a UTF-16 page without a BOM declaring so in ASCII: nonsense
        if declared != "utf-8" and _UTF8_LOOK.search(data):
            text = _try(data, "utf-8")      # one decoding both tests and reads it
            if text is not None:
                return text, "utf-8"        # UTF-8 mislabelled as a code page
        text = _try(data, declared)
        if text is not None:
            if declared in _LATIN and _looks_misread(text):
                detected = _detect(data)
                if detected[1] != declared:
                    return detected
            return text, declared
    text = _try(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    return _detect(data)


def _declared(data: bytes, content_type: str | None):
    """The encodings the header and then the page's <meta> declare, each looked for only
    if the one before did not decide (the <meta> search is the dearer)."""
    header = charset_from_content_type(content_type)
    if header:
        yield header
    meta = meta_charset(data)
    if meta:
        yield meta


def exact_utf8(data: bytes, text: str, used: str) -> bytes | None:
    """data, where decode(data) gave text by reading it as UTF-8 exactly; else None.

    Every text decode() labels "utf-8" is data.decode("utf-8"), but for a BOM (stripped)
    and detection (which replaces what does not decode, with U+FFFD)."""
    if (used != "utf-8" or not isinstance(data, bytes) or data.startswith(codecs.BOM_UTF8)
            or "\ufffd" in text):
        return None
    return data


# Single-byte Latin code pages: any byte decodes, so a wrong label never fails.
_LATIN = {"cp1252", "windows-1252", "latin-1", "iso8859-1", "iso8859-15", "cp1250",
          "iso8859-2", "cp1254", "iso8859-9", "cp1257", "mac-roman"}
_LATIN_RUN = re.compile(r"\b[\u00c0-\u00ff]{3,}\b")
_NON_ASCII_WORD = re.compile(r"\b\w*[^\x00-\x7f]\w*\b")


def _looks_misread(text: str) -> bool:
    """Text in another script read as a Latin code page shows words made only of
    accented letters ("ÇáÍÏíÞÉ"); real Western text mixes them with plain letters."""
    sample = text[:100_000]
    runs = len(_LATIN_RUN.findall(sample))
    return runs >= 5 and runs > 0.3 * len(_NON_ASCII_WORD.findall(sample))


def _detect(data: bytes) -> tuple[str, str]:
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            return data.decode(best.encoding, errors="replace"), best.encoding
    except Exception:      # detection is best effort; fall through to a lossless decode
        pass
    return data.decode("windows-1252", errors="replace"), "windows-1252"
