"""Server-rendered Vietnamese pages (Jinja2, vendored htmx, local CSS) over ``services/``.

No CDN, no Node build: every asset is served by the app, so the pages work on an isolated
office LAN. Pages and the JSON API call the same service functions with the same ``Scope``.
"""

from fastapi import APIRouter

from web import (
    credentials,
    devices_pages,
    documents,
    excuses,
    notifications,
    pages,
    roster,
    rules,
    self_service,
    users,
)

# Every page module's router, in the order the app includes them (add new modules here).
ROUTERS: list[APIRouter] = [
    pages.router,
    documents.router,
    rules.router,
    roster.router,
    credentials.router,
    devices_pages.router,
    excuses.router,
    users.router,
    notifications.router,
    self_service.router,
]
