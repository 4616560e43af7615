"""The address guard, tried hard: well over 100 URLs that must be refused without a
connection, directly and as redirect targets of an allowed fixture; DNS rebinding; proxy
variables in the environment.

Every test runs under a tripwire that stops (and records) any connection other than to
the fixture site, so nothing ever leaves 127.0.0.1, and a refusal is proved by an empty
list of attempts, not by an error message alone.
"""
from __future__ import annotations

import http.server
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from archiver.config import Settings
from archiver.fetch import fetch
from archiver.urls import InvalidURL, normalize_submitted_url
from tests.netguard import Tripwire, offline_system_resolver, resolver_for, sequence_resolver

REFUSED_CODES = {"refused_address", "invalid_url"}

# Every blocked IPv4 range at its edges (first and last address, and a familiar inside one).
RANGE_EDGES = [
    "0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255", "100.64.0.0", "100.127.255.255",
    "127.0.0.0", "127.0.0.1", "127.255.255.255", "169.254.0.0", "169.254.169.254",
    "169.254.255.255", "172.16.0.0", "172.31.255.255", "192.0.0.0", "192.0.0.255",
    "192.0.2.0", "192.0.2.255", "192.88.99.0", "192.88.99.255", "192.168.0.0",
    "192.168.255.255", "198.18.0.0", "198.19.255.255", "198.51.100.0", "198.51.100.255",
    "203.0.113.0", "203.0.113.255", "224.0.0.0", "239.255.255.255", "240.0.0.0",
    "255.255.255.254", "255.255.255.255",
]
# Spellings a resolver reads as an internal IPv4 address although `ipaddress` does not.
NUMERIC_FORMS = [
    "2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "00177.0.0.01", "127.1", "127.0.1",
    "017700000001", "127.000.000.001", "0x7f.0.0.1", "0x7f.1", "0", "167772161",
    "3232235521", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "0xa.0.0.1",
    "10.1", "192.168.1",
]
# Unicode digits and dots, which IDNA mapping folds to ASCII before the guard sees them.
UNICODE_FORMS = [
    "①②⑦.0.0.1", "127。0。0。1", "１２７．０．０．１", "127｡0｡0｡1", "127．0．0．1",
    "⑩.0.0.1", "１９２.１６８.0.1",
]
IPV6_FORMS = [
    "[::1]", "[::]", "[0:0:0:0:0:0:0:1]", "[0000::0001]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
    "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:0:127.0.0.1]", "[::127.0.0.1]",
    "[::10.0.0.1]", "[64:ff9b::7f00:1]", "[64:ff9b::127.0.0.1]", "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b::c0a8:101]", "[64:ff9b:1::7f00:1]", "[2002:7f00:1::]", "[2002:a9fe:a9fe::1]",
    "[2002:c0a8:101::1]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[fe80::1]", "[fc00::1]",
    "[fd12:3456::1]", "[ff02::1]", "[fec0::1]", "[100::1]", "[2001:db8::1]",
]
ZONE_IDS = ["[fe80::1%25eth0]", "[fe80::1%eth0]", "[::1%251]", "[fe80::1%25lo]"]
LOCALHOST_NAMES = [
    "localhost", "localhost.", "LOCALHOST", "LocalHost.", "localhost.localdomain",
    "ip6-localhost", "ip6-loopback", "app.localhost", "a.b.localhost.",
]
HOSTS = RANGE_EDGES + NUMERIC_FORMS + UNICODE_FORMS + IPV6_FORMS + ZONE_IDS + LOCALHOST_NAMES

TRICKS = [
    "http://a\\@127.0.0.1/", "http://127.0.0.1\\@example.com/", "http://example.com\\.127.0.0.1/",
    "http://user@127.0.0.1/", "http://user:pass@10.0.0.1/", "http://example.com@127.0.0.1/",
    "http://example.com:80@169.254.169.254/", "http://%65xample.com@127.0.0.1/",
    "http://127.0.0.1%2f@example.com/", "http://127.0.0.1#@example.com/",
    "http://127.0.0.1?@example.com/", "http://[::1]@example.com/",
    "http:/\\127.0.0.1/", "http:\\\\127.0.0.1/", "http://127%2e0%2e0%2e1/",
]
SCHEMES = [
    "file:///etc/passwd", "file://localhost/etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:6379/info", "ldap://127.0.0.1/", "sftp://127.0.0.1/", "tftp://127.0.0.1/x",
    "ws://127.0.0.1/", "wss://127.0.0.1/", "jar:http://127.0.0.1/x.jar!/", "view-source:http://127.0.0.1/",
    "javascript:fetch('http://127.0.0.1/')", "data:text/html,<script>alert(1)</script>",
    "netdoc:///etc/passwd", "//127.0.0.1/", "127.0.0.1", "http//127.0.0.1/",
]
PORTS = [
    "http://127.0.0.1:6379/", "http://127.0.0.1:5432/", "http://127.0.0.1:22/", "http://10.0.0.1:25/",
    "http://[::1]:11211/", "https://169.254.169.254:443/latest/meta-data/", "http://127.0.0.1:0/",
    "http://127.0.0.1:65536/", "http://127.0.0.1:99999/", "http://127.0.0.1:-1/", "http://127.0.0.1:８０/",
    "http://127.0.0.1:80:80/", "http://127.0.0.1:0x50/",
]

BATTERY = [f"http://{h}/" for h in HOSTS] + [f"https://{h}/x" for h in HOSTS[:12]] + TRICKS + SCHEMES + PORTS
# As a Location these are relative references to the fixture itself, rightly followed.
RELATIVE = {"127.0.0.1", "http//127.0.0.1/"}


