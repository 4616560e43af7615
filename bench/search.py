"""Search latency over a catalogue of synthetic captures.

Builds a SQLite catalogue of N captures (default 100,000) with article-like text, then runs
a fixed set of queries several times each through archiver.search and prints the median
and 95th percentile query time, beside a baseline: the same word filter done with LIKE
over the captures table (what one would write without a full-text index).

    .venv/bin/python bench/search.py                 # 100,000 captures
    .venv/bin/python bench/search.py --captures 20000 --postgres postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/search.py --captures 20000 --as-pipeline --per-query   # segments as in service
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from archiver.db import make_engine, make_session_factory, migrate  # noqa: E402
from archiver.search import SearchQuery, search_index_for  # noqa: E402

WORDS = ("government budget hospital election court climate energy market school police "
         "river city council minister report water health science museum festival football "
         "company workers strike bridge railway storm village farmers teachers parliament "
         "vaccine archive history library village harbour airport ministry treaty border").split()
FILLER = ("the of and to in a is that for on with as was by at from it an be this are have "
          "has had not but were which their after before over under about more than").split()
SITES = [f"site{n}.example" for n in range(200)]
QUERIES = [
    {"text": "budget"}, {"text": "hospital election"}, {"text": '"city council"'},
    {"text": "climate", "sort": "date"}, {"text": "railway strike", "site": "site7.example"},
    {"text": "museum", "content_type": "application/pdf"}, {"text": "", "status": 404}, {"text": "treaty border harbour"},
    {"text": "zzzznotthere"}, {"text": "football", "status": 404},
    {"text": "science", "since": datetime(2025, 6, 1, tzinfo=timezone.utc),
     "until": datetime(2025, 9, 1, tzinfo=timezone.utc)},
    {"text": "report", "page": 5},
]


def vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Words with Zipf frequencies, as in real text: FILLER first (the commonest words), then
    WORDS spread over ranks 100 to 4,000 (from 'budget' in about one page in three to
    'border' in about one in a hundred), made-up words between and after them."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    made_up = list(dict.fromkeys(
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size * 2)))
    words = list(FILLER)
    for n, word in enumerate(WORDS):
        rank = 100 + n * 100
        while len(words) < rank:
            words.append(made_up.pop())
        words.append(word)
    while len(words) < size:
        words.append(made_up.pop())
    cumulative, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank
        cumulative.append(total)
    return words, cumulative


def paragraph(rng: random.Random, vocab) -> str:
    words, cumulative = vocab
    return " ".join(rng.choices(words, cum_weights=cumulative, k=70)).capitalize() + "."


def build(url: str, count: int, seed: int = 7, as_pipeline: bool = False) -> None:
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    migrate(url)
    engine = make_engine(url)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    batch = []
    with engine.begin() as conn:
        for n in range(1, count + 1):
            site = rng.choice(SITES)
            title = " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
            body = "\n\n".join(paragraph(rng, vocab) for _ in range(rng.randint(3, 8)))
            when = start + timedelta(minutes=n * 5)
            batch.append({
                "id": n, "url": f"https://{site}/{rng.choice(WORDS)}/{n}", "site": site,
                "title": title, "text": body, "when": when if engine.dialect.name != "sqlite" else when.replace(tzinfo=None),
                "status": 404 if n % 50 == 0 else 200,
                "ctype": "application/pdf" if n % 20 == 0 else "text/html; charset=utf-8"})
            if len(batch) == 5000 or n == count:
                conn.execute(text(
                    "INSERT INTO captures (id, state, source, requested_url, final_url, site, title, "
                    "text, queued_at, fetched_at, http_status, content_type, attempts) VALUES "
                    "(:id, 'stored', 'api', :url, :url, :site, :title, :text, :when, :when, :status, "
                    ":ctype, 1)"), batch)
                batch = []
    sessions = make_session_factory(engine)
    if as_pipeline:
        _index_as_the_pipeline(sessions, count)
    with sessions() as session, session.begin():
        if not as_pipeline:       # one transaction, then one merged segment: quickest to build
            index = search_index_for(session)
            for n in range(1, count + 1):
                index.index(session, n)
        if engine.dialect.name == "sqlite" and not as_pipeline:
            session.execute(text("INSERT INTO capture_fts(capture_fts) VALUES ('optimize')"))
        session.execute(text("ANALYZE" if engine.dialect.name == "sqlite" else "ANALYZE captures"))
    engine.dispose()


def _index_as_the_pipeline(sessions, count: int, batch: int = 8) -> float:
    """As the capture pipeline does: a commit for each batch of captures stored together
    (ARCHIVER_CAPTURE_BATCH, 8), no 'optimize' after, so the FTS5 index has the segments
    its automerge leaves. Prints CPU ms per indexed capture."""
    start = time.process_time()
    for first in range(1, count + 1, batch):
        with sessions() as session, session.begin():
            search_index_for(session).index_all(session, list(range(first, min(first + batch, count + 1))))
    per_capture = 1000 * (time.process_time() - start) / count
    print(f"  indexed {batch} captures per transaction: {per_capture:.2f} ms CPU per capture")
    return per_capture


def like_baseline(session, q: dict) -> int:
    words = [w for w in q["text"].replace('"', " ").split()]
    clauses = " AND ".join(f"(title LIKE :w{i} OR text LIKE :w{i})" for i in range(len(words)))
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    rows = session.execute(text(
        f"SELECT id FROM captures WHERE state = 'stored' AND {clauses} "
        "ORDER BY fetched_at DESC LIMIT 20"), params).all()
    return len(rows)


def measure(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", help="also run on this PostgreSQL database (it is emptied!)")
    parser.add_argument("--catalogue", help="SQLite file to build once and reuse on later runs")
    parser.add_argument("--per-query", action="store_true", help="also print each query's median")
    parser.add_argument("--as-pipeline", action="store_true",
                        help="index one capture per transaction and skip FTS5's 'optimize', as in service")
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("sqlite", f"sqlite:///{args.catalogue or tmp + '/bench.sqlite3'}"))
        if args.postgres:
            targets.append(("postgresql", args.postgres))
        for name, url in targets:
            if name == "postgresql":
                engine = make_engine(url)
                with engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                engine.dispose()
            t = time.perf_counter()
            if name == "sqlite" and args.catalogue and Path(args.catalogue).exists():
                print(f"sqlite: reusing {args.catalogue}")
            else:
                build(url, args.captures, as_pipeline=args.as_pipeline)
                print(f"{name}: built {args.captures:,} captures in {time.perf_counter() - t:.1f} s")
            sessions = make_session_factory(make_engine(url))
            ours, baseline = [], []
            with sessions() as session:
                index = search_index_for(session)
                for q in QUERIES:
                    query = SearchQuery(**q)
                    index.search(session, query)             # warm the cache once
                    times = measure(lambda: index.search(session, query), args.repeats)
                    ours += times
                    if args.per_query:
                        print(f"  {statistics.median(times):8.1f} ms  {q}")
                    if not {"site", "status", "since", "content_type", "page"} & set(q):
                        baseline += measure(lambda: like_baseline(session, q), 1)
            print(f"{'engine':<12} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8}")
            print(f"{name + ' LIKE':<12} {len(baseline):>8} {statistics.median(baseline):>8.1f} {p95(baseline):>8.1f}   (baseline)")
            print(f"{name + ' FTS':<12} {len(ours):>8} {statistics.median(ours):>8.1f} {p95(ours):>8.1f}   (ours; target p95 < 50 ms on SQLite)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
