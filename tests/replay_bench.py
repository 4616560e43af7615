"""Measure the replay index layout: adding captures, and pywb lookups over it.

    .venv/bin/python -m tests.replay_bench [CAPTURES]

Adds CAPTURES synthetic captures (3 CDXJ lines each, as ours have) one at a time with
`add_lines` (the locked write + merge path of `add_capture_to_index`), then starts
`archiver replay` and times CDX lookups of single URLs through pywb: once over the
levelled folder as it is, once after merging everything into one file.
"""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from archiver.replay import index as replay_index
from archiver.replay.paths import ReplayPaths
from tests.conftest import make_settings
from tests.replay_server import free_port, replay_server


def lines_for(n: int) -> list[str]:
    url = f"http://site{n % 97}.example/page/{n}"
    key = f"example,site{n % 97})/page/{n}"
    ts = f"2026{(n % 12) + 1:02d}01000000"
    return [f"{key} {ts} " + '{"url": "%s", "mime": "text/html", "status": "200", "length": "900", '
            '"offset": "%d", "filename": "bench.warc.gz"}' % (url, n * 3000),
            f"urn:archiver:provenance:{url} {ts} {{}}", f"urn:archiver:text-metadata:{url} {ts} {{}}"]


def time_lookups(base: str, count: int, total: int) -> list[float]:
    picks = random.Random(1).sample(range(total), min(200, total))
    timings = []
    for n in picks:     # a new connection each time: keep-alive adds a ~48 ms stall here (NOTES.md)
        start = time.perf_counter()
        answer = requests.get(f"{base}/web/cdx", params={"url": f"http://site{n % 97}.example/page/{n}"},
                              timeout=30)
        timings.append(time.perf_counter() - start)
        assert answer.status_code == 200 and f"/page/{n}" in answer.text, answer.text[:200]
    return timings


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), ARCHIVER_REPLAY_PORT=free_port())
        adds = []
        for n in range(total):
            start = time.perf_counter()
            replay_index.add_lines(settings, ["bench.warc.gz"], lines_for(n))
            adds.append(time.perf_counter() - start)
        files = replay_index.index_files(settings)
        print(f"{total} captures added: median {statistics.median(adds) * 1000:.2f} ms, "
              f"max {max(adds) * 1000:.1f} ms, total {sum(adds):.1f} s; {len(files)} index files")
        with replay_server(settings) as base:
            levelled = time_lookups(base, 200, total)
            print(f"lookup over {len(files)} files: median {statistics.median(levelled) * 1000:.2f} ms")
            paths = ReplayPaths.of(settings)
            replay_index._merge_into(paths.indexes, "base", files)
            for path in files:
                path.unlink()
            single = time_lookups(base, 200, total)
            print(f"lookup over 1 file: median {statistics.median(single) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
