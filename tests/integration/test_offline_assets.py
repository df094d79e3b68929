"""The API's documentation pages work on an office LAN without internet: no CDN anywhere."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.app import create_app
from kycuong.settings import Settings

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
URL_IN_SCRIPT = re.compile(r"""["'](?:https?:)?//[^"']+\.(?:js|css|woff2?|ttf)["']""")


def test_docs_and_redoc_load_every_asset_from_the_app(sqlite_url: str) -> None:
    client = TestClient(create_app(Settings(database_url=sqlite_url)))
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert not EXTERNAL.search(html.text), page
        assert not URL_IN_SCRIPT.search(html.text), page
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), asset
            assert client.get(asset).status_code == 200, asset


def test_json_api_lives_under_api(sqlite_url: str) -> None:
    client = TestClient(create_app(Settings(database_url=sqlite_url)))
    assert client.get("/api/violations").status_code == 401
    assert client.get("/api/violations").json()["error"]["code"] == "unauthorized"
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert all(
        p.startswith("/api/") or p in ("/healthz", "/readyz", "/metrics") for p in spec["paths"]
    )
