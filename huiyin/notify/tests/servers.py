"""Real local servers for the transport tests: an HTTP server on 127.0.0.1 (port 0) in a
thread that records every request and answers through a handler function, and an SMTP
server (aiosmtpd). No mocks of our own code."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("ascii"), keep_blank_values=True).items()}


# A handler returns (status, JSON-able data or raw bytes).
Handler = Callable[[Request], tuple[int, Any]]


class LocalHTTPServer:
    """Answers GET and POST through `handler`, in `content_type` (JSON unless told)."""

    def __init__(self, handler: Handler, content_type: str = "application/json; charset=utf-8"):
        self.handler = handler
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                req = Request(
                    method=method, path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                )
                with outer.lock:
                    outer.requests.append(req)
                status, data = outer.handler(req)
                raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SMTPReceiver:
    """aiosmtpd on 127.0.0.1 with a free port; `messages` holds what it accepted.
    Recipients in `refuse` are answered 550 at RCPT TO."""

    def __init__(self, refuse: set[str] | None = None):
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.refuse = refuse or set()
        outer = self

        class _Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                                  rcpt_options: Any) -> str:
                if address in outer.refuse:
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append(message_from_bytes(envelope.original_content or envelope.content))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(_Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
