"""The address guard: every resolved address judged, wrapped IPv4 unwrapped, allowlist exact."""
from __future__ import annotations

import ipaddress
import socket

import pytest

from archiver.fetch import DNSFailure, RefusedAddress, check_host, why_not_public

PUBLIC_V4 = [
    "1.0.0.0", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
    "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255",
    "172.32.0.0", "192.0.1.255", "192.0.3.0", "192.167.255.255", "192.169.0.0",
    "198.17.255.255", "198.20.0.0", "198.51.99.255", "198.51.101.0", "203.0.112.255",
    "203.0.114.0", "223.255.255.255",
]
REFUSED_V4 = [
    ("0.0.0.0", "unspecified"), ("0.255.255.255", "unspecified"),
    ("10.0.0.0", "private"), ("10.255.255.255", "private"),
    ("100.64.0.0", "carrier-grade NAT"), ("100.127.255.255", "carrier-grade NAT"),
    ("127.0.0.0", "loopback"), ("127.0.0.1", "loopback"), ("127.255.255.255", "loopback"),
    ("169.254.0.0", "link-local"), ("169.254.169.254", "link-local"),
    ("169.254.255.255", "link-local"),
    ("172.16.0.0", "private"), ("172.31.255.255", "private"),
    ("192.0.0.0", "reserved"), ("192.0.0.255", "reserved"),
    ("192.0.2.0", "documentation"), ("192.0.2.255", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.0.0", "private"), ("192.168.255.255", "private"),
    ("198.18.0.0", "benchmarking"), ("198.19.255.255", "benchmarking"),
    ("198.51.100.0", "documentation"), ("198.51.100.255", "documentation"),
    ("203.0.113.0", "documentation"), ("203.0.113.255", "documentation"),
    ("224.0.0.0", "multicast"), ("239.255.255.255", "multicast"),
    ("240.0.0.0", "reserved"), ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
]
PUBLIC_V6 = ["2606:4700:4700::1111", "2a00:1450:4001::1", "2001:4860:4860::8888",
             "2000::1", "3ffe::1", "2001:200::1"]
REFUSED_V6 = [
    ("::", "unspecified"), ("::1", "loopback"),
    ("fe80::1", "link-local"), ("febf:ffff::1", "link-local"),
    ("fc00::1", "unique local"), ("fdff:ffff::1", "unique local"),
    ("fec0::1", "site-local"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
    ("2001:db8::1", "documentation"), ("2001:db8:ffff::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("1fff:ffff::1", "reserved"), ("4000::1", "reserved"), ("5f00::1", "reserved"),
    ("2001:2::1", "reserved"),
]
# IPv4 wrapped in IPv6: unwrapped and judged as IPv4
WRAPPED = [
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"), ("::ffff:100.64.0.1", "carrier-grade"),
    ("::ffff:0:127.0.0.1", "loopback"),                       # IPv4-translated
    ("::127.0.0.1", "loopback"), ("::10.0.0.1", "private"),   # IPv4-compatible
    ("64:ff9b::7f00:1", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),
    ("64:ff9b::c0a8:1", "private"),
    ("64:ff9b:1::7f00:1", "loopback"),
    ("2002:7f00:1::", "loopback"), ("2002:a00:1::1", "private"),
    ("2002:a9fe:a9fe::", "link-local"),
    # Teredo: the client address is stored inverted; 0x80fffffe is 127.0.0.1
    ("2001:0:808:808::80ff:fffe", "loopback"),
    ("2001:0:a00:1::f7f7:f7f7", "private"),                     # the server part is 10.0.0.1
]
WRAPPED_PUBLIC = ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
                  "2001:0:808:808::f7f7:f7f7"]


@pytest.mark.parametrize("address", PUBLIC_V4 + PUBLIC_V6 + WRAPPED_PUBLIC)
def test_public_addresses_pass(address):
    assert why_not_public(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address,reason", REFUSED_V4 + REFUSED_V6 + WRAPPED)
def test_non_public_addresses_are_refused_with_the_reason(address, reason):
    why = why_not_public(ipaddress.ip_address(address))
    assert why is not None and reason.lower() in why.lower(), why


@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"])
def test_wrapped_loopback_that_ipaddress_calls_harmless_is_refused(address):
    # NOTES.md: ipaddress does not call these loopback (some it even calls global)
    assert not ipaddress.ip_address(address).is_loopback
    assert "127.0.0.1" in why_not_public(ipaddress.ip_address(address))


def numeric_only(host, port, *args, **kwargs):
    """The system resolver, restricted to numeric forms: never a network lookup."""
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1",
                                      "017700000001", "127.000.000.001"])
def test_odd_spellings_are_judged_by_what_they_resolve_to(spelling):
    with pytest.raises(RefusedAddress) as info:
        check_host(spelling, 80, resolver=numeric_only)
    assert info.value.address == "127.0.0.1" and info.value.reason == "loopback"


def fixed(*addresses):
    """A resolver that answers every name with these addresses."""
    def resolve(host, port, *args, **kwargs):
        out = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out
    return resolve


def test_every_resolved_address_is_judged():
    with pytest.raises(RefusedAddress) as info:
        check_host("mixed.example", 443, resolver=fixed("93.184.215.14", "10.0.0.7"))
    assert info.value.address == "10.0.0.7"
    assert "mixed.example resolves to 10.0.0.7" in str(info.value)


def test_the_checked_address_is_the_one_to_connect_to():
    target = check_host("www.example", 443, resolver=fixed("2606:4700::1", "93.184.215.14"))
    assert (target.host, target.port, target.address) == ("www.example", 443, "2606:4700::1")
    assert target.family == socket.AF_INET6 and target.sockaddr[:2] == ("2606:4700::1", 443)
    assert not target.allowed_by_list


def test_refusal_message_names_address_reason_and_the_setting():
    with pytest.raises(RefusedAddress) as info:
        check_host("intranet.example", 8080, resolver=fixed("192.168.1.20"))
    message = str(info.value)
    assert "192.168.1.20" in message and "private" in message
    assert "ARCHIVER_ALLOW_PRIVATE=intranet.example:8080" in message


def test_ip_literals_are_judged_without_a_resolver():
    def no_lookup(*args, **kwargs):
        raise AssertionError("an IP literal must not be looked up")
    with pytest.raises(RefusedAddress, match=r"ARCHIVER_ALLOW_PRIVATE=\[::1\]:80"):
        check_host("[::1]", 80, resolver=no_lookup)
    assert check_host("8.8.8.8", 80, resolver=no_lookup).address == "8.8.8.8"


def test_allowlist_matches_host_as_written_and_port():
    allow = {("localhost", 8080), ("127.0.0.1", 9000), ("::1", 9001)}
    assert check_host("LocalHost.", 8080, allow, resolver=fixed("127.0.0.1")).allowed_by_list
    assert check_host("127.0.0.1", 9000, allow).address == "127.0.0.1"
    assert check_host("[::1]", 9001, allow).address == "::1"
    assert check_host("0:0::1", 9001, allow).address == "::1"     # the literal, canonical form
    with pytest.raises(RefusedAddress):
        check_host("localhost", 8081, allow, resolver=fixed("127.0.0.1"))      # other port
    with pytest.raises(RefusedAddress):
        check_host("127.0.0.1", 9001, allow)
    # a different name that resolves to an allowed address is not allowed by that
    with pytest.raises(RefusedAddress):
        check_host("rebind.example", 9000, allow, resolver=fixed("127.0.0.1"))
    with pytest.raises(RefusedAddress):
        check_host("2130706433", 9000, allow, resolver=numeric_only)


def test_dns_failure():
    def no_such_host(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    with pytest.raises(DNSFailure) as info:
        check_host("no-such-host.example", 80, resolver=no_such_host)
    assert info.value.code == "dns" and not info.value.temporary
    assert "no-such-host.example" in str(info.value)


def test_temporary_dns_failure_has_its_own_code():
    def try_again(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    with pytest.raises(DNSFailure) as info:
        check_host("flaky.example", 80, resolver=try_again)
    assert info.value.code == "dns_temporary" and info.value.temporary


def test_a_name_without_addresses_is_a_dns_failure():
    with pytest.raises(DNSFailure, match="no IPv4 or IPv6 address"):
        check_host("empty.example", 80, resolver=lambda *a, **k: [])
