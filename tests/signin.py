"""Signing in from tests, one way each: the web sign-in form (a session cookie in a TestClient)
and the API (a bearer token). The test world's users (tests.integration.test_api) share
``PASSWORD``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from httpx import Response

if TYPE_CHECKING:
    from tests.integration.test_api import World

PASSWORD = "mật-khẩu-đủ-dài"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    """The sign-in form as a browser sends it (its CSRF token from the page); not followed."""
    page = client.get("/")
    answer: Response = client.post(
        "/dang-nhap",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    return answer


def browser(world: World) -> TestClient:
    """A browser of its own (its own cookies) on the world's app."""
    return TestClient(world.client.app)


def signed_in(world: World, username: str, password: str = PASSWORD) -> TestClient:
    """A browser of its own, signed in as ``username``."""
    client = browser(world)
    assert sign_in(client, username, password).status_code == 303, username
    return client


def token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """An API access token for ``username``."""
    answer = client.post("/api/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of an API access token for ``username``."""
    return {"Authorization": f"Bearer {token(client, username, password)}"}
