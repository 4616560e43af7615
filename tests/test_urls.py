"""Submission URL validation: what is refused (with a useful message) and the canonical form."""
from __future__ import annotations

import pytest
import requests

from archiver.urls import MAX_URL_LENGTH, InvalidURL, normalize_submitted_url


@pytest.mark.parametrize("raw,expected", [
    ("http://example.com", "http://example.com/"),
    ("  https://example.com/page  \n", "https://example.com/page"),
    ("HTTPS://WWW.Example.COM/Path/Kept", "https://www.example.com/Path/Kept"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com:8443", "https://example.com:8443/"),
    ("http://example.com:/a", "http://example.com/a"),
    ("http://example.com/a#section-2", "http://example.com/a"),
    ("http://example.com/?q=1&r=2#x", "http://example.com/?q=1&r=2"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/a b".replace(" ", "%20"), "http://example.com/a%20b"),
    ("http://example.com/%7euser", "http://example.com/~user"),
    ("http://example.com/%2fkept", "http://example.com/%2Fkept"),
    ("http://example.com/100%", "http://example.com/100%25"),
    ("http://example.com/caf\u00e9?q=\u00fc", "http://example.com/caf%C3%A9?q=%C3%BC"),
    ("http://example.com/<x>", "http://example.com/%3Cx%3E"),
    ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
    ("http://example.com./", "http://example.com./"),
])
def test_normal_form(raw, expected):
    assert normalize_submitted_url(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("https://b\u00fccher.example/", "https://xn--bcher-kva.example/"),
    ("https://B\u00dcCHER.example/", "https://xn--bcher-kva.example/"),
    ("http://\u043f\u0440\u0438\u043c\u0435\u0440.\u0438\u0441\u043f\u044b\u0442\u0430\u043d\u0438\u0435/",
     "http://xn--e1afmkfd.xn--80akhbyknj4f/"),
    ("http://\u4f8b\u3048.\u30c6\u30b9\u30c8/", "http://xn--r8jz45g.xn--zckzah/"),
    ("http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"),
    # UTS46 maps these to ASCII digits and dots; the guard judges what they resolve to
    ("http://\u2460\u2461\u2466.0.0.1/", "http://127.0.0.1/"),
    ("http://127\u30020\u30020\u30021/", "http://127.0.0.1/"),
])
def test_international_domain_names_become_punycode(raw, expected):
    assert normalize_submitted_url(raw) == expected


@pytest.mark.parametrize("raw,words", [
    ("", "empty"),
    ("   ", "empty"),
    ("example.com/page", "no scheme"),
    ("localhost:8080/x", "no scheme"),
    ("ftp://example.com/file", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("data:text/html,hi", "only http and https"),
    ("http:example.com", "no host"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("http://?q=1", "no host"),
    ("http://user:secret@example.com/", "password"),
    ("http://user@example.com/", "password"),
    ("http://example.com@127.0.0.1/", "password"),
    ("http://exa mple.com/", "space"),
    ("http://example.com/a b", "space"),
    ("http://example.com/\x00", "control"),
    ("http://example.com/a\x7f", "control"),
    ("http://example.com/\u2028x", "space"),
    ("http://example.com/\u00a0x", "space"),
    ("http://example.com\\@evil.example/", "backslash"),
    ("http:\\\\example.com\\", "backslash"),
    ("http://example.com:0/", "port"),
    ("http://example.com:65536/", "port"),
    ("http://example.com:99999999/", "port"),
    ("http://example.com:-1/", "port"),
    ("http://example.com:+80/", "port"),
    ("http://example.com:8o/", "port"),
    ("http://example.com:\uff18\uff10/", "port"),
    ("http://a:b:c/", "IPv6"),
    ("http://[::1/", "bracket"),
    ("http://[::1]x/", "unexpected"),
    ("http://[not-an-ip]/", "not a valid IPv6"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://%31%32%37.0.0.1/", "percent"),
    ("http://ex\u2603ample.com/", "internationalised"),
    ("http://a\u202eb.com/", "internationalised"),
    ("http://xn--zz/", "punycode"),
    ("http://a..b/", "malformed"),
    ("http://.example.com/", "malformed"),
    ("http://" + "a" * 64 + ".com/", "malformed"),
    ("http://exa*mple.com/", "not allowed"),
    ("http://example.com/" + "a" * MAX_URL_LENGTH, "characters long"),
])
def test_refused_with_a_message_that_says_what_to_do(raw, words):
    with pytest.raises(InvalidURL) as info:
        normalize_submitted_url(raw)
    assert words.lower() in str(info.value).lower()


def test_invalid_url_is_a_value_error():
    assert issubclass(InvalidURL, ValueError)
    with pytest.raises(ValueError):
        normalize_submitted_url("gopher://example.com/")


def test_non_text_is_refused():
    with pytest.raises(InvalidURL):
        normalize_submitted_url(b"http://example.com/")  # type: ignore[arg-type]


def test_length_limit_is_at_2048_characters():
    base = "http://example.com/"
    ok = base + "a" * (MAX_URL_LENGTH - len(base))
    assert normalize_submitted_url(ok) == ok
    with pytest.raises(InvalidURL):
        normalize_submitted_url(ok + "a")
    # a URL that only grows past the limit when encoded is refused too
    with pytest.raises(InvalidURL, match="once encoded"):
        normalize_submitted_url(base + "\u00e9" * 1000)


SAMPLES = [
    "http://example.com/a/../b/./c?x=1&y=%7e#frag",
    "https://b\u00fccher.example/stra\u00dfe?q=\u00fc&r=a b".replace(" ", "+"),
    "http://example.com/%zz/<tag>/\"quoted\"/{x}|^`",
    "http://EXAMPLE.com:8080/%2e%2e/x",
    "http://[2001:db8::1]/p?a=/b?c",
    "http://example.com/;params=1,2/~user/!$&'()*+",
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_normal_form_is_stable_and_is_what_requests_sends(raw):
    once = normalize_submitted_url(raw)
    assert normalize_submitted_url(once) == once
    # the URL we catalogue is the URL on the request line: requests leaves it unchanged
    assert requests.Request("GET", once).prepare().url == once
