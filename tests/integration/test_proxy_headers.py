"""Behind a reverse proxy: whose X-Forwarded-* headers are believed (KC_TRUSTED_PROXIES).

The API runs as ``kycuong api`` serves it (``api.app.server_config``: real uvicorn on a
loopback port); the tests speak HTTP to it as nginx or Caddy would, from 127.0.0.1, with the
headers a proxy adds, and as a client that forges them.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from sqlalchemy import Engine

from api.app import create_app, server_config
from kycuong.settings import Settings
from services.signin import locks
from store.db import db_session
from store.users import create_user
from tests.support import free_port, wait_for
from web import session as web_session

PASSWORD = "mat-khau-du-dai-1"
PROXY = "127.0.0.1"  # the tests' connections come from here: the proxy's address


# Password hashing under a loaded CI machine (three test workers on two cores) can take
# longer than httpx's 5 s default.
TIMEOUT = 60.0


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    with db_session(pg_engine) as db:
        create_user(db, "truongphong", PASSWORD, "admin")
        create_user(db, "admin", PASSWORD, "admin")
    return pg_engine


def settings_for(engine: Engine, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "mqtt_port": free_port(),
        "api_port": free_port(),
        "api_secret": "a-secret-of-the-proxy-tests-" + "x" * 20,
        # Address failures lock quickly; account failures never do here.
        "signin_address_failures": 3,
        "signin_account_failures": 1000,
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def api(engine: Engine, settings: Settings, **extra: object) -> Iterator[int]:
    """The API served as ``kycuong api`` serves it, for the block; yields its port."""
    server = uvicorn.Server(
        server_config(create_app(settings, engine), settings, log_level="warning", **extra)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "uvicorn to start")
    try:
        yield settings.api_port
    finally:
        server.should_exit = True
        thread.join(10)


def token(port: int, username: str, password: str, headers: dict[str, str]) -> int:
    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/auth/token",
        data={"username": username, "password": password},
        headers=headers,
        timeout=TIMEOUT,
    )
    return answer.status_code


def locked_keys(port: int, headers: dict[str, str]) -> set[str]:
    """The sign-in locks an admin sees (signed in from an address that is not locked)."""
    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/auth/token",
        data={"username": "admin", "password": PASSWORD},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    bearer = {"Authorization": f"Bearer {answer.json()['access_token']}", **headers}
    locks = httpx.get(
        f"http://127.0.0.1:{port}/api/auth/locks", headers=bearer, timeout=TIMEOUT
    ).json()
    return {lock["key"] for lock in locks if lock["locked_until"]}


def test_behind_a_trusted_proxy_each_client_address_is_limited_on_its_own(
    engine: Engine,
) -> None:
    settings = settings_for(engine, trusted_proxies=PROXY)
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    colleague = {"X-Forwarded-For": "203.0.113.8"}
    with api(engine, settings) as port:
        for i in range(3):
            assert token(port, f"nguoi{i}", "doan-bua", guesser) == 401
        assert token(port, "truongphong", PASSWORD, guesser) == 429
        # Another client behind the same proxy is not locked by the guesser's failures.
        assert token(port, "truongphong", PASSWORD, colleague) == 200
        # The guesser cannot escape by sending its own X-Forwarded-For: the proxy appends
        # the address it saw, and the right-most address not a proxy's is the client.
        assert (
            token(port, "truongphong", PASSWORD, {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
            == 429
        )
        keys = locked_keys(port, colleague)
    assert keys == {"addr:203.0.113.7"}


@pytest.mark.parametrize("trusted", ["", "10.255.0.1,192.0.2.0/24"], ids=["none", "others"])
def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(
    engine: Engine, trusted: str
) -> None:
    """uvicorn believes 127.0.0.1 by default; with KC_TRUSTED_PROXIES empty nobody is."""
    settings = settings_for(engine, trusted_proxies=trusted)
    with api(engine, settings) as port:
        for i in range(3):  # a new forged address each time, to dodge the address limit
            spoofed = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
            assert token(port, f"nguoi{i}", "doan-bua", spoofed) == 401
        assert token(port, "truongphong", PASSWORD, {"X-Forwarded-For": "198.51.100.99"}) == 429
        assert token(port, "truongphong", PASSWORD, {}) == 429
        keys = {lock.key for lock in locks(engine) if lock.locked_until}
    assert keys == {f"addr:{PROXY}"}


def cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    """The attributes (lower-case, values dropped) of the Set-Cookie that sets ``name``."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def sign_in_cookies(
    client: httpx.Client, base: str, headers: dict[str, str]
) -> tuple[set[str], set[str]]:
    """Sign in through the page as a browser does: the attributes of the two cookies set.

    Cookies are passed by hand: a client speaking plain HTTP to the app behind a TLS proxy
    would (rightly) not send back a cookie marked Secure.
    """
    page = client.get(f"{base}/", headers=headers)
    assert page.status_code == 200
    csrf = page.cookies[web_session.PRELOGIN_COOKIE]
    form = client.post(
        f"{base}/dang-nhap",
        data={"username": "truongphong", "password": PASSWORD, "csrf": csrf, "next": "/"},
        headers={**headers, "Cookie": f"{web_session.PRELOGIN_COOKIE}={csrf}"},
        follow_redirects=False,
    )
    assert form.status_code == 303, form.text
    return (
        cookie_attributes(page, web_session.PRELOGIN_COOKIE),
        cookie_attributes(form, web_session.SESSION_COOKIE),
    )


