"""Raw-mode replay: single-record lookups over a 1,000-capture collection, ours beside pywb.

Builds the collection through the project's own pipeline (`run_capture` against a loopback
site: real WARCs, the real catalogue, the real CDXJ index written at capture time), with
HTML pages and their requisites, images, plain text, archived 301 redirects and unchanged
recaptures (revisit records). Some WARC files are sealed into storage, the last is still
`.open`. Then, in the same run, on the same files:

  pywb   `archiver replay` (pywb 2.10 behind our Memento middleware, gevent, one process):
         GET /web/<timestamp>id_/<url>
  ours   `archiver web --workers 1` (gunicorn, gthread): GET /raw/<timestamp>/<url>, a
         catalogue lookup and one ranged read (archiver/replay/raw.py)

N random lookups (the same list for both, each an exact capture second), sequential by
default, alternating pywb and ours request by request so the noise of the shared machine
falls on both alike; once with a new connection per request and once on one kept-alive
connection per client. Prints requests/s, p50 and p95 of each, their ratio, and the
machine's load average before and after. Sequentially, every answer is compared: status
and body must be the same on both sides (the count that differ is printed). With
`--concurrency C`, C clients at once on one engine, then on the other.

    .venv/bin/python bench/replay.py                          # 1,000 captures, SQLite
    .venv/bin/python bench/replay.py --lookups 2000 --concurrency 4 \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench   # an empty database
    .venv/bin/python bench/replay.py --keep /tmp/raw-bench    # build once, reuse after

Target: ours faster than pywb (pywb measured at about 130 sequential lookups/s, p50 7.4 ms).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Lookup:
    url: str
    stamp: str


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0


# --- the collection ----------------------------------------------------------------------

def build_collection(settings, site, captures: int, seal_every: int) -> list[Lookup]:
    """`captures` captures through run_capture; returns every (url, second) a raw lookup can
    ask for exactly: each capture's final response, the first hop of a redirect."""
    from sqlalchemy import text

    from archiver.capture import run_capture
    from archiver.db import migrate
    from archiver.submissions import Submitter, submit_captures
    from workers.context import build_context

    migrate(settings.database_url)
    ctx = build_context(settings)
    kinds = ["/article?n={n}"] * 5 + ["/image.png?n={n}", "/plain.txt?n={n}", "/gzip?n={n}",
                                      "/redirect-to?status=301&url=/plain.txt%3Fn%3D{n}"]
    urls = [site.url(random.Random(n).choice(kinds).format(n=n)) for n in range(captures)]
    # one capture in ten is a recapture of an earlier URL (a second or more before): it is
    # unchanged, so it is written as a revisit record
    for n in range(60, captures, 10):
        urls[n] = urls[n - 60]
    started = time.monotonic()
    try:
        for n, url in enumerate(urls):
            [submitted] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "bench"), lambda _id: None)
            run_capture(ctx, submitted.id, task_id="bench")
            if seal_every and n % seal_every == seal_every - 1 and n < len(urls) - 1:
                ctx.writer.seal()
            if n % 200 == 199:
                print(f"  {n + 1} captures, {time.monotonic() - started:.0f} s", flush=True)
        # fresh planner statistics, as autovacuum keeps them on a catalogue that grew over
        # time: right after a bulk load PostgreSQL still believes `captures` empty and walks
        # every stored capture instead of the index on record URLs (4 ms against 0.2 ms)
        with ctx.sessions() as session:
            session.execute(text("ANALYZE"))
            session.commit()
        return lookups_of(ctx)
    finally:
        # the writer is not closed: its last file stays `.open`, and both engines read it there
        ctx.sessions.kw["bind"].dispose()


