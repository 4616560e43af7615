"""Article text and metadata from a captured response (HTML, PDF or plain text).

    result = extract(body_bytes, url=..., content_type=...)   # never raises
    result.title, result.text, result.metadata, result.reason, result.extractor
"""
from archiver.extract.extractor import extract, extract_text
from archiver.extract.result import Extraction

__all__ = ["extract", "extract_text", "Extraction"]
