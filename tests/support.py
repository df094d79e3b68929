"""Test support: real Mosquitto processes with the shipped configuration, real databases."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def render_mosquitto_conf(
    port: int, data_dir: Path, passwd: Path | None = None, acl: Path | None = None
) -> str:
    """The shipped configuration with only the listener and paths changed."""
    lines = []
    for line in SHIPPED_MOSQUITTO_CONF.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {data_dir}/"
        elif key == "password_file":
            line = f"password_file {passwd}" if passwd else ""
        elif key == "acl_file":
            line = f"acl_file {acl}" if acl else ""
        elif key == "allow_anonymous" and passwd is None:
            line = "allow_anonymous true"
        lines.append(line)
    if os.geteuid() == 0:
        lines.append("user root")  # or Mosquitto drops to a user that cannot read the tmp dir
    return "\n".join(lines) + "\n"


@dataclass
class MosquittoProcess:
    """A Mosquitto of the test's own on a free loopback port."""

    workdir: Path
    passwd: Path | None = None
    acl: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(render_mosquitto_conf(self.port, data, self.passwd, self.acl))
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
        wait_for(self._accepts, 10, f"mosquitto on port {self.port}")

    def _accepts(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def mosquitto_available() -> bool:
    return shutil.which("mosquitto") is not None


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


TABLES = [
    "unmatched_punches",
    "punches",
    "dead_letters",
    "credentials",
    "employees",
    "devices",
    "units",
    "agencies",
]


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
