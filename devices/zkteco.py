"""ZKTeco bridge (also Ronald Jack and other ZK-protocol terminals): polls terminals over the
LAN with pyzk and publishes their attendance records to the MQTT contract as each device.

Each record gets a stable event id from the terminal's serial and the record itself, so a
re-read is a duplicate the server absorbs. The position (the last record forwarded) is
written to a state file only after the broker acknowledged every record before it, so a
restart neither repeats (beyond duplicates the server drops) nor skips. The terminal's
clock goes out in the heartbeat, so the server measures its drift and corrects its punches.
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from devices.reader import Reader

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    device_id: str
    address: str
    port: int = 4370
    comm_key: int = 0
    site: str = ""
    mqtt_password: str | None = None
    direction: Literal["in", "out", "both"] = "both"  # a one-way gate overrides the key pressed
    identify_by: Literal["card", "user_id"] = "card"
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    state_dir: Path = Path("bridge-state")
    poll_seconds: float = 15.0
    terminals: tuple[TerminalConfig, ...] = field(default_factory=tuple)
    broker_tls_ca: str | None = None


def load_config(path: Path) -> BridgeConfig:
    """Read the installer's TOML file (see README: the office installer's section)."""
    data = tomllib.loads(path.read_text())
    broker = data.get("broker", {})
    terminals = tuple(TerminalConfig(**t) for t in data.get("terminals", []))
    if not terminals:
        raise ValueError(f"{path}: no [[terminals]]")
    return BridgeConfig(
        broker_host=broker.get("host", "127.0.0.1"),
        broker_port=int(broker.get("port", 1883)),
        state_dir=Path(data.get("state_dir", "bridge-state")),
        poll_seconds=float(data.get("poll_seconds", 15)),
        terminals=terminals,
        broker_tls_ca=broker.get("tls_ca"),
    )


class TerminalBridge:
    """One terminal: poll, publish, remember the position; report offline while unreachable."""

    def __init__(self, config: BridgeConfig, terminal: TerminalConfig) -> None:
        self.config = config
        self.terminal = terminal
        self.tz = ZoneInfo(terminal.timezone)
        self.state_path = config.state_dir / f"{terminal.device_id}.json"
        self.reader = Reader(
            terminal.device_id,
            config.broker_host,
            config.broker_port,
            password=terminal.mqtt_password,
            tls_ca=config.broker_tls_ca,
        )
        self.online: bool | None = None
        self.forwarded = 0
        self._stop = threading.Event()

    def _position(self) -> datetime | None:
        if not self.state_path.exists():
            return None
        return datetime.fromisoformat(json.loads(self.state_path.read_text())["last"])

    def _remember(self, last: datetime, serial: str) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last": last.isoformat(), "serial": serial}))
        tmp.replace(self.state_path)

    def _read_terminal(self) -> tuple[str, datetime, list[Any], dict[str, Any]]:
        from zk import ZK

        conn = ZK(
            self.terminal.address,
            port=self.terminal.port,
            timeout=10,
            password=self.terminal.comm_key,
            ommit_ping=True,
        ).connect()
        try:
            serial = conn.get_serialnumber()
            clock = conn.get_time()
            users = {u.user_id: u for u in conn.get_users()}
            records = conn.get_attendance()
        finally:
            conn.disconnect()
        return serial, clock, records, users

    def _direction(self, punch: int) -> str:
        if self.terminal.direction != "both":
            return self.terminal.direction
        return {0: "in", 1: "out"}.get(punch, "unknown")

    def poll_once(self) -> int:
        """Read new records and publish them; returns how many were acknowledged."""
        serial, clock, records, users = self._read_terminal()
        if self.online is not True:
            self.reader.publish_raw(
                "status",
                json.dumps({"v": 1, "device_id": self.terminal.device_id, "state": "online"}),
                retain=True,
            )
            self.online = True
        last = self._position()
        fresh = sorted(
            (r for r in records if last is None or r.timestamp >= last), key=lambda r: r.timestamp
        )
        # The terminal's own clock: the server measures its offset from this heartbeat.
        newest = fresh[-1].timestamp if fresh else last
        self.reader.heartbeat(
            clock.replace(tzinfo=self.tz), newest.replace(tzinfo=self.tz) if newest else None
        )
        for record in fresh:
            user = users.get(record.user_id)
            if self.terminal.identify_by == "card" and user is not None and user.card:
                kind, value = "card", str(user.card)
            else:
                kind, value = "pin", str(record.user_id)
            self.reader.punch(
                f"{serial}-{record.user_id}-{record.timestamp:%Y%m%d%H%M%S}",
                value,
                record.timestamp.replace(tzinfo=self.tz),
                direction=self._direction(record.punch),
                credential_kind=kind,
                verify_mode={1: "fingerprint", 4: "card", 15: "face"}.get(record.status)
                or "unknown",
            )
        if fresh:
            self.reader.drain(timeout=120)  # the position moves only past what the broker holds
            self._remember(fresh[-1].timestamp, serial)
        self.forwarded += len(fresh)
        return len(fresh)

    def run(self) -> None:
        self.reader.connect()
        delay = self.config.poll_seconds
        while not self._stop.is_set():
            try:
                sent = self.poll_once()
                if sent:
                    log.info("%s: forwarded %d records", self.terminal.device_id, sent)
                delay = self.config.poll_seconds
            except Exception as exc:  # the terminal is unreachable or answered nonsense
                if self.online is not False:
                    log.warning(
                        "%s unreachable (%s); retrying with backoff", self.terminal.device_id, exc
                    )
                    self.reader.publish_raw(
                        "status",
                        json.dumps(
                            {"v": 1, "device_id": self.terminal.device_id, "state": "offline"}
                        ),
                        retain=True,
                    )
                    self.online = False
                delay = min(max(delay * 2, 1.0), 300.0)
            self._stop.wait(delay)
        self.reader.close()

    def stop(self) -> None:
        self._stop.set()


def run_bridge(config: BridgeConfig, stop: threading.Event) -> None:
    bridges = [TerminalBridge(config, t) for t in config.terminals]
    threads = [
        threading.Thread(target=b.run, name=f"zk-{b.terminal.device_id}", daemon=True)
        for b in bridges
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    for bridge in bridges:
        bridge.stop()
    for thread in threads:
        thread.join(timeout=30)
