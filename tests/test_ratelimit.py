"""One contract for both rate-limit backends: the SQLite file and the real Redis."""
from __future__ import annotations

import uuid

import pytest

from archiver.accounts.ratelimit import RedisLimiter, SQLiteLimiter, open_limiter
from tests.conftest import make_settings


class Clock:
    """The limiter's time source, set by the test (no sleeping, no timed assertions)."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def make_limiter(request, tmp_path):
    """A factory: two limiters from one factory share their counts, as two web processes do."""
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        yield lambda clock: RedisLimiter(url, namespace, clock)
        import redis
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"archiver:rl:{namespace}:*"):
            client.delete(key)
    else:
        yield lambda clock: SQLiteLimiter(tmp_path / "ratelimit.sqlite3", clock)


def test_hits_within_the_limit_pass_and_the_next_waits_for_the_window(make_limiter):
    clock = Clock()
    limiter = make_limiter(clock)
    assert [limiter.hit("login:addr:1", 3, 60) for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("login:addr:1", 3, 60) == pytest.approx(60)
    clock.now += 15
    assert limiter.hit("login:addr:1", 3, 60) == pytest.approx(45)
    clock.now += 44
    assert limiter.hit("login:addr:1", 3, 60) == pytest.approx(1)
    clock.now += 1                       # the window is over: the next hit starts a new one
    assert limiter.hit("login:addr:1", 3, 60) == 0
    assert [limiter.hit("login:addr:1", 3, 60) for _ in range(3)][-1] == pytest.approx(60)


def test_keys_are_counted_apart(make_limiter):
    limiter = make_limiter(Clock())
    assert limiter.hit("a", 1, 60) == 0
    assert limiter.hit("a", 1, 60) > 0
    assert limiter.hit("b", 1, 60) == 0


def test_processes_share_counts(make_limiter):
    clock = Clock()
    first, second = make_limiter(clock), make_limiter(clock)
    assert first.hit("k", 2, 60) == 0
    assert second.hit("k", 2, 60) == 0
    assert first.hit("k", 2, 60) > 0 and second.hit("k", 2, 60) > 0


def test_reset_forgets_a_key(make_limiter):
    limiter = make_limiter(Clock())
    limiter.hit("k", 1, 60)
    assert limiter.hit("k", 1, 60) > 0
    limiter.reset("k")
    assert limiter.hit("k", 1, 60) == 0


def test_the_backend_follows_the_settings(tmp_path, redis_url):
    assert isinstance(open_limiter(make_settings(tmp_path)), SQLiteLimiter)
    assert isinstance(open_limiter(make_settings(tmp_path, ARCHIVER_BROKER_URL=redis_url)), RedisLimiter)
    assert isinstance(open_limiter(make_settings(tmp_path, ARCHIVER_RATE_LIMIT_URL=redis_url)), RedisLimiter)


def test_a_redis_that_does_not_answer_is_said_so_by_where_it_is():
    from archiver.accounts.ratelimit import LimiterUnavailable
    limiter = RedisLimiter("redis://127.0.0.1:1/0", "test-down", Clock())
    with pytest.raises(LimiterUnavailable, match="Redis at 127.0.0.1:1 did not answer"):
        limiter.hit("submit:addr:1", 3, 60)
