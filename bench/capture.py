"""Capture throughput: the whole pipeline beside `wget --warc-file`, on the same 200 pages.

Starts a site on 127.0.0.1 with 200 article pages of 20 to 200 KB (served without
compression, as wget asks), then in the same run:

  wget    `wget --warc-file` (Debian's wget, one process) fetches all 200 into a gzip WARC;
  ours    `archiver web` (gunicorn) takes the 200 URLs by POST /api/v1/captures, the real
          Redis carries them, `archiver worker --concurrency N` captures them: fetch, WARC
          records (gzip, sha256 digests, fsync), text extraction, replay index, catalogue;
          timed from the POST to the moment the catalogue says all 200 are stored.

The pages (`--pages`):

  real       (default) the real news and blog pages of the public extraction benchmark
             (../shared/benchmarks/extraction, the 92 of its 124 pages that are 20 to
             200 KB), served in turn under 200 URLs: what article pages are made of, a few
             KB of article text (median 3.5 KB) in markup, scripts, styles and navigation;
  synthetic  generated pages that are almost nothing but paragraphs (about 95% of each
             page is article text, 109 KB on average): the worst case for the text
             extraction and the full-text index, whose cost grows with the text.

Neither side fetches page requisites (wget without --page-requisites; ours with
ARCHIVER_MAX_REQUISITES=0): the real pages name images and scripts on hosts that are not
reachable from here.

for N = 1 and 2 worker processes (Celery pool processes), each on a fresh data folder,
after warm-up captures of the same pages under other URLs, enough to go to the workers as
full batches (SPREAD_TASKS tasks of ARCHIVER_CAPTURE_BATCH captures): a worker runs for
days, so its process start, imports, and the first use of each SQL statement, regular
expression and cache are not counted (3 to 21% of the worker's CPU over the 200 pages in
three paired runs when they were; wget's own start is counted, and costs it a few ms).
Prints pages/s of both and their ratio, and the CPU time per page of wget, of our worker
and web processes, and of the site while it serves each (it shares the two cores): the
machine is shared, and pages/s move with what else runs; CPU per page moves less. Also the share of the machine's cores that stayed
idle while each side ran (/proc/stat): wget in one process leaves about half; two worker
processes that never waited would leave none.

    .venv/bin/python bench/capture.py                    # SQLite catalogue, as `make run`
    .venv/bin/python bench/capture.py --pages synthetic  # the text-heavy worst case
    .venv/bin/python bench/capture.py --processes 2 --rounds 3 \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench

Target: with 2 worker processes, at least wget's pages/s. The machine must be otherwise
idle: both sides are CPU-bound, and a test suite running beside it halves either. Try
settings with `--env`, e.g. `--env ARCHIVER_WARC_GZIP_ENGINE=zlib` or
`--env ARCHIVER_WORKER_ALLOCATOR=system` (docs/deploy.md, Throughput).
"""
from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PAGES = 200
REAL_PAGES = ROOT.parent / "shared" / "benchmarks" / "extraction" / "html"


# -- the site ------------------------------------------------------------------------------

def make_pages(count: int = PAGES, seed: int = 8) -> dict[str, bytes]:
    """`count` article pages, sizes spread evenly over 20 to 200 KB, text of a 3,000-word
    vocabulary (compresses about as news HTML does, 3 to 4 times)."""
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    vocab = ["".join(rng.choices(letters, weights=range(26, 0, -1), k=rng.randint(2, 10)))
             for _ in range(3000)]
    pages = {}
    for n in range(count):
        target = 20_000 + (180_000 * n) // max(count - 1, 1)
        head = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Article {n}: "
                f"{' '.join(rng.choices(vocab, k=6))}</title><meta name=author content=\"Desk {n % 7}\">"
                "<meta name=description content=\"a bench article\"></head><body>"
                "<header><nav><a href=/>Home</a> <a href=/world>World</a> <a href=/sport>Sport</a>"
                "</nav></header><main><article>"
                f"<h1>Article number {n}</h1><p class=byline>By Desk {n % 7}</p>")
        parts, size = [head], len(head)
        while size < target - 200:
            para = "<p>" + " ".join(rng.choices(vocab, k=rng.randint(40, 120))) + ".</p>\n"
            parts.append(para)
            size += len(para)
        parts.append("</article></main><footer><p>Bench site footer, links: <a href=/about>about"
                     "</a></p></footer></body></html>")
        pages[f"/article/{n}"] = "".join(parts).encode()
    return pages


