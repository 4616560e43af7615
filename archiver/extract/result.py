"""What one extraction produced: title, body text, metadata, and why it is empty if so."""
from __future__ import annotations

from dataclasses import dataclass, field

EXTRACTOR = "archiver-extract/1"


def empty_metadata() -> dict:
    return {"authors": [], "date": None, "site_name": None, "language": None,
            "canonical_url": None, "description": None}


@dataclass
class Extraction:
    title: str = ""
    text: str = ""
    metadata: dict = field(default_factory=empty_metadata)
    reason: str | None = None
    extractor: str = EXTRACTOR

    @classmethod
    def failed(cls, reason: str) -> "Extraction":
        """An empty result that says why."""
        return cls(reason=reason)

    def document(self) -> str:
        """The title line, a blank line, then the body; just the body if there is no title."""
        if self.title and self.text:
            return f"{self.title}\n\n{self.text}"
        return self.text or self.title
