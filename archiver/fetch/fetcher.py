"""Fetching one URL: every redirect hop checked by the guard, every byte recorded.

`fetch()` never raises for a network problem: the result carries an `error_code` and a
sentence a person can act on. Hops are followed one at a time (no automatic redirects),
each one resolved and judged again by the address guard, each one connected to the
address that was judged, each one recorded as an `Exchange`.
"""
from __future__ import annotations

import http.client
import logging
import re
import ssl
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import requests
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from urllib3.exceptions import (ConnectTimeoutError, NewConnectionError, ProtocolError,
                                ReadTimeoutError)
from urllib3.exceptions import SSLError as Urllib3SSLError

from archiver.config import DEFAULT_USER_AGENT, Settings
from archiver.fetch import connections
from archiver.fetch.guard import GuardError, Resolver, Target, check_host
from archiver.fetch.message import extract_payload, parse_head
from archiver.fetch.tlsinfo import tls_info
from archiver.fetch.types import Exchange, FetchResult
from archiver.fetch.wire import Deadline, DeadlineExceeded, PinnedAdapter, Tap
from archiver.urls import InvalidURL, normalize_submitted_url

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# The body is read in pieces this large: most pages in one read, so the bytes the socket
# delivered are joined once rather than sliced and joined again for each 64 KB. Every
# socket read within still waits at most the read timeout or the time left (wire.py).
_READ_SIZE = 1024 * 1024
# What a server's closing of a parked connection looks like to the request that tried it.
STALE_CONNECTION_ERRORS = frozenset({"reset", "protocol"})


