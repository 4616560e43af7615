"""Load on the web app: N concurrent submitters for S seconds against gunicorn.

Starts `archiver web` (gunicorn, gthread) on a fresh data folder with the real Redis as the
broker (a queue of its own, no worker: captures stay queued, so only the app is measured).
The load comes from `wrk` (Debian package `wrk`, C, so the generator costs little of the
two cores): each connection POSTs /api/v1/captures with a new URL in a loop. Printed beside
it, the baseline: the same connections fetching a static file from the same server (what
gunicorn and Flask cost with no catalogue work). Without wrk, a Python client is used
(`--client python`), which itself takes much of the machine.

    .venv/bin/python bench/load.py                       # 50 connections, 60 s, SQLite
    .venv/bin/python bench/load.py --seconds 20 --database-url postgresql://postgres@127.0.0.1:5432/test

Target: p99 under 300 ms and no 5xx.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: int | None) -> None:
        with self.lock:
            if status is None:
                self.errors += 1
                return
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def submitter(base: str, stop: float, tally: Tally, n: int) -> None:
    session = requests.Session()
    i = 0
    while time.monotonic() < stop:
        i += 1
        started = time.perf_counter()
        try:
            made = session.post(f"{base}/api/v1/captures", timeout=30,
                                json={"url": f"https://example.org/load/{n}/{i}", "note": "load"})
            tally.add(time.perf_counter() - started, made.status_code)
            if made.status_code != 202:
                continue
            started = time.perf_counter()
            seen = session.get(f"{base}{made.headers['Location']}", timeout=30)
            tally.add(time.perf_counter() - started, seen.status_code)
        except requests.RequestException:
            tally.add(0, None)


def static_reader(base: str, stop: float, tally: Tally, _n: int) -> None:
    session = requests.Session()
    while time.monotonic() < stop:
        started = time.perf_counter()
        try:
            got = session.get(f"{base}/static/archiver.css", timeout=30)
            tally.add(time.perf_counter() - started, got.status_code)
        except requests.RequestException:
            tally.add(0, None)


WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) server_errors = 0; unexpected = 0; sent = 0; id = math.random(1, 1000000000) end
request = function()
  sent = sent + 1
  if PATH then return wrk.format("GET", PATH, HEADERS) end
  local body = string.format('{"url": "https://example.org/load/%d/%d", "note": "load"}', id, sent)
  return wrk.format("POST", "/api/v1/captures", HEADERS, body)
end
response = function(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1
  elseif status ~= EXPECTED then unexpected = unexpected + 1 end
end
done = function(summary, latency, requests)
  local s, u = 0, 0
  for _, t in ipairs(threads) do s = s + t:get("server_errors"); u = u + t:get("unexpected") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %d\n", summary.requests, s, u,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


@dataclass
class WrkResult:
    requests: int
    server_errors: int
    unexpected: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    seconds: float
    cpu_ms: float = float("nan")     # the web app's CPU per request


def run_wrk(base: str, connections: int, seconds: float, folder: Path, path: str | None,
            expected: int, token: str | None, web_pid: int) -> WrkResult:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    pairs = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    lua = (f"HEADERS = {{{pairs}}}\nPATH = {json.dumps(path) if path else 'nil'}\n"
           f"EXPECTED = {expected}\n" + WRK_SCRIPT)
    script = folder / f"load-{expected}.lua"
    script.write_text(lua)
    cpu_before = tree_cpu_seconds(web_pid)
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s",
                          "--timeout", "10s", "-s", str(script), base], capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
    n, s5, unexpected, sock, p50, p99, duration = line.split()[1:]
    cpu = tree_cpu_seconds(web_pid) - cpu_before
    return WrkResult(int(n), int(s5), int(unexpected), int(sock), float(p50) / 1000, float(p99) / 1000,
                     int(duration) / 1e6, cpu / max(int(n), 1) * 1000)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc): the app's own
    cost per request, which other load on the machine does not inflate as it does latency."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += (int(stats[pid][11]) + int(stats[pid][12])) / ticks
        todo.extend(children.get(pid, []))
    return total


def wrk_line(name: str, r: WrkResult) -> str:
    return (f"{name:<34} {r.requests:>8} {r.requests / r.seconds:>9.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
            f"{r.server_errors:>5} {r.socket_errors + r.unexpected:>6} {r.cpu_ms:>7.2f}")


def run(client, base: str, clients: int, seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(base, stop, tally, n)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - started


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(name: str, tally: Tally, elapsed: float) -> str:
    total = len(tally.latencies)
    server_errors = sum(n for s, n in tally.statuses.items() if s >= 500)
    return (f"{name:<34} {total:>8} {total / elapsed:>9.1f} {percentile(tally.latencies, 50) * 1000:>8.1f} "
            f"{percentile(tally.latencies, 99) * 1000:>8.1f} {server_errors:>5} {tally.errors:>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the data folder")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                        help="load generator (default: wrk when installed: apt-get install wrk)")
    parser.add_argument("--token", default=None, help="API token sent as Authorization: Bearer")
    args = parser.parse_args(argv)

    import redis
    queue = f"archiver-load-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="archiver-load-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
        env.update({"ARCHIVER_DATA_DIR": str(Path(tmp) / "data"), "ARCHIVER_PORT": str(port),
                    "ARCHIVER_REPLAY_PORT": str(free_port()), "ARCHIVER_BROKER_URL": args.redis,
                    "ARCHIVER_CAPTURE_QUEUE": queue,
                    # the bench measures the app, not the login: submissions without a token
                    "ARCHIVER_ANONYMOUS_ROLE": "archivist",
                    # all clients share one address: lift the per-address submission limit
                    "ARCHIVER_SUBMIT_RATE": "1000000"})
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        subprocess.run([BIN / "archiver", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        log = open(Path(tmp) / "web.log", "wb")
        web = subprocess.Popen([BIN / "archiver", "web", "--workers", str(args.web_workers),
                                "--threads", str(args.web_threads)], env=env,
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the web app did not start")
                time.sleep(0.2)
            catalogue = "PostgreSQL" if args.database_url else "SQLite"
            print(f"{args.clients} clients; gunicorn {args.web_workers} workers x {args.web_threads} threads; "
                  f"{catalogue} catalogue; Redis broker; {os.cpu_count()} cores shared with the clients; "
                  f"load average {os.getloadavg()[0]:.1f} before the run")
            print(f"{'':<34} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'5xx':>5} {'errors':>6} {'cpu ms':>7}")
            if args.client == "wrk":
                folder = Path(tmp)
                baseline = run_wrk(base, args.clients, args.baseline_seconds, folder, "/static/archiver.css", 200, None,
                                   web.pid)
                print(wrk_line("baseline: GET a static file", baseline))
                ours = run_wrk(base, args.clients, args.seconds, folder, None, 202, args.token, web.pid)
                print(wrk_line("ours: POST /api/v1/captures", ours))
                p99, server_errors, other = ours.p99_ms, ours.server_errors, ours.unexpected + ours.socket_errors
            else:
                base_tally, base_elapsed = run(static_reader, base, args.clients, args.baseline_seconds)
                print(line("baseline: GET a static file", base_tally, base_elapsed))
                tally, elapsed = run(submitter, base, args.clients, args.seconds)
                print(line("ours: POST capture + GET it", tally, elapsed))
                p99 = percentile(tally.latencies, 99) * 1000
                server_errors = sum(n for s, n in tally.statuses.items() if s >= 500)
                other = tally.errors + sum(n for s, n in tally.statuses.items() if s not in (200, 202))
            print(f"load average {os.getloadavg()[0]:.1f} after the run; cpu ms: the web app's CPU "
                  "time (all its processes) per request")
            verdict = "met" if p99 < 300 and server_errors == 0 and other == 0 else "NOT met"
            print(f"target p99 < 300 ms and no 5xx: {verdict} (p99 {p99:.1f} ms, {server_errors} 5xx, "
                  f"{other} other failures)")
        finally:
            web.terminate()
            web.wait(timeout=30)
            log.close()
            redis.Redis.from_url(args.redis).delete(queue)
    return 0


if __name__ == "__main__":
    sys.exit(main())
