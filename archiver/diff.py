"""Comparing the text of two captures: paragraph by paragraph, with changed words marked.

The texts are the extractor's documents (paragraphs separated by blank lines). Paragraphs
are aligned first; a replaced paragraph is then compared word by word, so a one-word edit
in a long paragraph shows as that word, not as the whole paragraph.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher

# Paragraph pairs less alike than this are shown as a deletion and an insertion.
WORD_DIFF_MIN_RATIO = 0.4


@dataclass
class Segment:
    """A run of words: kept ("equal"), removed ("delete") or added ("insert")."""
    op: str
    text: str


@dataclass
class Block:
    op: str                               # equal, insert, delete, replace
    old: str | None = None                # the paragraph before (None for insert)
    new: str | None = None                # the paragraph after (None for delete)
    segments: list[Segment] = field(default_factory=list)   # word-level, for replace


@dataclass
class TextDiff:
    blocks: list[Block]

    @property
    def changed(self) -> bool:
        return any(b.op != "equal" for b in self.blocks)

    def stats(self) -> dict:
        counts = {"equal": 0, "insert": 0, "delete": 0, "replace": 0}
        for block in self.blocks:
            counts[block.op] += 1
        return counts

    def to_json(self) -> dict:
        return {"changed": self.changed, "stats": self.stats(),
                "blocks": [asdict(b) for b in self.blocks]}


def paragraphs(text: str | None) -> list[str]:
    if not text:
        return []
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def word_segments(old: str, new: str) -> list[Segment]:
    old_words, new_words = old.split(" "), new.split(" ")
    segments: list[Segment] = []
    matcher = SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("equal", " ".join(old_words[a1:a2])))
            continue
        if a2 > a1:
            segments.append(Segment("delete", " ".join(old_words[a1:a2])))
        if b2 > b1:
            segments.append(Segment("insert", " ".join(new_words[b1:b2])))
    return segments


def diff_texts(old_text: str | None, new_text: str | None) -> TextDiff:
    old, new = paragraphs(old_text), paragraphs(new_text)
    blocks: list[Block] = []
    matcher = SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            blocks.extend(Block("equal", old=p, new=p) for p in old[a1:a2])
        elif op == "delete":
            blocks.extend(Block("delete", old=p) for p in old[a1:a2])
        elif op == "insert":
            blocks.extend(Block("insert", new=p) for p in new[b1:b2])
        else:
            blocks.extend(_pair_up(old[a1:a2], new[b1:b2]))
    return TextDiff(blocks)


def _pair_up(old: list[str], new: list[str]) -> list[Block]:
    """Replaced paragraphs side by side; unlike ones become a deletion and an insertion."""
    blocks = []
    for n in range(max(len(old), len(new))):
        before = old[n] if n < len(old) else None
        after = new[n] if n < len(new) else None
        if before is None:
            blocks.append(Block("insert", new=after))
        elif after is None:
            blocks.append(Block("delete", old=before))
        elif SequenceMatcher(a=before.split(" "), b=after.split(" "),
                             autojunk=False).ratio() < WORD_DIFF_MIN_RATIO:
            blocks.extend([Block("delete", old=before), Block("insert", new=after)])
        else:
            blocks.append(Block("replace", old=before, new=after,
                                segments=word_segments(before, after)))
    return blocks
