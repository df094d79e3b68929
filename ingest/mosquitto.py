"""A local Mosquitto run with the shipped configuration (deploy/mosquitto/mosquitto.conf).

For tests and benchmarks: only the listener and the paths change, so what is measured and
tested is the configuration that ships.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    return shutil.which("mosquitto") is not None


def dynsec_plugin() -> str:
    """Where this machine's Mosquitto keeps its dynamic-security plugin."""
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so"))
    found += sorted(glob.glob("/usr/lib/mosquitto_dynamic_security.so"))
    found += sorted(glob.glob("/usr/local/lib/mosquitto_dynamic_security.so"))
    if not found:
        raise FileNotFoundError("mosquitto_dynamic_security.so is not installed")
    return found[0]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    certfile: Path
    keyfile: Path
    port: int


def render_config(
    port: int,
    data_dir: Path,
    dynsec: Path | None = None,
    tls: TlsFiles | None = None,
    overrides: dict[str, str] | None = None,
) -> str:
    """The shipped configuration with only the listeners and paths changed.

    Without ``dynsec`` the broker is anonymous (for tests of ingest alone); without ``tls``
    the TLS listener is left out. ``overrides`` replaces single settings, for a test that
    needs a worst case (e.g. no snapshot since the messages arrived).
    """
    lines = []
    for line in SHIPPED_CONF.read_text().splitlines():
        key, _, value = line.partition(" ")
        if overrides and key in overrides:
            line = f"{key} {overrides[key]}"
        elif key == "listener":
            if value == "1883":
                line = f"listener {port} 127.0.0.1"
            else:
                line = f"listener {tls.port} 127.0.0.1" if tls else ""
        elif key in ("certfile", "keyfile", "tls_version") and tls is None:
            line = ""
        elif key == "certfile" and tls is not None:
            line = f"certfile {tls.certfile}"
        elif key == "keyfile" and tls is not None:
            line = f"keyfile {tls.keyfile}"
        elif key == "persistence_location":
            line = f"persistence_location {data_dir}/"
        elif key == "plugin":
            line = f"plugin {dynsec_plugin()}" if dynsec else ""
        elif key == "plugin_opt_config_file":
            line = f"plugin_opt_config_file {dynsec}" if dynsec else ""
        elif key == "allow_anonymous" and dynsec is None:
            line = "allow_anonymous true"
        lines.append(line)
    if os.geteuid() == 0:
        lines.append("user root")  # else Mosquitto drops to a user that cannot read a tmp dir
    return "\n".join(lines) + "\n"


@dataclass
class MosquittoProcess:
    """A Mosquitto of our own on a free loopback port; restartable with its persistence."""

    workdir: Path
    dynsec: Path | None = None
    tls: TlsFiles | None = None
    port: int = field(default_factory=free_port)
    overrides: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(render_config(self.port, data, self.dynsec, self.tls, self.overrides))
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if time.monotonic() > deadline:
                raise TimeoutError(f"mosquitto did not listen on {self.port}")
            time.sleep(0.05)

    def _accepts(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.workdir / "mosquitto.log").read_text()
            raise RuntimeError(f"mosquitto exited: {log[-2000:]}")
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
