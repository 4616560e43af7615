"""The benchmark's metric, as its README defines it, on small hand-checked cases."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

_PATH = Path(__file__).resolve().parent.parent / "bench" / "extraction.py"
_spec = importlib.util.spec_from_file_location("bench_extraction", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_shingles_are_four_token_windows():
    assert sum(bench.shingles("a b c d e").values()) == 2
    assert bench.shingles("one, two; three") == {("one", "two", "three"): 1}   # short text
    assert not bench.shingles("") and not bench.shingles("  ... !")


def test_tokens_are_unicode_word_characters_case_sensitive():
    assert bench.shingles("Über straße 東京 Москва") == {("Über", "straße", "東京", "Москва"): 1}
    assert bench.page_scores("The cat sat down", "the cat sat down") == (0.0, 0.0)


def test_page_scores_use_multisets():
    truth = "a b c d a b c d"                       # 5 shingles, (a b c d) twice
    assert bench.page_scores("a b c d", truth) == (1.0, 0.2)
    assert bench.page_scores("", "") == (1.0, 1.0)
    assert bench.page_scores("", "a b c d") == (0.0, 0.0)
    assert bench.page_scores("...", "a b c d") == (0.0, 0.0)


def test_summary_averages_precision_over_non_empty_and_recall_over_all():
    truths = {"x": "a b c d e", "y": "f g h i j"}
    predictions = {"x": "a b c d e z z z z", "y": ""}
    score = bench.summarise(predictions, truths)
    assert score["precision"] == pytest.approx(2 / 6)
    assert score["recall"] == pytest.approx(0.5)
    p, r = 2 / 6, 0.5
    assert score["f1"] == pytest.approx(2 * p * r / (p + r))


def test_output_without_words_counts_as_empty():
    score = bench.summarise({"x": "a b c d", "y": "— …"}, {"x": "a b c d", "y": "e f g h"})
    assert score["precision"] == 1.0 and score["recall"] == 0.5


def test_default_folder_is_next_to_the_repository():
    assert bench.DEFAULT_DIR == _PATH.parent.parent.parent / "shared" / "benchmarks" / "extraction"
