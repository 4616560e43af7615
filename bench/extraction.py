"""Article-extraction benchmark: ours against trafilatura and readability-lxml.

Usage: .venv/bin/python bench/extraction.py [BENCHMARK_DIR] [--worst N] [--only NAME]

BENCHMARK_DIR defaults to ../shared/benchmarks/extraction relative to the repository root.
It holds ground-truth.json ({id: {"url", "articleBody"}}) and html/<id>.html.gz.

The metric is the benchmark's own (see the README in that folder): tokens are
re.findall(r"\\w+"), units are 4-token shingles compared as multisets; precision is
averaged over pages where the extractor returned something, recall over all pages, and
F1 is computed from those two means. Speed is pages per second on one CPU core, counting
only the extraction call (files are read and gunzipped beforehand).
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "benchmarks" / "extraction"
sys.path.insert(0, str(REPO))

_WORD = re.compile(r"\w+")


# --- the metric ---------------------------------------------------------------------

def shingles(text: str, size: int = 4) -> Counter:
    tokens = _WORD.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + size]) for i in range(len(tokens) - size + 1))


def page_counts(predicted: str, truth: str) -> tuple[int, int, int]:
    """(tp, fp, fn): shingles matched, predicted in excess, and missed (as multisets)."""
    pred, gold = shingles(predicted), shingles(truth)
    tp = sum((pred & gold).values())
    return tp, sum(pred.values()) - tp, sum(gold.values()) - tp


def _ratio(hits: int, misses: int, other_misses: int) -> float:
    if misses == other_misses == 0:
        return 1.0                          # nothing wrong either way (e.g. both empty)
    return hits / (hits + misses) if hits + misses else 0.0


def page_scores(predicted: str, truth: str) -> tuple[float, float]:
    """(precision, recall) of one page."""
    tp, fp, fn = page_counts(predicted, truth)
    return _ratio(tp, fp, fn), _ratio(tp, fn, fp)


def summarise(predictions: dict[str, str], truths: dict[str, str]) -> dict:
    """Mean precision over pages with predicted shingles, mean recall over pages with
    true shingles (so an empty prediction counts as recall 0), and their F1."""
    precisions, recalls = [], []
    for key, truth in truths.items():
        tp, fp, fn = page_counts(predictions.get(key) or "", truth)
        if tp + fp:
            precisions.append(_ratio(tp, fp, fn))
        if tp + fn:
            recalls.append(_ratio(tp, fn, fp))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": f1, "precision": p, "recall": r}


# --- the extractors ------------------------------------------------------------------

def ours() -> Callable[[bytes, str], str]:
    from archiver.extract import extract_text
    return lambda html, url: extract_text(html, url=url)


def trafilatura_precision() -> Callable[[bytes, str], str]:
    """favor_precision=True; comments off, as the task is the article alone (this is the
    setting that reproduces the benchmark README's 0.958; with comments it scores lower)."""
    import trafilatura

    def run(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url, favor_precision=True,
                                   include_comments=False) or ""
    return run


def readability_lxml() -> Callable[[bytes, str], str]:
    import logging

    import lxml.html
    from readability import Document
    logging.getLogger("readability").setLevel(logging.ERROR)

    def run(html: bytes, url: str) -> str:
        summary = Document(html, url=url).summary(html_partial=True)
        if not summary.strip():
            return ""
        return " ".join(lxml.html.fromstring(summary).itertext())
    return run


EXTRACTORS = {
    "trafilatura 2.3.1 (favor_precision)": trafilatura_precision,
    "readability-lxml 0.9": readability_lxml,
    "ours (archiver.extract)": ours,
}


# --- running -------------------------------------------------------------------------

def load(folder: Path) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages, bodies, urls = {}, {}, {}
    for key, item in truth.items():
        with gzip.open(folder / "html" / f"{key}.html.gz", "rb") as fh:
            pages[key] = fh.read()
        bodies[key] = item["articleBody"]
        urls[key] = item["url"]
    return pages, bodies, urls


def run_one(build: Callable, pages: dict[str, bytes], urls: dict[str, str]):
    extractor = build()
    first = next(iter(pages))
    extractor(pages[first], urls[first])          # warm-up: imports, caches
    outputs: dict[str, str] = {}
    gc.collect()
    elapsed = 0.0
    for key, html in pages.items():
        start = time.perf_counter()
        try:
            text = extractor(html, urls[key])
        except Exception as exc:                 # a peer's crash counts as an empty page
            text = ""
            print(f"  {key}: {type(exc).__name__}: {exc}", file=sys.stderr)
        elapsed += time.perf_counter() - start
        outputs[key] = text or ""
    return outputs, len(pages) / elapsed if elapsed else float("inf")


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_DIR),
                        help="benchmark folder (default: ../shared/benchmarks/extraction)")
    parser.add_argument("--only", help="run only extractors whose name contains this")
    parser.add_argument("--worst", type=int, default=0,
                        help="also list the N pages where ours scores lowest")
    args = parser.parse_args(argv)

    pin_one_core()
    pages, truths, urls = load(Path(args.folder))
    print(f"{len(pages)} pages from {args.folder}; single core; "
          f"metric: 4-token shingles, F1 of mean P and mean R")
    print(f"{'extractor':<38} {'F1':>6} {'P':>6} {'R':>6} {'pages/s':>8}")
    names = [n for n in EXTRACTORS if not args.only or args.only in n]
    for name in names:
        outputs, speed = run_one(EXTRACTORS[name], pages, urls)
        score = summarise(outputs, truths)
        print(f"{name:<38} {score['f1']:6.3f} {score['precision']:6.3f} "
              f"{score['recall']:6.3f} {speed:8.1f}", flush=True)
        if args.worst and name.startswith("ours"):
            ranked = sorted(truths, key=lambda k: _f1(*page_scores(outputs[k], truths[k])))
            for key in ranked[:args.worst]:
                p, r = page_scores(outputs[key], truths[key])
                print(f"    {key[:12]} P={p:.2f} R={r:.2f} {urls[key]}", file=sys.stderr)
    return 0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


if __name__ == "__main__":
    sys.exit(main())
