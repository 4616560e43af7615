"""Checking and normalising the URLs people submit for archiving.

`normalize_submitted_url` is the only door: it refuses what the fetcher must not be
asked to fetch (other schemes, credentials, control characters, backslash tricks) and
returns one canonical spelling of the rest. The canonical spelling is also exactly
what goes on the request line: `requests` leaves it unchanged when it prepares a
request, so the URL we catalogue is the URL we fetched.

Whether the host is allowed to be reached is not decided here: names can resolve to
anything, so that judgement belongs to the address guard (archiver.fetch.guard),
which looks at resolved addresses.
"""
from __future__ import annotations

import ipaddress
import string
import unicodedata

import idna

MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}

_HEX = set(string.hexdigits)
_UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
# Characters left as they are in a path or query; everything else is percent-encoded.
_PATH_SAFE = _UNRESERVED | set("!$&'()*+,/:;=@[]")
_QUERY_SAFE = _PATH_SAFE | {"?"}
_HOST_CHARS = set(string.ascii_lowercase + string.digits + "-._")
_SCHEME_CHARS = set(string.ascii_lowercase + string.digits + "+-.")


class InvalidURL(ValueError):
    """The submitted URL cannot be archived; the message says what is wrong and what to do."""


def normalize_submitted_url(raw: str) -> str:
    """Validate a submitted URL and return its canonical form, or raise `InvalidURL`.

    Canonical form: lowercase scheme and host, international host names in punycode,
    the default port dropped, "/" for an empty path, dot segments resolved, characters
    outside the URL alphabet percent-encoded (UTF-8), and no fragment.
    """
    if not isinstance(raw, str):
        raise InvalidURL("the URL must be text")
    url = raw.strip()
    if not url:
        raise InvalidURL("the URL is empty: give a full address such as https://example.org/page")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is {len(url)} characters long; at most {MAX_URL_LENGTH} are accepted")
    _refuse_spaces_and_controls(url)
    if "\\" in url:
        raise InvalidURL(
            "the URL contains a backslash; browsers and servers disagree on what it means, "
            "so it is refused: use forward slashes, or %5C for a literal backslash")

    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    looks_like_host = "." in scheme or rest.split("/")[0].isdigit()
    if (not sep or not scheme or looks_like_host
            or not _SCHEME_CHARS.issuperset(scheme)):
        raise InvalidURL(
            f"the URL {_short(url)} has no scheme: write it in full, e.g. https://{_short(url, 60)}")
    if scheme not in SCHEMES:
        raise InvalidURL(
            f"only http and https URLs can be archived, not {scheme}: "
            "give the web address of the page, starting with http:// or https://")
    if not rest.startswith("//"):
        raise InvalidURL(
            f"the URL has no host: write it as {scheme}://HOST/PATH, e.g. {scheme}://example.org/")
    rest = rest[2:]
    rest, _, _fragment = rest.partition("#")          # the fragment is never sent to a server
    end = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0], default=len(rest))
    authority, path_and_query = rest[:end], rest[end:]
    path, qmark, query = path_and_query.partition("?")

    host, port = _split_authority(authority, scheme)
    path = _resolve_dots(_requote(path or "/", _PATH_SAFE))
    if not path.startswith("/"):
        path = "/" + path
    netloc = host if port is None or port == SCHEMES[scheme] else f"{host}:{port}"
    normalized = f"{scheme}://{netloc}{path}"
    if qmark and query:
        normalized += "?" + _requote(query, _QUERY_SAFE)
    if len(normalized) > MAX_URL_LENGTH:
        raise InvalidURL(
            f"the URL is {len(normalized)} characters long once encoded; at most {MAX_URL_LENGTH} "
            "are accepted")
    return normalized


def _refuse_spaces_and_controls(url: str) -> None:
    # Printable ASCII other than the space holds none of them: the common case, in C.
    if url.isascii() and url.isprintable() and " " not in url:
        return
    for ch in url:
        if _space_or_control(ch):
            raise InvalidURL(
                f"the URL contains a space or control character ({ch!r}): remove it, "
                "or percent-encode it (a space is %20)")


def _space_or_control(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Zs", "Zl", "Zp")


def _split_authority(authority: str, scheme: str) -> tuple[str, int | None]:
    if "@" in authority:
        raise InvalidURL(
            "the URL contains a user name or password (user:pass@host); credentials are never "
            "sent by the archiver: remove them and archive the public page")
    if not authority:
        raise InvalidURL(f"the URL has no host: write it as {scheme}://HOST/PATH")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InvalidURL("the IPv6 address in the URL has no closing bracket ']'")
        literal, after = authority[1:close], authority[close + 1:]
        host = _ipv6_literal(literal)
        if after and not after.startswith(":"):
            raise InvalidURL(f"unexpected text {after!r} after the IPv6 address in the URL")
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise InvalidURL(
                "the host contains more than one ':'; an IPv6 address must be written in "
                "brackets, e.g. http://[2001:db8::1]/")
        name, colon, port_text = authority.partition(":")
        host = _host_name(name)
        if not colon:
            port_text = None
    return host, _port(port_text)


def _ipv6_literal(literal: str) -> str:
    if "%" in literal:
        raise InvalidURL("IPv6 zone identifiers (%...) are not accepted in URLs to archive")
    try:
        return f"[{ipaddress.IPv6Address(literal).compressed}]"
    except ValueError:
        raise InvalidURL(f"[{literal}] is not a valid IPv6 address") from None


def _host_name(name: str) -> str:
    if not name:
        raise InvalidURL("the URL has no host name: write it as http://HOST/PATH")
    if "%" in name:
        raise InvalidURL(
            f"the host {name!r} contains percent-encoding, which is not accepted in host names: "
            "write the name itself")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidURL(
                f"the host name {name!r} is not a valid internationalised domain name ({exc}): "
                "check its spelling") from None
    name = name.lower()
    bad = [] if _HOST_CHARS.issuperset(name) else sorted({c for c in name if c not in _HOST_CHARS})
    if bad:
        raise InvalidURL(
            f"the host name {name!r} contains characters not allowed in host names "
            f"({''.join(bad)!r}): check the address")
    bare = name[:-1] if name.endswith(".") else name
    labels = bare.split(".")
    if len(bare) > 253 or any(not label or len(label) > 63 for label in labels):
        raise InvalidURL(
            f"the host name {name!r} is malformed (empty or over-long parts between the dots): "
            "check the address")
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                raise InvalidURL(f"the host name {name!r} holds an invalid punycode label {label!r}") from None
    return name


def _port(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 0 < int(text) < 65536:
        raise InvalidURL(f"the port {text!r} is not valid: a port is a number from 1 to 65535")
    return int(text)


def _requote(text: str, safe: set[str]) -> str:
    """Percent-encode what is not allowed as is; decode escapes of unreserved characters,
    upper-case the others, and encode a '%' that does not start an escape."""
    if safe.issuperset(text):           # no '%' (never safe), nothing to encode: the common case
        return text
    return _requote_each(text, safe)


def _requote_each(text: str, safe: set[str]) -> str:
    """_requote, one character at a time."""
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1:i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1:i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _resolve_dots(path: str) -> str:
    """Remove "." and ".." segments (RFC 3986 section 5.2.4), as the HTTP client would."""
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for seg in segments[1:]:
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
