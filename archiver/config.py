"""All configuration, read from environment variables in one place.

`load_settings()` reads and validates; nothing here runs at import time, so
tests build a `Settings` of their own with `Settings.from_env({...})`.
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from archiver import __version__
from archiver.allocator import MIMALLOC, SYSTEM
from archiver.browser.modes import MODES

DEFAULT_USER_AGENT = f"archiver/{__version__} (web archive; +{{contact}})"


# WARC gzip engines and their levels (archiver/warc/compression.py): ISA-L has levels 0-3,
# of which 0 barely compresses; 1-3 are also valid zlib levels (the WARC importer uses zlib).
GZIP_LEVELS = {"isal": range(1, 4), "zlib": range(1, 10)}
GZIP_DEFAULT_LEVELS = {"isal": 2, "zlib": 6}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    replay_host: str = "127.0.0.1"         # the replay origin (pywb), apart from the app's
    replay_port: int = 8001
    # /raw/ (archiver/replay/raw.py): a record longer than this is streamed, not read whole
    raw_stream_bytes: int = 8 * 1024 * 1024
    database_url: str = ""
    broker_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str = ""              # the S3 API's address for s3:// storage when not AWS
    db_pool_size: int = 5                  # PostgreSQL connections kept open per process
    db_max_overflow: int = 10              # more opened under load, closed when returned
    # host:port pairs the fetcher may reach although they are not public addresses
    allow_private: frozenset[tuple[str, int]] = frozenset()
    contact_url: str = "http://127.0.0.1:8000/about"
    user_agent: str = ""
    operator: str = ""
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_deadline: float = 120.0
    max_body_bytes: int = 100 * 1024 * 1024
    max_redirects: int = 10
    # a page's requisites (images, stylesheets, scripts, fonts, icons), fetched with it
    max_requisites: int = 200              # 0: fetch none
    requisites_max_bytes: int = 50 * 1024 * 1024
    requisites_deadline: float = 60.0      # seconds for all of them, after the page
    requisite_concurrency: int = 4
    requisite_css_depth: int = 3           # stylesheets in an @import chain
    max_decoded_bytes: int = 32 * 1024 * 1024     # decoded body read for text; keeps a bomb small
    max_urls_per_submission: int = 100
    retry_backoff: float = 10.0
    capture_queue: str = "capture"
    maintenance_queue: str = "maintenance" # dispatch, reconcile, fixity audits, signed log heads
    dispatch_interval: float = 60.0        # how often beat runs the watch dispatcher
    reconcile_interval: float = 60.0       # how often beat runs the reconciler
    reconcile_after: float = 900.0         # a capture queued this long is sent again
    audit_pace_mbps: float = 50.0          # fixity audits read at most this many MB/s (0: no limit)
    audit_interval: float = 86400.0        # how often beat starts a fixity audit
    watch_max_failures: int = 5            # consecutive failures before a watch is flagged
    watch_backoff: float = 300.0           # first back-off after a failed scheduled capture
    host_min_interval: float = 10.0        # politeness: seconds between scheduled captures of a host
    host_concurrency: int = 1              # politeness: scheduled captures of a host at once
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 6
    webhook_backoff: float = 30.0          # first wait before a failed webhook is sent again
    dedup: str = "revisit"                 # archiver.dedup policy: "revisit" or "keep"
    # browser-mode captures (archiver/browser, docs/browser-capture.md)
    capture_mode: str = "plain"            # default mode of a submission: "plain" or "browser"
    browser_path: str = "/usr/bin/chromium"
    # seconds to load, scroll and settle a page after its fetch; never more than the task's soft
    # time limit leaves (archiver/browser/budget.py)
    browser_deadline: float = 60.0
    browser_max_exchanges: int = 300       # requests the page may make that are fetched and archived
    browser_max_bytes: int = 50 * 1024 * 1024      # bytes of all those responses together
    browser_viewport: tuple[int, int] = (1280, 800)
    public_url: str = ""                   # the app's address in webhooks and feeds
    warc_roll_bytes: int = 1024 * 1024 * 1024
    # gzip of WARC records: engine "isal" (levels 1-3) or "zlib" (1-9); docs/warc.md, Compression
    warc_gzip_engine: str = "isal"
    warc_gzip_level: int = 2
    worker_concurrency: int = 2
    # the Celery worker's memory allocator, preloaded when it starts (archiver/allocator.py):
    # mimalloc, system, or the path of an allocator's shared library
    worker_allocator: str = MIMALLOC
    # tasks a worker process reserves from the broker, the one it runs included (Celery's
    # prefetch multiplier): at 2 the next task is at hand when one ends (docs/deploy.md)
    worker_prefetch: int = 2
    # captures one task runs and stores together (archiver/storing.py); 1: one task each
    capture_batch: int = 20
    task_soft_time_limit: int = 300
    task_time_limit: int = 360
    max_attempts: int = 5
    secret_key: str = ""
    # accounts (docs/accounts.md): what a visitor who is not logged in may do
    anonymous_role: str = "researcher"     # none, researcher or archivist
    rate_limit_url: str = ""               # redis://... for the limiter; "" = the broker if Redis, else SQLite
    login_rate: int = 10                   # login attempts per minute per address and per account
    submit_rate: int = 120                 # submissions per minute per account, token or address
    lockout_after: int = 5                 # bad passwords in a row before an account is locked
    lockout_seconds: float = 900.0         # how long it stays locked
    hostname: str = field(default_factory=socket.gethostname)

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warcs"

    @property
    def open_warc_dir(self) -> Path:
        """Where WARC files are written as `.open` before they are sealed into storage."""
        return self.data_dir / "open"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("ARCHIVER_DATA_DIR", "./data")).expanduser().resolve()
        port = _int(env, "ARCHIVER_PORT", 8000, low=1, high=65535)
        contact = env.get("ARCHIVER_CONTACT_URL", f"http://127.0.0.1:{port}/about")
        gzip_engine = (env.get("ARCHIVER_WARC_GZIP_ENGINE") or "isal").strip().lower()
        settings = cls(
            data_dir=data_dir,
            host=env.get("ARCHIVER_HOST", "127.0.0.1"),
            port=port,
            replay_host=env.get("ARCHIVER_REPLAY_HOST") or "127.0.0.1",
            replay_port=_int(env, "ARCHIVER_REPLAY_PORT", 8001, low=1, high=65535),
            raw_stream_bytes=_int(env, "ARCHIVER_RAW_STREAM_BYTES", 8 * 1024 * 1024, low=0),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'catalogue.sqlite3'}",
            broker_url=env.get("ARCHIVER_BROKER_URL") or "filesystem://",
            storage_url=env.get("ARCHIVER_STORAGE_URL") or (data_dir / "warcs").as_uri(),
            s3_endpoint_url=env.get("ARCHIVER_S3_ENDPOINT_URL", "").rstrip("/"),
            db_pool_size=_int(env, "ARCHIVER_DB_POOL_SIZE", 5, low=1, high=1000),
            db_max_overflow=_int(env, "ARCHIVER_DB_MAX_OVERFLOW", 10, low=0, high=1000),
            allow_private=_host_ports(env.get("ARCHIVER_ALLOW_PRIVATE", "")),
            contact_url=contact,
            user_agent=env.get("ARCHIVER_USER_AGENT") or DEFAULT_USER_AGENT.format(contact=contact),
            operator=env.get("ARCHIVER_OPERATOR", ""),
            connect_timeout=_float(env, "ARCHIVER_CONNECT_TIMEOUT", 10.0),
            read_timeout=_float(env, "ARCHIVER_READ_TIMEOUT", 30.0),
            total_deadline=_float(env, "ARCHIVER_TOTAL_DEADLINE", 120.0),
            max_body_bytes=_int(env, "ARCHIVER_MAX_BODY_BYTES", 100 * 1024 * 1024, low=1),
            max_redirects=_int(env, "ARCHIVER_MAX_REDIRECTS", 10, low=0, high=50),
            max_requisites=_int(env, "ARCHIVER_MAX_REQUISITES", 200, low=0, high=10_000),
            requisites_max_bytes=_int(env, "ARCHIVER_REQUISITES_MAX_BYTES", 50 * 1024 * 1024, low=1),
            requisites_deadline=_float(env, "ARCHIVER_REQUISITES_DEADLINE", 60.0),
            requisite_concurrency=_int(env, "ARCHIVER_REQUISITE_CONCURRENCY", 4, low=1, high=32),
            requisite_css_depth=_int(env, "ARCHIVER_REQUISITE_CSS_DEPTH", 3, low=1, high=10),
            max_decoded_bytes=_int(env, "ARCHIVER_MAX_DECODED_BYTES", 32 * 1024 * 1024, low=1),
            max_urls_per_submission=_int(env, "ARCHIVER_MAX_URLS_PER_SUBMISSION", 100, low=1),
            retry_backoff=_float(env, "ARCHIVER_RETRY_BACKOFF", 10.0),
            capture_queue=env.get("ARCHIVER_CAPTURE_QUEUE") or "capture",
            maintenance_queue=env.get("ARCHIVER_MAINTENANCE_QUEUE") or "maintenance",
            dispatch_interval=_float(env, "ARCHIVER_DISPATCH_INTERVAL", 60.0),
            reconcile_interval=_float(env, "ARCHIVER_RECONCILE_INTERVAL", 60.0),
            reconcile_after=_float(env, "ARCHIVER_RECONCILE_AFTER", 900.0),
            audit_pace_mbps=_float(env, "ARCHIVER_AUDIT_PACE_MBPS", 50.0, zero_ok=True),
            audit_interval=_float(env, "ARCHIVER_AUDIT_INTERVAL", 86400.0),
            watch_max_failures=_int(env, "ARCHIVER_WATCH_MAX_FAILURES", 5, low=1, high=1000),
            watch_backoff=_float(env, "ARCHIVER_WATCH_BACKOFF", 300.0),
            host_min_interval=_float(env, "ARCHIVER_HOST_MIN_INTERVAL", 10.0, zero_ok=True),
            host_concurrency=_int(env, "ARCHIVER_HOST_CONCURRENCY", 1, low=1, high=100),
            webhook_timeout=_float(env, "ARCHIVER_WEBHOOK_TIMEOUT", 10.0),
            webhook_max_attempts=_int(env, "ARCHIVER_WEBHOOK_MAX_ATTEMPTS", 6, low=1, high=50),
            webhook_backoff=_float(env, "ARCHIVER_WEBHOOK_BACKOFF", 30.0),
            dedup=env.get("ARCHIVER_DEDUP") or "revisit",
            capture_mode=env.get("ARCHIVER_CAPTURE_MODE") or "plain",
            browser_path=env.get("ARCHIVER_BROWSER_PATH") or "/usr/bin/chromium",
            browser_deadline=_float(env, "ARCHIVER_BROWSER_DEADLINE", 60.0),
            browser_max_exchanges=_int(env, "ARCHIVER_BROWSER_MAX_EXCHANGES", 300, low=1, high=10_000),
            browser_max_bytes=_int(env, "ARCHIVER_BROWSER_MAX_BYTES", 50 * 1024 * 1024, low=1),
            browser_viewport=_viewport(env.get("ARCHIVER_BROWSER_VIEWPORT") or "1280x800"),
            public_url=(env.get("ARCHIVER_PUBLIC_URL") or f"http://{_url_host(env.get('ARCHIVER_HOST', '127.0.0.1'))}:{port}").rstrip("/"),
            warc_roll_bytes=_int(env, "ARCHIVER_WARC_ROLL_BYTES", 1024 * 1024 * 1024, low=1024),
            warc_gzip_engine=gzip_engine,
            warc_gzip_level=_int(env, "ARCHIVER_WARC_GZIP_LEVEL", GZIP_DEFAULT_LEVELS.get(gzip_engine, 6),
                                 low=1, high=9),
            worker_concurrency=_int(env, "ARCHIVER_WORKER_CONCURRENCY", 2, low=1, high=256),
            worker_allocator=(env.get("ARCHIVER_WORKER_ALLOCATOR") or MIMALLOC).strip(),
            worker_prefetch=_int(env, "ARCHIVER_WORKER_PREFETCH", 2, low=1, high=64),
            capture_batch=_int(env, "ARCHIVER_CAPTURE_BATCH", 20, low=1, high=100),
            task_soft_time_limit=_int(env, "ARCHIVER_TASK_SOFT_TIME_LIMIT", 300, low=1),
            task_time_limit=_int(env, "ARCHIVER_TASK_TIME_LIMIT", 360, low=1),
            max_attempts=_int(env, "ARCHIVER_MAX_ATTEMPTS", 5, low=1, high=100),
            secret_key=env.get("ARCHIVER_SECRET_KEY", ""),
            anonymous_role=env.get("ARCHIVER_ANONYMOUS_ROLE") or "researcher",
            rate_limit_url=env.get("ARCHIVER_RATE_LIMIT_URL", ""),
            login_rate=_int(env, "ARCHIVER_LOGIN_RATE", 10, low=1, high=100_000),
            submit_rate=_int(env, "ARCHIVER_SUBMIT_RATE", 120, low=1, high=1_000_000),
            lockout_after=_int(env, "ARCHIVER_LOCKOUT_AFTER", 5, low=1, high=1000),
            lockout_seconds=_float(env, "ARCHIVER_LOCKOUT_SECONDS", 900.0),
        )
        settings.validate()
        return settings

    def with_overrides(self, **changes) -> "Settings":
        new = replace(self, **changes)
        new.validate()
        return new

    @property
    def limiter_url(self) -> str:
        """Where rate-limit counters live: a Redis URL, or "" for the SQLite file in the data folder."""
        if self.rate_limit_url:
            return self.rate_limit_url
        return self.broker_url if urlsplit(self.broker_url).scheme in ("redis", "rediss") else ""

    def validate(self) -> None:
        if self.warc_gzip_engine not in GZIP_LEVELS:
            raise ConfigError(
                f"ARCHIVER_WARC_GZIP_ENGINE={self.warc_gzip_engine!r} is not a gzip engine: use isal "
                "(ISA-L, the default: several times faster) or zlib")
        levels = GZIP_LEVELS[self.warc_gzip_engine]
        if self.warc_gzip_level not in levels:
            raise ConfigError(
                f"ARCHIVER_WARC_GZIP_LEVEL={self.warc_gzip_level} is not a level of the "
                f"{self.warc_gzip_engine} engine: use {levels.start} to {levels.stop - 1} "
                f"(default {GZIP_DEFAULT_LEVELS[self.warc_gzip_engine]})")
        if self.worker_allocator not in (MIMALLOC, SYSTEM) and not (
                os.path.isabs(self.worker_allocator) and os.path.isfile(self.worker_allocator)):
            raise ConfigError(
                f"ARCHIVER_WORKER_ALLOCATOR={self.worker_allocator!r} is not an allocator: use mimalloc "
                "(the default), system (glibc's malloc), or the absolute path of an allocator's "
                "shared library, such as /usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
        if self.anonymous_role not in ("none", "researcher", "archivist"):
            raise ConfigError(
                f"ARCHIVER_ANONYMOUS_ROLE={self.anonymous_role!r} is not a role for visitors who are not "
                "logged in: use none (log in to see anything), researcher (read public captures; the "
                "default) or archivist (also submit)")
        if self.rate_limit_url and urlsplit(self.rate_limit_url).scheme not in ("redis", "rediss"):
            raise ConfigError(
                f"ARCHIVER_RATE_LIMIT_URL={self.rate_limit_url!r} must be redis://HOST:PORT/DB, or unset "
                "(the broker's Redis, else a SQLite file in the data folder)")
        if urlsplit(self.database_url).scheme.split("+")[0] not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"DATABASE_URL={self.database_url!r} is not supported: use sqlite:///PATH "
                "or postgresql://USER@HOST:PORT/DB"
            )
        broker_scheme = urlsplit(self.broker_url).scheme
        if broker_scheme not in ("filesystem", "redis", "rediss"):
            raise ConfigError(
                f"ARCHIVER_BROKER_URL={self.broker_url!r} is not supported: use redis://HOST:PORT/DB "
                "or leave it unset for the embedded filesystem broker"
            )
        storage = urlsplit(self.storage_url)
        if storage.scheme not in ("file", "s3"):
            raise ConfigError(
                f"ARCHIVER_STORAGE_URL={self.storage_url!r} is not supported: use file:///ABSOLUTE/PATH "
                "or s3://BUCKET/PREFIX"
            )
        if storage.scheme == "s3":
            from storage import parse_s3_url
            try:
                parse_s3_url(self.storage_url)
            except ValueError as exc:
                raise ConfigError(f"ARCHIVER_STORAGE_URL: {exc}") from None
        endpoint = urlsplit(self.s3_endpoint_url)
        if self.s3_endpoint_url and (endpoint.scheme not in ("http", "https") or not endpoint.hostname
                                     or endpoint.query or endpoint.path not in ("", "/")):
            raise ConfigError(
                f"ARCHIVER_S3_ENDPOINT_URL={self.s3_endpoint_url!r} must be the S3 API's address, "
                "e.g. https://minio.internal:9000 (http or https, no path); leave it unset for AWS"
            )
        if self.s3_endpoint_url and storage.scheme != "s3":
            raise ConfigError(
                "ARCHIVER_S3_ENDPOINT_URL is set but ARCHIVER_STORAGE_URL is not s3://BUCKET/PREFIX")
        for name, queue in (("ARCHIVER_CAPTURE_QUEUE", self.capture_queue),
                            ("ARCHIVER_MAINTENANCE_QUEUE", self.maintenance_queue)):
            if not re.fullmatch(r"[A-Za-z0-9._:-]{1,200}", queue):
                raise ConfigError(f"{name}={queue!r} must be a queue name: letters, digits and . _ : -")
        if self.capture_queue == self.maintenance_queue:
            raise ConfigError(
                f"ARCHIVER_CAPTURE_QUEUE and ARCHIVER_MAINTENANCE_QUEUE are both {self.capture_queue!r}: "
                "give each kind of work its own queue, so a capture backlog cannot hold up audits "
                "and the scheduler")
        if not re.fullmatch(r"[A-Za-z0-9.:-]+", self.replay_host or ""):
            raise ConfigError(
                f"ARCHIVER_REPLAY_HOST={self.replay_host!r} must be a host name or IP address "
                "(e.g. 127.0.0.1), without scheme, port or path"
            )
        if (self.replay_host, self.replay_port) == (self.host, self.port):
            raise ConfigError(
                f"ARCHIVER_REPLAY_PORT={self.replay_port} on {self.replay_host} is the web app's own "
                "address: replay must be a separate origin, so archived scripts cannot reach the app"
            )
        if self.capture_mode not in MODES:
            raise ConfigError(
                f"ARCHIVER_CAPTURE_MODE={self.capture_mode!r} is not a capture mode: use 'plain' (one "
                "HTTP fetch of the page and its requisites) or 'browser' (the page loaded in headless "
                "Chromium, every request it makes archived)")
        if self.dedup not in ("revisit", "keep"):
            raise ConfigError(
                f"ARCHIVER_DEDUP={self.dedup!r} is not a policy: use 'revisit' (an unchanged payload "
                "is written as a WARC revisit record) or 'keep' (every response in full)"
            )
        public = urlsplit(self.public_url)
        if public.scheme not in ("http", "https") or not public.netloc or public.query or public.fragment:
            raise ConfigError(
                f"ARCHIVER_PUBLIC_URL={self.public_url!r} must be the app's address as people reach "
                "it, e.g. https://archive.example.org (http or https, no query)"
            )
        if not 1 <= self.reconcile_interval <= 3600 or self.reconcile_after < 1:
            raise ConfigError(
                f"ARCHIVER_RECONCILE_INTERVAL={self.reconcile_interval:g} must be between 1 and 3600 "
                f"seconds and ARCHIVER_RECONCILE_AFTER={self.reconcile_after:g} at least 1: keep "
                "ARCHIVER_RECONCILE_AFTER above the longest retry backoff (600 s) to avoid needless resends")
        if not 1 <= self.dispatch_interval <= 3600:
            raise ConfigError(
                f"ARCHIVER_DISPATCH_INTERVAL={self.dispatch_interval:g} must be between 1 and 3600 "
                "seconds: the dispatcher finds due watches that often (60 suits minute-level cron)")
        if self.host_min_interval < 0 or self.watch_backoff <= 0:
            raise ConfigError("ARCHIVER_HOST_MIN_INTERVAL must be zero or more and "
                              "ARCHIVER_WATCH_BACKOFF above zero (seconds)")
        if self.host_concurrency < 1 or self.watch_max_failures < 1:
            raise ConfigError("ARCHIVER_HOST_CONCURRENCY and ARCHIVER_WATCH_MAX_FAILURES must be "
                              "at least 1")
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ConfigError(
                "ARCHIVER_TASK_SOFT_TIME_LIMIT must be below ARCHIVER_TASK_TIME_LIMIT "
                f"(now {self.task_soft_time_limit} >= {self.task_time_limit})"
            )
        if self.total_deadline >= self.task_soft_time_limit:
            raise ConfigError(
                "ARCHIVER_TOTAL_DEADLINE must be below ARCHIVER_TASK_SOFT_TIME_LIMIT so a slow "
                f"server fails the capture before the task is killed (now {self.total_deadline} "
                f">= {self.task_soft_time_limit})"
            )
        if self.total_deadline + self.requisites_deadline >= self.task_soft_time_limit:
            # the page and then its requisites run within one task
            raise ConfigError(
                "ARCHIVER_TOTAL_DEADLINE + ARCHIVER_REQUISITES_DEADLINE must be below "
                "ARCHIVER_TASK_SOFT_TIME_LIMIT, so a capture with slow requisites is stored "
                f"before the task is killed (now {self.total_deadline:g} + "
                f"{self.requisites_deadline:g} >= {self.task_soft_time_limit})"
            )


def load_settings() -> Settings:
    """Settings for this process, from its environment."""
    return Settings.from_env()


def _int(env: Mapping[str, str], name: str, default: int, low: int | None = None,
         high: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a whole number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{name}={value} must be between {low} and {high if high is not None else 'any'}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, zero_ok: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}={raw!r} must be a finite number of seconds")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{name}={value} must be {'zero or more' if zero_ok else 'above zero'}")
    return value


def _viewport(raw: str) -> tuple[int, int]:
    """`WIDTHxHEIGHT` in CSS pixels, e.g. 1280x800."""
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", raw)
    if not match or not all(100 <= int(n) <= 10_000 for n in match.groups()):
        raise ConfigError(f"ARCHIVER_BROWSER_VIEWPORT={raw!r} must be WIDTHxHEIGHT in pixels, each "
                          "100 to 10000, e.g. 1280x800")
    return int(match.group(1)), int(match.group(2))


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _host_ports(raw: str) -> frozenset[tuple[str, int]]:
    """Parse `host:port,host:port` (IPv6 as `[::1]:8080`)."""
    pairs = set()
    for item in raw.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"ARCHIVER_ALLOW_PRIVATE entry {item!r} must look like host:port, e.g. 127.0.0.1:8080"
            )
        pairs.add((host.strip("[]").lower().rstrip("."), int(port)))
    return frozenset(pairs)
