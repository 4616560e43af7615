"""A webhook receiver on 127.0.0.1 for tests: records every POST, answers as told.

    with WebhookReceiver(answers=[500, 500]) as hook:   # fails twice, then 200
        hook.url                                        # http://127.0.0.1:PORT/hook
        hook.received                                   # [Received(path, headers, body), ...]
        hook.allow                                      # the ARCHIVER_ALLOW_PRIVATE entry
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):   # noqa: A002 - quiet in tests
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        with receiver.lock:
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.answers.pop(0) if receiver.answers else 200
        reply = b'{"ok": true}' if status < 300 else b'{"ok": false}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: "WebhookReceiver"


class WebhookReceiver:
    def __init__(self, answers: list[int] | None = None):
        self.answers = list(answers or [])     # statuses for the next POSTs; then 200
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.allow}/hook"

    def __enter__(self) -> "WebhookReceiver":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
