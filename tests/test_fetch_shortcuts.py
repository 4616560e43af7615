"""The fetcher's shortcuts against the libraries' own ways, over many inputs.

Each shortcut skips work that requests, urllib3 or the standard library would do for
every hop; each test here checks that the shortcut gives what the library's way gives.
"""
from __future__ import annotations

import socket

import pytest
import requests
from requests.adapters import HTTPAdapter

from archiver.fetch.guard import Target
from archiver.fetch.wire import Deadline, PinnedAdapter, Tap

URLS = [
    "http://example.org/",
    "http://example.org/a/b?c=d&e=f",
    "https://example.org:8443/p;x=1?q",
    "http://127.0.0.1:8080/article/1?r=0",
    "http://[2001:db8::1]/x?y=%20z",
    "http://example.org/%7Efoo/bar%2F?",
    "http://example.org/a?",
    "http://xn--bcher-kva.example/b%C3%BCcher",
    "http://example.org//double//slash",
]


def _target() -> Target:
    return Target(host="example.org", port=80, address="192.0.2.1", family=socket.AF_INET,
                  sockaddr=("192.0.2.1", 80))


@pytest.fixture
def adapter():
    tap = Tap(Deadline(5))
    adapter = PinnedAdapter(_target(), tap)
    yield adapter
    adapter.close()
    tap.received.close()


@pytest.mark.parametrize("url", URLS)
def test_request_target_is_what_requests_would_send(adapter, url):
    prepared = requests.Request("GET", url).prepare()
    assert adapter.request_url(prepared, None) == HTTPAdapter().request_url(prepared, None)
    assert adapter.request_url(prepared, {}) == HTTPAdapter().request_url(prepared, {})


def test_a_proxy_still_goes_through_requests_own_way(adapter):
    prepared = requests.Request("GET", "http://example.org/a?b").prepare()
    proxies = {"http": "http://proxy.example:3128"}
    assert adapter.request_url(prepared, proxies) == HTTPAdapter().request_url(prepared, proxies)


def test_the_adapter_builds_no_pool_manager_and_closes_its_own_pools(adapter):
    assert adapter.poolmanager is None
    pool = adapter.get_connection_with_tls_context(
        requests.Request("GET", "http://example.org/").prepare(), True)
    adapter.close()
    assert pool.pool is None          # urllib3 empties a closed pool
    assert adapter.max_retries.total == 0 and adapter.max_retries.connect == 0