def test_the_battery_is_large_and_has_no_repeats():
    assert len(BATTERY) >= 100, len(BATTERY)
    assert len(set(BATTERY)) == len(BATTERY)


def settings_allowing(*pairs: tuple[str, int]) -> Settings:
    return Settings(data_dir=Path("/nonexistent"), allow_private=frozenset(pairs),
                    connect_timeout=3.0, read_timeout=5.0, total_deadline=20.0)


@pytest.fixture
def wire(monkeypatch, fixture_site) -> Tripwire:
    """Only the fixture site may be reached; anything else is stopped and recorded."""
    return Tripwire(allowed={("127.0.0.1", fixture_site.port)}).install(monkeypatch)


@pytest.fixture
def allowed(fixture_site) -> Settings:
    return settings_allowing(("127.0.0.1", fixture_site.port))


def refused(url: str, settings: Settings, resolver=offline_system_resolver):
    """Fetch `url`; return the result, which must be a refusal."""
    result = fetch(url, settings, resolver=resolver)
    try:
        assert result.error_code in REFUSED_CODES, (url, result.error_code, result.error)
        assert result.error, url
        return result
    finally:
        result.close()


@pytest.mark.parametrize("url", BATTERY)
def test_refused_without_a_connection(url, wire, allowed):
    """Refused at submission or by the fetcher, and the tripwire saw no attempt at all."""
    try:
        normalize_submitted_url(url)
    except InvalidURL:
        pass        # refused at the door; the fetcher must refuse it too (a redirect could carry it)
    result = refused(url, allowed)
    assert not result.exchanges, url
    assert wire.attempts == [], (url, wire.attempts)


@pytest.mark.parametrize("url", [u for u in BATTERY if u not in RELATIVE])
def test_refused_as_a_redirect_target(url, wire, allowed, fixture_site):
    """An allowed page that redirects there: its hop is archived, the next is never made."""
    start = fixture_site.url("/redirect-to?url=" + quote(url, safe=""))
    result = refused(start, allowed)
    assert result.error.startswith("the redirect to") or "redirect" in result.error, result.error
    assert [ex.status for ex in result.exchanges] == [302], url
    assert wire.violations == [] and set(wire.attempts) == {("127.0.0.1", fixture_site.port)}


@pytest.mark.parametrize("spelling", ["localhost", "127.1", "2130706433", "[::ffff:127.0.0.1]",
                                      "0x7f000001", "[::1]", "127.0.0.2"])
def test_the_allowlist_opens_only_the_host_as_written(spelling, wire, allowed, fixture_site):
    """127.0.0.1:PORT is allowed; other spellings of the same endpoint are not."""
    refused(f"http://{spelling}:{fixture_site.port}/article", allowed)
    assert wire.attempts == []


def test_a_name_answering_public_then_internal_is_resolved_once(monkeypatch, fixture_site):
    """DNS rebinding: the first answer passes the guard, a second lookup would give
    127.0.0.1. The fetcher never looks again: it connects to the address it checked
    (which the tripwire stops, as it is not ours to reach)."""
    wire = Tripwire(allowed={("127.0.0.1", fixture_site.port)}).install(monkeypatch)
    calls: list = []
    resolver = sequence_resolver("rebind.test", ["93.184.216.34", "127.0.0.1"], calls)
    result = fetch(f"http://rebind.test:{fixture_site.port}/article", settings_allowing(), resolver=resolver)
    try:
        assert calls == ["rebind.test"]
        assert wire.attempts == [("93.184.216.34", fixture_site.port)]
        assert result.error_code not in (None, "refused_address")     # a connect failure, not a page
        assert not any(ex.status for ex in result.exchanges)
    finally:
        result.close()


def test_a_name_answering_public_and_internal_together_is_refused(wire):
    resolver = resolver_for({"mixed.test": ["93.184.216.34", "10.0.0.7"]})
    result = refused("http://mixed.test/", settings_allowing(), resolver=resolver)
    assert "10.0.0.7" in result.error and wire.attempts == []


def test_a_redirect_to_a_rebinding_name_is_refused_on_its_hop(wire, allowed, fixture_site):
    resolver = resolver_for({"inside.test": "169.254.169.254"})
    start = fixture_site.url("/redirect-to?url=" + quote("http://inside.test/latest/meta-data/", safe=""))
    result = refused(start, allowed, resolver=resolver)
    assert "169.254.169.254" in result.error
    assert set(wire.attempts) == {("127.0.0.1", fixture_site.port)}


class CountingProxy(http.server.ThreadingHTTPServer):
    """A would-be proxy on loopback: it only counts who came."""

    def __init__(self):
        self.hits: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                proxy.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"proxy")

            do_CONNECT = do_GET

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def proxy_in_environment(monkeypatch):
    server = CountingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def test_proxy_variables_are_ignored(proxy_in_environment, monkeypatch, fixture_site):
    """A proxy named in the environment is never used: the page comes straight from the
    server (the proxy would otherwise reach what the guard refuses)."""
    proxy = proxy_in_environment
    wire = Tripwire(allowed={("127.0.0.1", fixture_site.port)}).install(monkeypatch)
    settings = settings_allowing(("127.0.0.1", fixture_site.port))
    result = fetch(fixture_site.url("/article"), settings)
    try:
        assert result.error_code is None and result.final.status == 200
    finally:
        result.close()
    refused("http://10.0.0.1/", settings)
    refused("http://localhost/", settings)
    assert proxy.hits == [] and wire.violations == []
