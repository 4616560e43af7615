"""Rate limits: at most `limit` hits per key in a window of `window` seconds from its first hit.

One interface, two backends: Redis (shared by every web process and machine; chosen when
the broker or ARCHIVER_RATE_LIMIT_URL is Redis) and a SQLite file in the data folder (shared
by the processes of one machine). tests/test_ratelimit.py runs the same contract over both.
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
import time
from pathlib import Path
from typing import Callable, Protocol

Clock = Callable[[], float]


class LimiterUnavailable(Exception):
    """The limiter's store did not answer: the request cannot be counted."""


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window: float) -> float:
        """Count one hit; 0 when it is within the limit, else the seconds until the window ends."""

    def reset(self, key: str) -> None:
        """Forget the key's count (a successful login clears its account's count)."""


# A key's window starts at its first hit and lasts `window` seconds; the hit after it starts
# the next. (A window aligned to the clock would let a burst straddle two windows.)
REDIS_HIT = """
local start = redis.call('HGET', KEYS[1], 'start')
if (not start) or (tonumber(ARGV[1]) >= tonumber(start) + tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'count', 1)
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
  return {ARGV[1], 1}
end
return {start, redis.call('HINCRBY', KEYS[1], 'count', 1)}
"""


class RedisLimiter:
    def __init__(self, url: str, namespace: str, clock: Clock = time.time):
        import redis
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.namespace, self.clock = namespace, clock
        self._hit = self.redis.register_script(REDIS_HIT)

    def _key(self, key: str) -> str:
        return f"archiver:rl:{self.namespace}:{key}"

    def hit(self, key: str, limit: int, window: float) -> float:
        import redis
        now = self.clock()
        try:
            start, count = self._hit(keys=[self._key(key)], args=[repr(now), repr(float(window))])
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"Redis at {self._where} did not answer ({exc})") from exc
        return 0.0 if int(count) <= limit else max(float(start) + window - now, 0.001)

    def reset(self, key: str) -> None:
        self.redis.delete(self._key(key))

    @property
    def _where(self) -> str:
        kwargs = self.redis.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


class SQLiteLimiter:
    def __init__(self, path: Path, clock: Clock = time.time):
        self.path, self.clock = path, clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("CREATE TABLE IF NOT EXISTS windows (key TEXT PRIMARY KEY, start REAL, count INTEGER)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def hit(self, key: str, limit: int, window: float) -> float:
        try:
            return self._hit(key, limit, window)
        except sqlite3.Error as exc:
            raise LimiterUnavailable(f"the file {self.path} could not be used ({exc})") from exc

    def _hit(self, key: str, limit: int, window: float) -> float:
        now = self.clock()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT start, count FROM windows WHERE key = ?", (key,)).fetchone()
            if row is None or now >= row[0] + window:
                start, count = now, 1
                # the expired windows of other keys go too, so the file stays small
                db.execute("DELETE FROM windows WHERE start < ?", (now - 86400,))
            else:
                start, count = row[0], row[1] + 1
            db.execute("INSERT OR REPLACE INTO windows (key, start, count) VALUES (?, ?, ?)", (key, start, count))
            db.execute("COMMIT")
        return 0.0 if count <= limit else max(start + window - now, 0.001)

    def reset(self, key: str) -> None:
        with closing(self._connect()) as db:
            db.execute("DELETE FROM windows WHERE key = ?", (key,))


def open_limiter(settings, clock: Clock = time.time) -> RateLimiter:
    import hashlib
    if settings.limiter_url:
        # one archive's counters apart from another's on the same Redis: named by its catalogue
        namespace = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        return RedisLimiter(settings.limiter_url, namespace, clock)
    return SQLiteLimiter(settings.data_dir / "ratelimit.sqlite3", clock)
