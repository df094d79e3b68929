"""Request bodies bounded before they are read: an ASGI middleware for the API and bridges.

A body larger than its route's limit is refused with 413 from the Content-Length header,
before authentication and before anything is spooled to disk; a body without a length (or
with a false one) is counted while it streams and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from kycuong.labels import vn_number

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MB = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised inside the app's receive when the streamed body passes its limit."""


def _size_label(limit: int) -> str:
    return f"{vn_number(limit / MB)} MB" if limit >= MB else f"{vn_number(limit / 1024)} KB"


class BodyLimit:
    """Refuse bodies over ``default`` bytes, or over the limit of the longest matching prefix."""

    def __init__(self, app: App, *, default: int, by_prefix: Mapping[str, int] | None = None):
        self.app = app
        self.default = default
        self.by_prefix = sorted((by_prefix or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        page = _wants_page(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await _refuse(send, limit, page)
                    return
        seen = 0
        started = exceeded = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A framework may turn our exception into its own error answer (FastAPI answers
            # 400 when a form cannot be parsed): the answer is 413 all the same.
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _refuse(send, limit, page)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # BodyTooLarge itself, or wrapped on its way out (an http middleware's task group
            # raises it inside an ExceptionGroup): past the limit, any fault is the body's.
            if not exceeded:
                raise
            if not started:
                await _refuse(send, limit, page)


def _wants_page(scope: Scope) -> bool:
    """A browser's form post to a page (not the JSON API): it is answered with a page."""
    if str(scope.get("path", "")).startswith("/api"):
        return False
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"text/html" in accept


_PAGE = (
    '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Tệp quá lớn · Kỷ Cương</title>"
    '<link rel="stylesheet" href="/static/web/kycuong.css"></head><body><main>'
    '<h1>Tệp quá lớn</h1><p class="alert" role="alert">{message}</p>'
    '<p><a href="javascript:history.back()">← Quay lại trang trước</a> để chọn tệp nhỏ hơn.</p>'
    "</main></body></html>"
)


async def _refuse(send: Send, limit: int, page: bool = False) -> None:
    message = f"Nội dung gửi lên quá lớn (tối đa {_size_label(limit)})."
    if page:
        html = _PAGE.format(message=message).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(html)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": html})
        return
    body = json.dumps(
        {
            "error": {
                "code": "body_too_large",
                "message": f"Nội dung gửi lên quá lớn (tối đa {_size_label(limit)}).",
            }
        },
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