def lookups_of(ctx) -> list[Lookup]:
    from sqlalchemy import select

    from archiver.models import STORED, Capture
    from archiver.replay import capture_timestamp
    from archiver.replay.raw import stamp_of_iso
    found = []
    with ctx.sessions() as session:
        for capture in session.scalars(select(Capture).where(Capture.state == STORED)):
            found.append(Lookup(capture.final_url, capture_timestamp(capture)))
            first = capture.redirect_chain[0]
            if len(capture.redirect_chain) > 1 and first.get("status"):
                found.append(Lookup(first["url"], stamp_of_iso(first["started_at"])))
    # two records of a URL in one second (a recapture in the same second) may be served
    # differently by the two engines; they are left out of the comparison
    counts: dict[tuple[str, str], int] = {}
    for lookup in found:
        counts[(lookup.url, lookup.stamp)] = counts.get((lookup.url, lookup.stamp), 0) + 1
    return [lookup for lookup in found if counts[(lookup.url, lookup.stamp)] == 1]


# --- the servers -------------------------------------------------------------------------

def service_env(data_dir: Path, port: int, replay_port: int, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env.update({"ARCHIVER_DATA_DIR": str(data_dir), "ARCHIVER_PORT": str(port),
                "ARCHIVER_REPLAY_PORT": str(replay_port), "ARCHIVER_ANONYMOUS_ROLE": "researcher"})
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def start(argv: list[str], env: dict[str, str], probe: str, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            requests.get(probe, timeout=2)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"{' '.join(argv)} did not answer:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the client --------------------------------------------------------------------------

class Client:
    """GETs with http.client (little client work per request): a new connection each time,
    or one connection kept alive."""

    def __init__(self, port: int, keep_alive: bool):
        self.port, self.keep_alive = port, keep_alive
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept-Encoding": "gzip"}
        if not self.keep_alive:
            headers["Connection"] = "close"
        try:
            self.conn.request("GET", path, headers=headers)
            answer = self.conn.getresponse()
            body = answer.read()
        except Exception:
            self.close()
            raise
        if not self.keep_alive or answer.will_close:
            self.close()
        return answer.status, body

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def pywb_path(lookup: Lookup) -> str:
    return f"/web/{lookup.stamp}id_/{lookup.url}"


def ours_path(lookup: Lookup) -> str:
    return f"/raw/{lookup.stamp}/{lookup.url}"


ENGINES = {"pywb": pywb_path, "ours": ours_path}


def sequential(ports: dict[str, int], lookups: list[Lookup], keep_alive: bool) -> tuple[dict[str, Tally], int]:
    """One client per engine, requests alternating between them (order swapped each time)."""
    clients = {name: Client(port, keep_alive) for name, port in ports.items()}
    tallies = {name: Tally() for name in ports}
    mismatches = 0
    for n, lookup in enumerate(lookups):
        answers = {}
        for name in (list(ports) if n % 2 == 0 else list(ports)[::-1]):
            began = time.perf_counter()
            try:
                answers[name] = clients[name].get(ENGINES[name](lookup))
            except (OSError, http.client.HTTPException):
                tallies[name].errors += 1
                continue
            spent = time.perf_counter() - began
            tallies[name].latencies.append(spent)
            tallies[name].elapsed += spent
        if len(answers) == 2 and answers["pywb"] != answers["ours"]:
            mismatches += 1
            if mismatches <= 3:
                print(f"  differs: {lookup.stamp} {lookup.url}: pywb {answers['pywb'][0]}, ours {answers['ours'][0]}")
    for client in clients.values():
        client.close()
    return tallies, mismatches


def concurrent(name: str, port: int, lookups: list[Lookup], keep_alive: bool, threads: int) -> Tally:
    """`threads` clients at once on one engine; requests/s from the wall clock."""
    tally = Tally()
    lock = threading.Lock()
    shares = [lookups[i::threads] for i in range(threads)]

    def work(share: list[Lookup]) -> None:
        client = Client(port, keep_alive)
        for lookup in share:
            began = time.perf_counter()
            try:
                status, _body = client.get(ENGINES[name](lookup))
            except (OSError, http.client.HTTPException):
                with lock:
                    tally.errors += 1
                continue
            with lock:
                tally.latencies.append(time.perf_counter() - began)
                if status != 200 and status != 301:
                    tally.errors += 1
        client.close()

    workers = [threading.Thread(target=work, args=(share,)) for share in shares]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    tally.elapsed = time.perf_counter() - began
    return tally


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def row(label: str, tally: Tally) -> tuple[str, float, float]:
    rate = len(tally.latencies) / tally.elapsed if tally.elapsed else float("nan")
    p50, p95 = percentile(tally.latencies, 50) * 1000, percentile(tally.latencies, 95) * 1000
    print(f"  {label:<28} {len(tally.latencies):>6} {rate:>9.1f} {p50:>8.2f} {p95:>8.2f} {tally.errors:>6}")
    return label, rate, p50


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=1000, help="lookups per engine and mode")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="clients at once (1: sequential, the two engines alternating)")
    parser.add_argument("--seal-every", type=int, default=250, help="captures per sealed WARC file")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the data folder")
    parser.add_argument("--keep", default=None,
                        help="build the collection in this folder and keep it; reuse it when it is there "
                             "(the fixture site's port changes, so only the stored bytes are compared)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from archiver.replay.server import pywb_python
    from tests.conftest import make_settings
    from tests.fixture_site import FixtureSite
    from tests.replay_server import free_port
    pywb_python()                         # says `make pywb` when it is missing

    with tempfile.TemporaryDirectory(prefix="archiver-replay-bench-") as tmp, FixtureSite() as site:
        data_dir = Path(args.keep or tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        port, replay_port = free_port(), free_port()
        env = service_env(data_dir, port, replay_port, args.database_url)
        extra = {"ARCHIVER_ALLOW_PRIVATE": site.allow, "ARCHIVER_PORT": port, "ARCHIVER_REPLAY_PORT": replay_port}
        if args.database_url:
            extra["DATABASE_URL"] = args.database_url
        settings = make_settings(data_dir, **extra)
        saved = data_dir / "bench-lookups.json"
        catalogue = settings.database_url.split(":")[0]
        if args.keep and saved.exists():       # a collection kept from an earlier run
            lookups = [Lookup(**item) for item in json.loads(saved.read_text())]
            print(f"reusing the collection in {data_dir} ({catalogue}): {len(lookups)} distinct raw lookups",
                  flush=True)
        else:
            print(f"building {args.captures} captures in {data_dir} ({catalogue}) ...", flush=True)
            began = time.monotonic()
            lookups = build_collection(settings, site, args.captures, args.seal_every)
            print(f"built in {time.monotonic() - began:.0f} s: {len(lookups)} distinct raw lookups", flush=True)
            saved.write_text(json.dumps([vars(lookup) for lookup in lookups]))
        rng = random.Random(args.seed)
        chosen = [rng.choice(lookups) for _ in range(args.lookups)]
        warm = [rng.choice(lookups) for _ in range(30)]

        procs = []
        try:
            procs.append(start([str(BIN / "archiver"), "replay"], env, f"http://127.0.0.1:{replay_port}/",
                               data_dir / "replay.log"))
            procs.append(start([str(BIN / "archiver"), "web", "--workers", "1"], env,
                               f"http://127.0.0.1:{port}/about", data_dir / "web.log"))
            ports = {"pywb": replay_port, "ours": port}
            print(f"load average before: {load_average()}  (cores: {os.cpu_count()})")
            print(f"  {'engine, connections':<28} {'n':>6} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}")
            results = {}
            for keep_alive in (False, True):
                mode = "keep-alive" if keep_alive else "new conn."
                sequential(ports, warm, keep_alive)
                if args.concurrency == 1:
                    tallies, mismatches = sequential(ports, chosen, keep_alive)
                    for name in ports:
                        results[(name, mode)] = row(f"{name}, {mode}", tallies[name])
                    print(f"  ({mismatches} answers differ between the two)")
                else:
                    for name, engine_port in ports.items():
                        tally = concurrent(name, engine_port, chosen, keep_alive, args.concurrency)
                        results[(name, mode)] = row(f"{name}, {mode}, x{args.concurrency}", tally)
                _l, pywb_rate, pywb_p50 = results[("pywb", mode)]
                _l, ours_rate, ours_p50 = results[("ours", mode)]
                print(f"  ours/pywb, {mode}: {ours_rate / pywb_rate:.2f}x the requests/s, "
                      f"p50 {ours_p50 / pywb_p50:.2f}x")
            print(f"load average after: {load_average()}")
        finally:
            for proc in procs:
                stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

