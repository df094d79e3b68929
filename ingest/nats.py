"""A local NATS cluster (JetStream, MQTT listener) run with the shipped configuration
(deploy/nats/nats.conf), for tests and benchmarks of the clustered broker tier.

Each node is its own process with its own ports and data directory; only the values the
shipped file reads from the environment change, so what is tested is what ships. The shipped
file is copied into the work directory with the accounts file it includes beside it: the
text of ``devices.provision.render_nats_accounts``, or nothing (anonymous clients, for tests
of ingest alone, like ``MosquittoProcess`` without dynamic security); the MQTT listener's
file beside it is the shipped ``mqtt-plain.conf``, or ``mqtt-tls.conf`` with ``tls`` given.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.mosquitto import free_port

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "deploy" / "nats"
SHIPPED_CONF = SHIPPED_DIR / "nats.conf"


def available() -> bool:
    return shutil.which("nats-server") is not None


@dataclass
class NatsNode:
    name: str
    workdir: Path
    mqtt_port: int = field(default_factory=free_port)
    client_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class NatsCluster:
    """Three nodes on loopback; ``kill(i)`` SIGKILLs one, ``start(i)`` brings it back."""

    workdir: Path
    size: int = 3
    accounts: str | None = None
    tls: tuple[Path, Path] | None = None  # (certificate, key): the MQTT listener over TLS
    nodes: list[NatsNode] = field(default_factory=list)
    # Starts with a letter: nats-server reads a value with a leading digit as a number.
    route_password: str = field(default_factory=lambda: "kc" + secrets.token_urlsafe(18))

    def __post_init__(self) -> None:
        self.nodes = [NatsNode(f"kc-{i + 1}", self.workdir / f"n{i + 1}") for i in range(self.size)]
        self.conf = self.workdir / "nats.conf"

    def write_accounts(self, accounts: str | None) -> None:
        """Replace the accounts file; ``reload()`` makes running nodes read it."""
        self.accounts = accounts
        auth = self.workdir / "auth"
        auth.mkdir(parents=True, exist_ok=True)
        (auth / "accounts.conf").write_text(accounts or "")

    def reload(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGHUP)

    def _env(self, node: NatsNode) -> dict[str, str]:
        routes = [
            f"nats-route://kc-route:{self.route_password}@127.0.0.1:{n.cluster_port}"
            for n in self.nodes
        ]
        env = dict(os.environ)
        env.update(
            KC_NATS_ROUTE_PASSWORD=self.route_password,
            KC_NATS_NAME=node.name,
            KC_NATS_CLIENT_LISTEN=f"127.0.0.1:{node.client_port}",
            KC_NATS_MONITOR_LISTEN=f"127.0.0.1:{node.monitor_port}",
            KC_NATS_CLUSTER_LISTEN=f"127.0.0.1:{node.cluster_port}",
            KC_NATS_MQTT_LISTEN=f"127.0.0.1:{node.mqtt_port}",
            KC_NATS_STORE_DIR=str(node.workdir / "jetstream"),
            KC_NATS_MQTT_CERT=str(self.tls[0]) if self.tls else "",
            KC_NATS_MQTT_KEY=str(self.tls[1]) if self.tls else "",
            **{f"KC_NATS_ROUTE_{i + 1}": r for i, r in enumerate(routes)},
        )
        return env

    def start(self, index: int | None = None, timeout: float = 30.0) -> None:
        if not self.conf.exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHIPPED_CONF, self.conf)
            listener = "mqtt-tls.conf" if self.tls else "mqtt-plain.conf"
            shutil.copyfile(SHIPPED_DIR / listener, self.workdir / "mqtt-listener.conf")
            self.write_accounts(self.accounts)
        for node in self.nodes if index is None else [self.nodes[index]]:
            node.workdir.mkdir(parents=True, exist_ok=True)
            log = open(node.workdir / "nats.log", "ab")  # noqa: SIM115 - owned by the child
            node.proc = subprocess.Popen(
                ["nats-server", "-c", str(self.conf)],
                env=self._env(node),
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        for node in self.nodes if index is None else [self.nodes[index]]:
            while not self._accepts(node):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node.name} did not listen on {node.mqtt_port}")
                time.sleep(0.1)

    def _accepts(self, node: NatsNode) -> bool:
        assert node.proc is not None
        if node.proc.poll() is not None:
            log = (node.workdir / "nats.log").read_text()
            raise RuntimeError(f"{node.name} exited: {log[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", node.mqtt_port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[index]
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(sig)
            node.proc.wait(timeout=20)
        node.proc = None

    def stop(self) -> None:
        for index in range(len(self.nodes)):
            self.kill(index, signal.SIGTERM)

    def log(self, index: int) -> str:
        return (self.nodes[index].workdir / "nats.log").read_text(errors="replace")