class FetchError(Exception):
    """A hop failed; `code` is the FetchResult.error_code, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def fetch(url: str, settings: Settings, *, resolver: Resolver | None = None,
          ca_bundle: str | None = None) -> FetchResult:
    """Fetch `url`, following redirects one checked hop at a time.

    `resolver` replaces socket.getaddrinfo (tests); `ca_bundle` is a PEM file of CA
    certificates to trust instead of the default bundle (certificates are always verified).
    """
    result = FetchResult(requested_url=url, exchanges=[])
    try:
        _follow(url, settings, resolver, ca_bundle, result)
    except FetchError as exc:
        result.error_code, result.error = exc.code, str(exc)
    except Exception as exc:   # noqa: BLE001 - a bug must not take the worker down
        log.exception("unexpected error while fetching %s", url)
        result.error_code = "internal"
        result.error = f"the fetcher failed unexpectedly ({type(exc).__name__}: {exc}); please report it"
    return result


def _follow(url: str, settings: Settings, resolver: Resolver | None, ca_bundle: str | None,
            result: FetchResult) -> None:
    try:
        current = normalize_submitted_url(url)
    except InvalidURL as exc:
        raise FetchError("invalid_url", f"the URL cannot be fetched: {exc}") from None
    deadline = Deadline(settings.total_deadline)
    seen = [current]
    kept = connections.current()
    headers = {
        "User-Agent": settings.user_agent or DEFAULT_USER_AGENT.format(contact=settings.contact_url),
        "Accept": ACCEPT,
        "Accept-Encoding": "gzip, deflate",
    }
    if kept is None:           # nobody will reuse the connection: say so to the server
        headers["Connection"] = "close"
    hop = _Hop(headers, RequestsCookieJar(), settings, deadline, ca_bundle, kept)
    while True:
        if deadline.passed:
            raise FetchError("timeout", f"the total time limit of {settings.total_deadline:g} s "
                                        f"ran out before {current} could be requested")
        parts = urlsplit(current)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            target = check_host(parts.hostname or "", port, settings.allow_private, resolver)
        except GuardError as exc:
            prefix = "" if len(seen) == 1 else f"the redirect to {current} was not followed: "
            raise FetchError(exc.code, prefix + str(exc)) from None
        exchange = _exchange(hop, current, target, result)
        if exchange.status not in REDIRECT_STATUSES:
            return
        location = exchange.header("Location")
        if not location:
            return        # a redirect status without a target is just a response
        next_url = _next_url(current, location)
        exchange.location = next_url
        if next_url in seen:
            loop = " -> ".join(seen[seen.index(next_url):] + [next_url])
            raise FetchError("redirect_loop",
                             f"the page redirects in a loop ({loop}), so there is no page to "
                             "archive; the site may need cookies or a browser to answer")
        if len(seen) > settings.max_redirects:
            raise FetchError("too_many_redirects",
                             f"gave up after {settings.max_redirects} redirects (the last one "
                             f"pointed to {next_url}); archive the final address directly")
        seen.append(next_url)
        current = next_url


def _next_url(current: str, location: str) -> str:
    try:   # http.client decodes header bytes as ISO-8859-1; servers mostly mean UTF-8
        location = location.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    # Servers sometimes send spaces unencoded; browsers encode them, and so do we.
    target = urljoin(current, location.strip().replace(" ", "%20"))
    try:
        return normalize_submitted_url(target)
    except InvalidURL as exc:
        raise FetchError("invalid_url",
                         f"{current} redirects to {location!r}, which cannot be fetched: {exc}") from None


class _Hop:
    """What every hop of one fetch shares: its headers, its cookies, its limits."""

    def __init__(self, headers: dict[str, str], cookies: RequestsCookieJar, settings: Settings,
                 deadline: Deadline, ca_bundle: str | None, kept: connections.KeptConnections | None):
        self.headers, self.cookies, self.settings = headers, cookies, settings
        self.deadline, self.ca_bundle, self.kept = deadline, ca_bundle, kept

    def request(self, url: str) -> requests.PreparedRequest:
        """The GET that a `requests` Session with these headers and cookies would prepare,
        without the Session's merging of settings we never use (proxies, auth, hooks): about
        11 µs instead of 87. The URL has no credentials (archiver/urls.py refuses them)."""
        prepared = requests.PreparedRequest()
        prepared.prepare_method("GET")
        prepared.prepare_url(url, None)
        prepared.prepare_headers(self.headers)
        if len(self.cookies):
            prepared.prepare_cookies(self.cookies)
        prepared.prepare_body(None, None)
        return prepared


def _exchange(hop: _Hop, url: str, target: Target, result: FetchResult) -> Exchange:
    """One request and its response. Appends the Exchange to `result` once a request was sent."""
    settings, deadline, kept = hop.settings, hop.deadline, hop.kept
    tap = Tap(deadline)
    adapter = PinnedAdapter(target, tap, kept)
    prepared = hop.request(url)
    started = _now()
    connect_timeout = max(min(settings.connect_timeout, deadline.remaining()), 0.001)
    response = None
    reusable = False
    try:
        try:
            response = adapter.send(prepared, stream=True,
                                    timeout=(connect_timeout, settings.read_timeout),
                                    verify=hop.ca_bundle or True)
        except Exception as exc:   # noqa: BLE001 - sorted into error codes below
            code, message = _classify(exc, url, target, settings, tap)
            if adapter.reused and not tap.received_length and code in STALE_CONNECTION_ERRORS:
                # The server closed the parked connection as we sent: what any HTTP client
                # does, ask again once on a new connection; nothing came back to record.
                tap.received.close()
                return _exchange(hop, url, target, result)
            if tap.sent:
                result.exchanges.append(_exchange_record(url, target, tap, started))
            tap.received.close()
            raise FetchError(code, message) from None
        _keep_cookies(hop.cookies, prepared, response.raw)
        exchange = _read_body(response, url, target, settings, tap, started)
        exchange.connection_reused = adapter.reused
        result.exchanges.append(exchange)
        # Parked again only after a whole response that left nothing unread behind it; the
        # connection went back to its pool when its response ended (urllib3).
        reusable = (kept is not None and exchange.truncated is None and not tap.surplus
                    and response.raw.connection is None)
        return exchange
    finally:
        if response is not None:
            response.close()
        adapter.close(reusable=reusable)


def _keep_cookies(jar: RequestsCookieJar, prepared: requests.PreparedRequest, raw) -> None:
    """The cookies the response sets go into the fetch's jar, for its next hops. Most
    responses set none: the jar's machinery (a URL parse, a lock, its policy) is skipped
    then, as the jar itself would find nothing to do."""
    message = getattr(getattr(raw, "_original_response", None), "msg", None)
    if (message is not None and message.get("Set-Cookie") is None
            and message.get("Set-Cookie2") is None):
        return
    extract_cookies_to_jar(jar, prepared, raw)


def _read_body(response: requests.Response, url: str, target: Target, settings: Settings,
               tap: Tap, started: datetime) -> Exchange:
    head_length = tap.received_length
    tap.received.seek(0)
    head = parse_head(tap.received.read(head_length))
    tap.received.seek(0, 2)
    raw = response.raw
    cap = settings.max_body_bytes
    consumed = 0
    interrupted: str | None = None
    try:
        while consumed < cap:
            data = raw.read(min(_READ_SIZE, cap - consumed), decode_content=False)
            if not data:
                break
            consumed += len(data)
    except (ReadTimeoutError, DeadlineExceeded, TimeoutError):
        interrupted = "time"
    except (ProtocolError, Urllib3SSLError, http.client.HTTPException, OSError) as exc:
        log.info("connection to %s broke while reading the body: %s", url, exc)
        interrupted = "disconnect"
    if tap.deadline_hit:
        interrupted = "time"
    ended = _now()

    chunked = "chunked" in (_header(head.headers, "Transfer-Encoding") or "").lower()
    payload = extract_payload(tap.received, head_length, chunked=chunked,
                              content_length=_content_length(head.headers), limit=cap,
                              bodiless=_bodiless(response.status_code))
    truncated = interrupted
    if truncated is None and not payload.complete:
        # stopped at the cap (or the server ended the message early)
        truncated = "length" if consumed >= cap or payload.capped else "disconnect"
    exchange = _exchange_record(url, target, tap, started, ended)
    exchange.status = response.status_code
    exchange.reason = response.reason or head.reason
    exchange.http_version = head.http_version if head.http_version.startswith("HTTP/") else "HTTP/1.1"
    exchange.headers = head.headers
    exchange.payload_file = payload.file
    exchange.payload_length = payload.length
    exchange.payload_sha256 = payload.sha256
    exchange.payload_offset = payload.offset
    exchange.truncated = truncated
    return exchange


def _exchange_record(url: str, target: Target, tap: Tap, started: datetime,
                     ended: datetime | None = None) -> Exchange:
    ip, port = tap.peer if tap.peer else (target.address, target.port)
    exchange = Exchange(url=url, ip=ip, port=port, started_at=started, ended_at=ended or _now(),
                        request_bytes=bytes(tap.sent))
    if tap.tls is not None:
        exchange.tls = tls_info(tap.tls["version"], tap.tls["cipher"], tap.tls["cert_der"])
    if ended is not None:        # a response came: keep its bytes
        tap.received.seek(0)
        exchange.response_file = tap.received
        exchange.response_length = tap.received_length
    return exchange


def _bodiless(status: int) -> bool:
    """Responses that never carry a body, whatever their Content-Length says."""
    return 100 <= status < 200 or status in (204, 304)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    value = _header(headers, "Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- turning exceptions into error codes and sentences -------------------------------

def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3 reasons, args)."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in current.args if isinstance(a, BaseException))


def _classify(exc: BaseException, url: str, target: Target, settings: Settings,
              tap: Tap) -> tuple[str, str]:
    chain = list(_causes(exc))
    where = target.host if target.host == target.address else f"{target.host} ({target.address})"
    where = f"{where} port {target.port}"

    def has(*types) -> BaseException | None:
        """The innermost exception of these types: the most specific one."""
        found = [e for e in chain if isinstance(e, types)]
        return found[-1] if found else None

    if tap.deadline_hit or has(DeadlineExceeded):
        return "timeout", (f"the server at {where} did not answer within the total time limit of "
                           f"{settings.total_deadline:g} s; try again later")
    cert_error = has(ssl.SSLCertVerificationError, ssl.CertificateError)
    if cert_error is not None:
        detail = getattr(cert_error, "verify_message", None) or str(cert_error)
        return "tls", (f"the TLS certificate of {where} could not be verified ({detail}); the "
                       "page is not archived over an unverified connection")
    tls_error = has(ssl.SSLError, Urllib3SSLError, requests.exceptions.SSLError)
    if tls_error is not None and not tap.sent:
        return "tls", (f"no secure (TLS) connection could be set up with {where} "
                       f"({_reason(tls_error)}); the site's HTTPS may be misconfigured")
    if has(ConnectionRefusedError):
        return "connect", (f"the server at {where} refused the connection (nothing is listening "
                           "there, or the site is down); try again later")
    timeout = has(ConnectTimeoutError, requests.exceptions.ConnectTimeout)
    if timeout is not None and not isinstance(timeout, NewConnectionError) and not tap.sent:
        return "timeout", (f"could not connect to {where} within {settings.connect_timeout:g} s; "
                           "the server may be down or unreachable, try again later")
    if has(ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError):
        return "timeout", (f"the server at {where} accepted the request but sent no response "
                           f"within {settings.read_timeout:g} s; try again later")
    if has(NewConnectionError) or (has(OSError) and not tap.sent
                                   and not has(http.client.HTTPException)):
        return "connect", (f"could not connect to {where} ({_reason(has(OSError) or exc)}); "
                           "check the address, or try again later")
    if has(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return "reset", (f"the server at {where} closed the connection without sending a "
                         "response; try again later")
    if has(http.client.HTTPException, ProtocolError, requests.exceptions.InvalidHeader,
           requests.exceptions.ChunkedEncodingError):
        return "protocol", (f"the server at {where} did not answer with valid HTTP "
                            f"({_reason(has(http.client.HTTPException) or exc)}); it cannot be archived")
    if tls_error is not None:
        return "tls", f"the TLS connection with {where} failed ({_reason(tls_error)})"
    return "protocol", f"the exchange with {where} failed ({_reason(exc)})"


def _reason(exc: BaseException) -> str:
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc)) or type(exc).__name__
    if isinstance(exc, http.client.BadStatusLine) and not isinstance(exc, ConnectionError):
        text = f"its first line was {text.strip()[:80]!r}"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:300] + "..."
