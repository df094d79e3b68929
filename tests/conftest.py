"""Fixtures: real PostgreSQL, real Mosquitto processes, SQLite files, the embedded broker."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from store.db import make_engine, upgrade
from tests.support import (
    MosquittoProcess,
    create_pg_database,
    drop_pg_database,
    free_port,
    mosquitto_available,
    pg_available,
    require,
    truncate_all,
)

ROOT = Path(__file__).resolve().parents[1]

# Many tests replay punches on fixed dates (November 2026). Ingest quarantines punches older
# than KC_MAX_BACKLOG_AGE_DAYS (62) when received, so those tests would start failing two
# months later; the tests of that window pass their own limits. Subprocesses inherit this.
os.environ.setdefault("KC_MAX_BACKLOG_AGE_DAYS", "3650")
# Argon2's RFC 9106 profile (64 MiB, 3 passes) costs ~0.1 s a hash on this box, and the suite
# creates and signs in hundreds of users: tests hash with the cheapest parameters. One test
# (tests/unit/test_password_profile.py) checks the default profile real accounts get.
os.environ.setdefault("KC_PASSWORD_HASH_PROFILE", "cheapest")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs a CLI command configures the root logger (kycuong.logs.configure: a
    handler on stderr, INFO): put it back after the test, or every later INFO line from a
    background thread (the test SMTP server's "connection lost") lands in CI's output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    require(pg_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    url = create_pg_database()
    upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def broker_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for localhost/127.0.0.1, made the documented way
    (deploy/mosquitto/make-certs.sh), once per test process: two RSA-3072 keys cost seconds."""
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(
        ["sh", str(ROOT / "deploy/mosquitto/make-certs.sh"), str(out), "localhost", "127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kycuong.db'}"
    upgrade(url)
    return url


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    require(mosquitto_available(), "the mosquitto binary is not installed")
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def embedded_broker() -> Iterator[int]:
    from ingest.broker import EmbeddedBroker

    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    yield port
    broker.stop()
