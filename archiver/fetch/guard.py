"""The address guard: the fetcher reaches only addresses on the public internet.

A URL's host is resolved once, every address it resolves to is judged, and the
fetcher then connects to the address that was judged (never resolving again), so a
name cannot pass the check with one address and be fetched from another.

Judging works on the resolved address, not on the host string: resolvers accept
spellings such as `2130706433`, `0x7f000001` or `127.1` that `ipaddress` does not.
IPv4 addresses wrapped in IPv6 (mapped, compatible, 6to4, NAT64, Teredo) are unwrapped
and judged as IPv4.

An allowlist of host:port pairs (Settings.allow_private, from ARCHIVER_ALLOW_PRIVATE)
opens chosen non-public endpoints, matched on the URL's host as written (lowercased,
without a trailing dot; an IP literal in its canonical form) and the port. A name
that merely resolves to an allowed address is not allowed by that.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IPv4 ranges that are not globally routable, with the reason given to people.
# Order matters only for the wording (the first match is reported).
_IPV4_BLOCKED: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified ('this network')"),
    (_V4("10.0.0.0/8"), "private-network"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (shared address space)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private-network"),
    (_V4("192.0.0.0/24"), "IETF protocol assignment (reserved)"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("192.88.99.0/24"), "reserved (former 6to4 relay anycast)"),
    (_V4("192.168.0.0/16"), "private-network"),
    (_V4("198.18.0.0/15"), "benchmarking (reserved)"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

# Only 2000::/3 holds global unicast IPv6; inside it, these are still not public.
_IPV6_GLOBAL_UNICAST = _V6("2000::/3")
_IPV6_BLOCKED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("2001::/23"), "IETF protocol assignment (reserved)"),
)
_IPV6_OUTSIDE: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("100::/64"), "discard-only (reserved)"),
    (_V6("fc00::/7"), "unique local (private-network)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated, private)"),
    (_V6("ff00::/8"), "multicast"),
)

# IPv6 forms that carry an IPv4 address: unwrapped and judged as IPv4.
_MAPPED = _V6("::ffff:0:0/96")
_TRANSLATED = _V6("::ffff:0:0:0/96")
_COMPATIBLE = _V6("::/96")
_SIXTOFOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
_NAT64 = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")


class GuardError(Exception):
    """The fetch was stopped before any connection was made."""

    code = "guard"


class RefusedAddress(GuardError):
    """The host is, or resolves to, an address the archiver must not reach."""

    code = "refused_address"

    def __init__(self, host: str, port: int, address: str, reason: str):
        self.host, self.port, self.address, self.reason = host, port, address, reason
        where = address if host == address else f"{host} resolves to {address}, which"
        super().__init__(
            f"refused: {where} is not on the public internet ({reason} address); "
            "the archiver does not reach internal addresses. If this server is yours and meant "
            f"to be archived, the operator can allow it with ARCHIVER_ALLOW_PRIVATE={_pair(host, port)}")


class DNSFailure(GuardError):
    """The host name could not be resolved."""

    code = "dns"

    def __init__(self, host: str, detail: str, temporary: bool = False):
        self.host, self.detail, self.temporary = host, detail, temporary
        if temporary:
            self.code = "dns_temporary"
            advice = "the name server did not answer in time; try again later"
        else:
            advice = "check the spelling of the address, or whether the site still exists"
        super().__init__(f"could not find the address of {host!r} ({detail}): {advice}")


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, speak to `host`."""
    host: str                       # host as written in the URL (no brackets), lowercased
    port: int
    address: str                    # the checked IP address to connect to
    family: int
    sockaddr: tuple                 # what socket.connect() takes for `address`
    allowed_by_list: bool = False   # True when reached through ARCHIVER_ALLOW_PRIVATE
    # every checked (family, address, sockaddr), in the resolver's order of preference,
    # the first being `address`: tried in turn when a connection cannot be made
    candidates: tuple[tuple[int, str, tuple], ...] = ()


def check_host(host: str, port: int, allow: Iterable[tuple[str, int]] = frozenset(),
               resolver: Resolver | None = None) -> Target:
    """Resolve `host`, judge every address, and return the target to connect to.

    Raises `RefusedAddress` when any resolved address is not public (unless the host:port
    pair is allowlisted) and `DNSFailure` when the name does not resolve.
    """
    written = host.strip("[]").lower().rstrip(".")
    literal = _literal(written)
    key_host = literal[1] if literal is not None else written
    allowed = (key_host, port) in _allow_keys(allow)

    if literal is not None:
        family, text = literal
        infos = [(family, text, (text, port, 0, 0) if family == socket.AF_INET6 else (text, port))]
    else:
        infos = _resolve(written, port, resolver or socket.getaddrinfo)

    checked = []
    for family, text, sockaddr in infos:
        judged = _judged(text.split("%", 1)[0])
        if judged is None:
            raise DNSFailure(written, f"the resolver returned {text!r}, which is not an address")
        address, reason = judged
        if reason and not allowed:
            raise RefusedAddress(key_host, port, address, reason)
        checked.append((family, address, sockaddr))
    family, address, sockaddr = checked[0]
    return Target(host=key_host, port=port, address=address, family=family, sockaddr=sockaddr,
                  allowed_by_list=allowed, candidates=tuple(checked))


