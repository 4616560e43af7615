"""Starting Chromium for one capture: fresh profile, no network of its own.

Chromium itself never reaches a server: every request is intercepted and fetched by the
project's fetcher (archiver/browser/exchanges.py). Two fences stand behind that for what
interception does not see (a preconnect, a WebRTC probe, a bug):
  - `--proxy-server` points at a loopback port that is bound but never listens, for all
    hosts, loopback included (`<-loopback>`), so anything that escapes is refused at once;
  - background networking, component updates, sync and WebRTC's unproxied UDP are off.
The profile is a new temporary folder, removed when the capture ends.
"""
from __future__ import annotations

import shutil
import socket
import tempfile
from contextlib import contextmanager
from typing import Iterator

# NOTES.md: without the background-networking flags Chromium keeps trying to reach the internet
BASE_ARGS = ("--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps",
             "--disable-extensions", "--no-default-browser-check", "--mute-audio",
             "--disable-domain-reliability", "--disable-client-side-phishing-detection",
             "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
             "--disable-features=DnsOverHttps,NetworkPrediction,PrivacySandboxSettings4")


@contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port bound (so no one else takes it) but not listening: connections to it
    are refused. Held for as long as the block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


def chromium_args(proxy_port: int) -> list[str]:
    return [*BASE_ARGS, f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>"]


@contextmanager
def fresh_profile() -> Iterator[str]:
    """A new, empty profile folder, deleted afterwards whatever happened."""
    path = tempfile.mkdtemp(prefix="archiver-browser-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
