"""Real receivers for notifications in the test process: an SMTP server (aiosmtpd) and an
HTTP endpoint for the webhook, each recording what it accepted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support import free_port


@dataclass
class SmtpSink:
    """Messages the SMTP server accepted (250), parsed; ``hook`` may refuse one by returning
    a reply other than 250, before it is recorded."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    hook: Callable[[EmailMessage, int], str | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.seen += 1
            seen = self.seen
        if self.hook is not None:
            reply = self.hook(message, seen)
            if reply is not None:
                return reply
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@contextmanager
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@dataclass
class WebhookSink:
    """An HTTP endpoint answering ``statuses`` in turn (then 200), recording every request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0


@contextmanager
def webhook_server(statuses: list[int]) -> Iterator[WebhookSink]:
    sink = WebhookSink(statuses=list(statuses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = sink.statuses.pop(0) if sink.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