def why_not_public(addr: IPAddress) -> str | None:
    """None for a globally routable address; otherwise why it is not one."""
    if isinstance(addr, ipaddress.IPv4Address):
        return _judge_v4(addr)
    embedded = _embedded_ipv4(addr)
    if embedded:
        for inner, form in embedded:
            reason = _judge_v4(inner)
            if reason:
                return f"{reason}: IPv4 {inner} inside an IPv6 {form} address"
        return None
    for net, reason in _IPV6_OUTSIDE:
        if addr in net:
            return reason
    if addr not in _IPV6_GLOBAL_UNICAST:
        return "reserved (outside global unicast 2000::/3)"
    for net, reason in _IPV6_BLOCKED:
        if addr in net:
            return reason
    return None


def _judge_v4(addr: ipaddress.IPv4Address) -> str | None:
    for net, reason in _IPV4_BLOCKED:
        if addr in net:
            return reason
    if not addr.is_global:
        return "reserved"
    return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    value = int(addr)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if addr in _MAPPED:
        return [(low32, "IPv4-mapped")]
    if addr in _TRANSLATED:
        return [(low32, "IPv4-translated")]
    if addr in _COMPATIBLE and addr not in (_V6("::/127")):
        return [(low32, "IPv4-compatible")]
    if addr in _NAT64:
        return [(low32, "NAT64")]
    if addr in _NAT64_LOCAL:
        # RFC 8215 local-use prefix: the operator picks the prefix length (RFC 6052 section
        # 2.2), so judge every embedding a prefix inside 64:ff9b:1::/48 could mean.
        return [(_rfc6052_ipv4(value, plen), "local NAT64") for plen in (96, 64, 56, 48)]
    if addr in _SIXTOFOUR:
        assert addr.sixtofour is not None
        return [(addr.sixtofour, "6to4")]
    if addr in _TEREDO:
        assert addr.teredo is not None
        server, client = addr.teredo
        return [(client, "Teredo"), (server, "Teredo (server)")]
    return []


def _rfc6052_ipv4(value: int, prefix_len: int) -> ipaddress.IPv4Address:
    """The IPv4 address embedded after an RFC 6052 prefix (bits 64-71 are skipped)."""
    octets = [(value >> (120 - 8 * i)) & 0xFF for i in range(16)]
    start = prefix_len // 8
    picked = [octets[i] for i in range(start, 16) if i != 8][:4]
    return ipaddress.IPv4Address(bytes(picked))


# The judgement of an address and the parse of a host depend on nothing else: each is
# worked out once for the addresses and hosts a worker meets again and again.
@functools.lru_cache(maxsize=4096)
def _judged(text: str) -> tuple[str, str | None] | None:
    """The canonical form of the address `text` and why it is not public (None when it
    is); None when `text` is not an IP address."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr.compressed, why_not_public(addr)


def _literal(host: str) -> tuple[int, str] | None:
    """The address family and canonical form of an IP literal host; None for a name."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return None      # IPv4 literals are digits and dots, IPv6 ones hold a ':'
    return _parsed_literal(host)


@functools.lru_cache(maxsize=1024)
def _parsed_literal(host: str) -> tuple[int, str] | None:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    return _family(addr), addr.compressed


def _allow_keys(allow: Iterable[tuple[str, int]]) -> frozenset[tuple[str, int]]:
    """The allowlist as the host:port pairs check_host compares with."""
    if isinstance(allow, frozenset):
        return _frozen_allow_keys(allow)
    return frozenset((h.strip("[]").lower().rstrip("."), p) for h, p in allow)


@functools.lru_cache(maxsize=64)
def _frozen_allow_keys(allow: frozenset[tuple[str, int]]) -> frozenset[tuple[str, int]]:
    return frozenset((h.strip("[]").lower().rstrip("."), p) for h, p in allow)


def _family(addr: IPAddress) -> int:
    return socket.AF_INET6 if addr.version == 6 else socket.AF_INET


def _resolve(host: str, port: int, resolver: Resolver) -> list[tuple[int, str, tuple]]:
    try:
        answers = resolver(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        detail = exc.strerror or str(exc)
        raise DNSFailure(host, detail, temporary=temporary) from None
    except (UnicodeError, OSError) as exc:
        raise DNSFailure(host, str(exc)) from None
    infos = []
    for family, _type, _proto, _canon, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        infos.append((family, str(sockaddr[0]), tuple(sockaddr[:2]) + tuple(sockaddr[2:])))
    if not infos:
        raise DNSFailure(host, "the name has no IPv4 or IPv6 address")
    # keep the resolver's order (it sorts by preference), without duplicates
    seen, unique = set(), []
    for info in infos:
        if info[1] not in seen:
            seen.add(info[1])
            unique.append(info)
    return unique


def _pair(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