@pytest.mark.parametrize(
    ("trusted", "headers", "secure"),
    [
        ("", {}, False),
        (PROXY, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}, True),
        (PROXY, {"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.7"}, False),
        ("", {"X-Forwarded-Proto": "https"}, False),
        ("10.255.0.1", {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["laptop-http", "tls-proxy", "plain-proxy", "forged-none-trusted", "forged-other-trusted"],
)
def test_the_session_cookie_is_secure_exactly_when_the_browser_speaks_https(
    engine: Engine, trusted: str, headers: dict[str, str], secure: bool
) -> None:
    settings = settings_for(engine, trusted_proxies=trusted)
    with api(engine, settings) as port, httpx.Client(timeout=TIMEOUT) as client:
        prelogin, session = sign_in_cookies(client, f"http://127.0.0.1:{port}", headers)
        hsts = client.get(f"http://127.0.0.1:{port}/", headers=headers).headers
    assert ("secure" in prelogin, "secure" in session) == (secure, secure)
    assert {"httponly", "samesite"} <= session
    # HSTS exactly when the browser speaks HTTPS: never on a laptop's plain HTTP.
    assert ("strict-transport-security" in hsts) == secure


def test_the_session_cookie_is_secure_when_the_api_itself_serves_https(
    engine: Engine, broker_certs: Path
) -> None:
    certs = broker_certs
    settings = settings_for(engine)
    tls = {"ssl_certfile": str(certs / "server.crt"), "ssl_keyfile": str(certs / "server.key")}
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    client = httpx.Client(verify=context, timeout=TIMEOUT)
    with api(engine, settings, **tls) as port, client:
        prelogin, session = sign_in_cookies(client, f"https://127.0.0.1:{port}", {})
    assert "secure" in prelogin and "secure" in session


@pytest.mark.parametrize("value", ["*", "nginx", "10.0.0.300", "172.18.0.0/33"])
def test_a_trusted_proxy_that_is_no_address_stops_the_process(value: str) -> None:
    with pytest.raises(ValidationError, match="không phải địa chỉ IP hay dải mạng"):
        Settings(trusted_proxies=value)


def test_trusted_proxies_are_addresses_and_networks_as_uvicorn_reads_them() -> None:
    settings = Settings(trusted_proxies=" 10.0.0.5, 172.18.0.9/16 ,::1,")
    assert settings.trusted_proxy_list == ["10.0.0.5", "172.18.0.0/16", "::1"]
