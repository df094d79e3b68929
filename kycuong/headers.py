"""Security headers on every answer of the HTTP adapters (API, pages, bridges).

Every asset the pages use is served by the app itself, so the Content-Security-Policy can
allow only 'self'. The interactive docs (Swagger UI, ReDoc) are served offline too, but start
with an inline script; they get a policy of their own, and ``KC_API_DOCS=false`` turns them off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Over HTTPS (served directly, or a trusted proxy's X-Forwarded-Proto): browsers keep to HTTPS
# for a year. Never on plain HTTP: an office laptop without TLS must stay reachable.
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Add the CSP, the content-type, frame and referrer policies (and HSTS over HTTPS) to
    every response."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else STRICT_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in COMMON if n not in present]
                if scope.get("scheme") == "https" and HSTS[0] not in present:
                    extra.append(HSTS)
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