def real_pages(folder: Path = REAL_PAGES, count: int = PAGES) -> dict[str, bytes]:
    """`count` URLs serving, in turn, the benchmark's real pages of 20 to 200 KB."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not there: the real pages come from the shared "
                         "benchmark folder; use --pages synthetic without it")
    bodies = [body for body in (gzip.decompress(f.read_bytes()) for f in sorted(folder.glob("*.html.gz")))
              if 20_000 <= len(body) <= 200_000]
    if not bodies:
        raise SystemExit(f"no page of 20 to 200 KB in {folder}")
    return {f"/article/{n}": bodies[n % len(bodies)] for n in range(count)}


class Site:
    def __init__(self, pages: dict[str, bytes]):
        self.pages = pages
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm on, the body
            # waits for the client's delayed ACK of the headers, which cost wget about 10 ms
            # a page (3.0 s for the 200 instead of 1.0 s). Real servers set TCP_NODELAY.
            disable_nagle_algorithm = True

            def log_message(self, *_args):
                pass

            def do_GET(self):  # noqa: N802
                body = site.pages.get(self.path.split("?")[0])
                if body is None:
                    body, status = b"not found", 404
                else:
                    status = 200
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- CPU time ------------------------------------------------------------------------------

def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants
    (Linux /proc): the machine is shared, so CPU per page is the steadier comparison."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue                      # it ended meanwhile
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_ticks() -> tuple[int, int]:
    """(all, idle) clock ticks of the whole machine so far (Linux /proc/stat): how much of
    the cores nobody used while a side ran."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]          # idle and iowait


def idle_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    spent = after[0] - before[0]
    return (after[1] - before[1]) / spent if spent else 0.0


