"""Test support: real Mosquitto processes with the shipped configuration, real databases."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import Engine, text

from ingest.mosquitto import MosquittoProcess, free_port
from ingest.mosquitto import available as mosquitto_available
from ingest.worker import IngestWorker
from kycuong.settings import Settings
from store.models import Base

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from devices.hikvision import HikConfig

__all__ = ["MosquittoProcess", "free_port", "mosquitto_available"]

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "KC_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Skip when a real component is missing, except on CI where it must be there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{why} (CI=true: real components are required)")
        pytest.skip(why)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def create_pg_database() -> str:
    """A fresh database on the real server; returns its SQLAlchemy URL."""
    name = f"kc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in PG_ADMIN_URL.split())
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}"
        f":{params.get('port', '5432')}/{name}"
    )


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]


STACKS = ["postgres+mosquitto", "sqlite+embedded"]


@dataclass
class Stack:
    """A database and a broker for an ingest worker: PostgreSQL with a real Mosquitto, or
    the one-office SQLite file with the in-process broker."""

    engine: Engine
    settings: Settings
    port: int


def stack_for(request: pytest.FixtureRequest, **extra: object) -> Stack:
    """The stack named by ``request.param`` (one of STACKS), with ingest settings ``extra``."""
    if request.param == "postgres+mosquitto":
        engine = request.getfixturevalue("pg_engine")
        port = request.getfixturevalue("mosquitto").port
        embedded = False
    else:
        engine = request.getfixturevalue("sqlite_engine")
        port = request.getfixturevalue("embedded_broker")
        embedded = True
    values: dict[str, object] = {
        "database_url": str(engine.url.render_as_string(hide_password=False)),
        "mqtt_port": port,
        "mqtt_embedded": embedded,
        "mqtt_protocol": "5",
        "mqtt_client_id": f"ingest-{uuid.uuid4().hex[:8]}",
        "ingest_flush_ms": 20,
    }
    values.update(extra)
    return Stack(engine, Settings(**values), port)  # type: ignore[arg-type]


def truncate_all(engine: Engine) -> None:
    """Empty every table and start its ids from 1 again.

    DELETE in foreign-key order rather than TRUNCATE: a test leaves a few rows, and on
    PostgreSQL a TRUNCATE recreates the files of every monthly partition and index (about 350
    relations), which cost seconds for each test.
    """
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c"
                    " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
                )
            )


def ingest_settings(engine: Engine, port: int, **extra: object) -> Settings:
    """Settings for a worker of the test's own against a real Mosquitto (MQTT 5)."""
    values: dict[str, object] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "mqtt_port": port,
        "mqtt_embedded": False,
        "mqtt_protocol": "5",
        "mqtt_client_id": f"ingest-{uuid.uuid4().hex[:8]}",
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def start_ingest(engine: Engine, port: int, **extra: object) -> IngestWorker:
    """An ingest worker, started and connected to the broker on ``port``; stop it yourself."""
    worker = IngestWorker(ingest_settings(engine, port, **extra), engine)
    worker.start()
    assert worker.wait_connected(10), "the ingest worker did not connect"
    return worker


@contextmanager
def running_ingest(engine: Engine, port: int, **extra: object) -> Iterator[IngestWorker]:
    """An ingest worker connected to the broker on ``port`` for the length of the block."""
    worker = start_ingest(engine, port, **extra)
    try:
        yield worker
    finally:
        worker.stop()


@contextmanager
def running_nats_ingest(
    engine: Engine, port: int, password: str, **extra: object
) -> Iterator[IngestWorker]:
    """An ingest worker on a NATS node's MQTT (3.1.1, the only one NATS speaks) under the
    ``kc-ingest`` service account, flushing every 20 ms unless told; ``port`` 0 with
    ``mqtt_host`` naming the nodes."""
    settings: dict[str, object] = {"ingest_flush_ms": 20} | extra
    with running_ingest(
        engine,
        port,
        mqtt_protocol="3.1.1",
        mqtt_username="kc-ingest",
        mqtt_password=password,
        **settings,
    ) as worker:
        yield worker


@contextmanager
def running_hik_bridge(engine: Engine, config: HikConfig) -> Iterator[TestClient]:
    """The Hikvision bridge's app (its lifespan run, so its readers connect) and an ingest
    worker, both on the broker ``config`` names, for the block."""
    from fastapi.testclient import TestClient

    from devices.hikvision import create_app

    with running_ingest(engine, config.broker_port), TestClient(create_app(config)) as client:
        yield client


@contextmanager
def serving(app: object) -> Iterator[int]:
    """A real uvicorn server for ``app`` on a free loopback port, for the block."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "uvicorn to start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def push_body(
    port: int, path: str, total: int, headers: dict[str, str] | None = None, prefix: bytes = b""
) -> tuple[int | None, int]:
    """POST ``total`` bytes chunked (no length) in 1 MB pieces; returns (status, bytes sent).

    Stops sending when the server answers or closes, as a real client does.
    """
    import http.client

    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        piece = b"x" * (1024 * 1024)
        yield prefix
        while sent < total:
            sent += len(piece)
            yield piece

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with suppress(BrokenPipeError, ConnectionResetError):  # the server stopped reading
        conn.request("POST", path, body=chunks(), headers=headers or {}, encode_chunked=True)
    try:
        return conn.getresponse().status, sent
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return None, sent
    finally:
        conn.close()
