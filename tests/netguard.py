"""Network discipline for the fetcher's tests: a socket tripwire and resolvers that never
touch the network.

`Tripwire` patches the socket module for one test: it records every connection attempt
and lets through only the endpoints named (the fixture site's); any other attempt is
stopped before a packet leaves (ConnectionRefusedError) and recorded as a violation.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class Tripwire:
    allowed: set = field(default_factory=set)          # {(ip, port)} that may be reached
    attempts: list = field(default_factory=list)       # every (ip, port) tried, in order
    violations: list = field(default_factory=list)     # attempts that were stopped

    def check(self, address) -> None:
        endpoint = (str(address[0]), int(address[1])) if isinstance(address, tuple) else (str(address), 0)
        self.attempts.append(endpoint)
        if self.allowed is not None and endpoint not in self.allowed:
            self.violations.append(endpoint)
            raise ConnectionRefusedError(f"tripwire: the test forbids a connection to {endpoint}")

    def install(self, monkeypatch) -> "Tripwire":
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        real_create = socket.create_connection
        wire = self

        def connect(sock, address):
            wire.check(address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            wire.check(address)
            return real_connect_ex(sock, address)

        def create_connection(address, *args, **kwargs):
            wire.check(address)
            return real_create(address, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "create_connection", create_connection)
        return self


def recording_tripwire(monkeypatch) -> list:
    """Record every attempt and let all through (for tests that count connections)."""
    wire = Tripwire(allowed=None).install(monkeypatch)
    return wire.attempts


def _answer(address: str, port: int) -> tuple:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


def resolver_for(names: dict[str, str | list[str]], calls: list | None = None):
    """A test resolver: only the given names exist; nothing goes to the network.

    A name maps to one address or to a list of addresses answered together."""
    def resolve(host, port, *args, **kwargs):
        if calls is not None:
            calls.append(host)
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = names[host]
        return [_answer(a, port) for a in ([answer] if isinstance(answer, str) else answer)]
    return resolve


def sequence_resolver(host: str, answers: list[str], calls: list):
    """Answers `host` with the next address of `answers` at each call (DNS rebinding)."""
    def resolve(name, port, *args, **kwargs):
        calls.append(name)
        if name != host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_answer(answers[min(len(calls), len(answers)) - 1], port)]
    return resolve


# What a system resolver answers for loopback names, without asking anyone (RFC 6761:
# every name under .localhost is loopback).
LOOPBACK_NAMES = {"localhost": ["127.0.0.1", "::1"], "ip6-localhost": "::1",
                  "ip6-loopback": "::1", "localhost.localdomain": "127.0.0.1"}


def offline_system_resolver(host, port, *args, **kwargs):
    """The system resolver's behaviour for numeric and loopback names, with no lookups:
    numeric spellings (`2130706433`, `0x7f.1`) go through getaddrinfo with
    AI_NUMERICHOST, which never sends a query; loopback names come from a table; every
    other name does not exist."""
    name = host.rstrip(".").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        answer = LOOPBACK_NAMES.get(name, "127.0.0.1")
        return [_answer(a, port) for a in ([answer] if isinstance(answer, str) else answer)]
    try:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
