"""Text of a PDF document, page by page, with pypdf.

pypdf gives lines; lines are joined into paragraphs, a paragraph ending at a blank line
or at a line that ends a sentence and is clearly shorter than the page's usual line.
"""
from __future__ import annotations

import io
import re

from archiver.extract.deadline import Deadline, NoDeadline

MAX_PAGES = 500
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")


def extract_pdf(data: bytes, deadline: Deadline | None = None) -> tuple[str, str, dict]:
    """(title, text, info) of a PDF; raises on unreadable files (the caller records why)."""
    from pypdf import PdfReader

    deadline = deadline or NoDeadline()
    reader = PdfReader(io.BytesIO(data))
    info = reader.metadata or {}
    title = " ".join(str(info.get("/Title") or "").split())
    author = " ".join(str(info.get("/Author") or "").split())
    paragraphs: list[str] = []
    for number, page in enumerate(reader.pages):
        if number >= MAX_PAGES:
            break
        deadline.check()
        paragraphs.extend(paragraphs_of(page.extract_text() or ""))
    return title, "\n\n".join(paragraphs), {"authors": [author] if author else []}


def paragraphs_of(text: str) -> list[str]:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    usual = lengths[len(lengths) * 3 // 4]
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line:
            if current:
                out.append(" ".join(current))
                current = []
            continue
        current.append(line)
        if _SENTENCE_END.search(line) and len(line) < 0.8 * usual:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out