def own_cpu() -> float:
    """CPU seconds of this process: the site's threads, and the catalogue poll during ours.
    The site shares the two cores with what it serves, so what it costs each side counts."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- wget ----------------------------------------------------------------------------------

def run_wget(urls: list[str], work: Path) -> tuple[float, float, float, float]:
    """(seconds, CPU seconds, the site's CPU seconds, the machine's idle share) of one wget
    run over `urls`."""
    wget = shutil.which("wget")
    if wget is None:
        raise SystemExit("wget is not installed: apt-get install wget")
    work.mkdir(parents=True, exist_ok=True)
    listing = work / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    cpu, site, ticks, started = children_cpu(), own_cpu(), machine_ticks(), time.perf_counter()
    subprocess.run([wget, "--quiet", "--warc-file", str(work / "wget"), "--no-warc-keep-log",
                    "--input-file", str(listing), "--directory-prefix", str(work / "files"),
                    "--delete-after", "--tries", "1"], check=True, cwd=work)
    elapsed, cpu, site = time.perf_counter() - started, children_cpu() - cpu, own_cpu() - site
    idle = idle_share(ticks, machine_ticks())
    if not (work / "wget.warc.gz").stat().st_size:
        raise SystemExit("wget wrote an empty WARC")
    return elapsed, cpu, site, idle


# -- ours ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pipeline:
    """`archiver web` and `archiver worker --concurrency N` on a fresh data folder."""

    def __init__(self, work: Path, site: Site, processes: int, redis_url: str,
                 database_url: str | None, extra_env: dict[str, str]):
        self.work, self.processes = work, processes
        self.queue = f"archiver-bench-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
        env.update({"ARCHIVER_DATA_DIR": str(work / "data"), "ARCHIVER_PORT": str(self.port),
                    "ARCHIVER_REPLAY_PORT": str(free_port()), "ARCHIVER_BROKER_URL": redis_url,
                    "ARCHIVER_CAPTURE_QUEUE": self.queue,
                    "ARCHIVER_MAINTENANCE_QUEUE": f"{self.queue}-maintenance",
                    "ARCHIVER_ALLOW_PRIVATE": f"127.0.0.1:{site.port}",
                    "ARCHIVER_MAX_URLS_PER_SUBMISSION": str(PAGES),
                    "ARCHIVER_MAX_REQUISITES": "0",     # as wget without --page-requisites
                    "ARCHIVER_ANONYMOUS_ROLE": "archivist"})   # the bench submits without an account
        if database_url:
            env["DATABASE_URL"] = database_url
        env.update(extra_env)
        self.env, self.redis_url = env, redis_url
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        subprocess.run([BIN / "archiver", "migrate"], env=self.env, cwd=ROOT, check=True,
                       capture_output=True)
        self.procs.append(self._spawn("web", "--workers", "1"))
        self.procs.append(self._spawn("worker", "--concurrency", str(self.processes),
                                      "--queues", "capture"))
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the web app did not start:\n" + self.log("web"))
            time.sleep(0.2)
        while " ready." not in self.log("worker"):
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + self.log("worker"))
            time.sleep(0.2)

    def _spawn(self, part: str, *args: str) -> subprocess.Popen:
        with open(self.work / f"{part}.log", "wb") as log:
            return subprocess.Popen([BIN / "archiver", part, *args], env=self.env, cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT)

    def log(self, part: str) -> str:
        path = self.work / f"{part}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def warm_up_pages(self) -> int:
        """Enough captures to be queued as full batches (archiver/submissions.py)."""
        from archiver.config import Settings
        from archiver.submissions import SPREAD_TASKS
        return min(PAGES, SPREAD_TASKS * Settings.from_env(self.env).capture_batch)

    def capture(self, urls: list[str], timeout: float = 600) -> tuple[float, dict[str, float]]:
        """Submit `urls` in one POST; seconds until the catalogue has every one stored, the
        CPU seconds the worker and web processes used meanwhile, and the machine's idle share.

        The catalogue is asked every 10 ms with one SQL string made once, on one
        connection: the bench shares the two cores with what it measures, and a poll
        through the ORM (an IN list of 200 ids compiled each time) took up to a third of
        a core."""
        from sqlalchemy import create_engine
        from archiver.config import Settings
        from archiver.db import normalise_url
        engine = create_engine(normalise_url(Settings.from_env(self.env).database_url))
        try:
            web, worker = self.procs
            with engine.connect() as conn:
                cpu = {"worker": tree_cpu(worker.pid), "web": tree_cpu(web.pid), "site": own_cpu()}
                ticks = machine_ticks()
                started = time.perf_counter()
                answer = requests.post(self.base + "/api/v1/captures", json={"urls": urls}, timeout=60)
                if answer.status_code != 202:
                    raise SystemExit(f"submission refused: {answer.status_code} {answer.text[:500]}")
                ids = ", ".join(str(int(i)) for i in answer.json()["ids"])
                unfinished = f"SELECT count(*) FROM captures WHERE id IN ({ids}) AND state NOT IN ('stored', 'failed')"
                deadline = time.monotonic() + timeout
                while True:
                    left = conn.exec_driver_sql(unfinished).scalar()
                    conn.rollback()        # a fresh read snapshot for the next look
                    if left == 0:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{left} captures not finished in {timeout} s\n" + self.log("worker"))
                    time.sleep(0.01)
                elapsed = time.perf_counter() - started
                cpu = {"worker": tree_cpu(worker.pid) - cpu["worker"], "web": tree_cpu(web.pid) - cpu["web"],
                       "site": own_cpu() - cpu["site"], "idle": idle_share(ticks, machine_ticks())}
                lost = conn.exec_driver_sql(
                    f"SELECT count(*) FROM captures WHERE id IN ({ids}) AND state = 'failed'").scalar()
            if lost:
                raise SystemExit(f"{lost} captures failed:\n" + self.log("worker"))
            return elapsed, cpu
        finally:
            engine.dispose()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        import redis
        redis.Redis.from_url(self.redis_url).delete(self.queue, f"{self.queue}-maintenance")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", choices=("real", "synthetic"), default="real",
                        help="real article pages (default) or the text-heavy synthetic ones")
    parser.add_argument("--processes", default="1,2", help="worker processes to try (default 1,2)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, median shown")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the data folder")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more ARCHIVER_* settings for the pipeline (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)

    pages = real_pages() if args.pages == "real" else make_pages()
    site = Site(pages)
    paths = sorted(pages, key=lambda p: int(p.rsplit("/", 1)[1]))
    sizes = [len(pages[p]) for p in paths]
    work = Path(tempfile.mkdtemp(prefix="archiver-bench-capture-"))
    print(f"{len(paths)} {args.pages} pages of {min(sizes) // 1000} to {max(sizes) // 1000} KB "
          f"({sum(sizes) / 1e6:.1f} MB) from 127.0.0.1; {os.cpu_count()} cores; "
          f"{'PostgreSQL' if args.database_url else 'SQLite'} catalogue; Redis broker; "
          f"median of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")
    from archiver.allocator import describe
    print(f"worker {describe(extra.get('ARCHIVER_WORKER_ALLOCATOR', 'mimalloc'))}")
    rows = []
    try:
        for processes in [int(p) for p in args.processes.split(",")]:
            wget_times, our_times, wget_cpu, worker_cpu, web_cpu = [], [], [], [], []
            site_wget, site_ours, idle_wget, idle_ours = [], [], [], []
            for r in range(args.rounds):
                # each round: wget, then ours on a fresh data folder with its own page URLs
                # (a query string per round, so no capture is a revisit of an earlier one)
                urls = [site.url(f"{p}?r={processes}-{r}") for p in paths]
                elapsed, cpu, site_cpu, idle = run_wget(urls, work / f"wget-{processes}-{r}")
                idle_wget.append(idle)
                wget_times.append(elapsed)
                wget_cpu.append(cpu)
                site_wget.append(site_cpu)
                pipe = Pipeline(work / f"ours-{processes}-{r}", site, processes, args.redis,
                                args.database_url, extra)
                (work / f"ours-{processes}-{r}").mkdir(parents=True)
                pipe.start()
                try:
                    pipe.capture([site.url(f"/article/{i}?warm={r}") for i in range(pipe.warm_up_pages())])
                    elapsed, cpu = pipe.capture(urls)
                    our_times.append(elapsed)
                    worker_cpu.append(cpu["worker"])
                    web_cpu.append(cpu["web"])
                    site_ours.append(cpu["site"])
                    idle_ours.append(cpu["idle"])
                finally:
                    pipe.stop()
            w, o = statistics.median(wget_times), statistics.median(our_times)
            per_page = [1000 * statistics.median(c) / len(paths)
                        for c in (wget_cpu, worker_cpu, web_cpu, site_wget, site_ours)]
            idle = (100 * statistics.median(idle_wget), 100 * statistics.median(idle_ours))
            rows.append((processes, len(paths) / w, len(paths) / o, per_page, idle, wget_times, our_times))
        print(f"{'worker processes':>16} {'wget pages/s':>13} {'ours pages/s':>13} {'ours/wget':>10}"
              f"   CPU ms/page: wget | worker, web | site for wget, ours   idle %: wget, ours"
              f"   rounds: wget s | ours s")
        for processes, wps, ops, (wc, oc, ec, sw, so), (iw, io), wt, ot in rows:
            print(f"{processes:>16} {wps:>13.1f} {ops:>13.1f} {ops / wps:>10.2f}   "
                  f"{wc:>16.1f} | {oc:.1f}, {ec:.1f} | {sw:.2f}, {so:.2f}      {iw:>9.0f}, {io:.0f}   "
                  f"{' '.join(f'{t:.2f}' for t in wt)} | {' '.join(f'{t:.2f}' for t in ot)}")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        two = [row for row in rows if row[0] == 2]
        if two:
            processes, wps, ops = two[0][:3]
            print(f"target, 2 worker processes at least wget's pages/s: "
                  f"{'met' if ops >= wps else 'NOT met'} ({ops:.1f} vs {wps:.1f})")
    finally:
        site.stop()
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
