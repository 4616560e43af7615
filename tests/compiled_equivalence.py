"""An autouse fixture for the extraction tests: every content.select and filters.keep
the extractor makes there runs both ways, compiled (compiled_blocks.pyx) and in Python,
and the test fails where the two differ. A test module takes it by importing it."""
from __future__ import annotations

import pytest

from archiver.extract import content, filters
from archiver.extract.deadline import NoDeadline


def same_choice(chosen, reference) -> bool:
    """The same container (the same element, not an equal one) and the same dropped set,
    in the same order (what is done with it later iterates over it)."""
    return (chosen[0] is reference[0] and chosen[1] == reference[1]
            and list(chosen[1]) == list(reference[1]))


@pytest.fixture(autouse=True)
def both_block_passes_agree(monkeypatch):
    compiled_select, compiled_keep = content.COMPILED_SELECT, filters.COMPILED_KEEP
    assert compiled_select is not None and compiled_keep is not None, \
        "archiver/extract/compiled_blocks.pyx is not built: make install"

    def select(blocks, furniture, deadline=None):
        chosen = compiled_select(blocks, furniture, deadline or NoDeadline())
        assert chosen is not None, "the extractor's blocks are read by the compiled select"
        reference = content.select_in_python(blocks, furniture, NoDeadline())
        assert same_choice(chosen, reference)
        return chosen

    def keep(blocks, title, is_prose):
        kept = compiled_keep(blocks, title, is_prose)
        assert kept is not None, "the extractor's blocks are read by the compiled keep"
        assert kept == filters.keep_in_python(blocks, title, is_prose)
        return kept

    monkeypatch.setattr(content, "select", select)
    monkeypatch.setattr(filters, "keep", keep)
