"""ZKTeco bridge (also Ronald Jack and other ZK-protocol terminals): polls terminals over the
LAN with pyzk and publishes their attendance records to the MQTT contract as each device.

Each record gets a stable event id from the terminal's serial and the record itself, so a
re-read is a duplicate the server absorbs. The position is a place in the terminal's log,
not a time: a clock set back or ahead neither hides nor blocks a record. It moves only past
records the server's receipts confirmed (stored, or kept as a dead letter), so neither a
restart of the bridge nor a crash of the broker loses one. Each punch carries the clock
offset in force when it was made; the terminal's clock also goes out in the heartbeat.
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from devices.reader import Reader, broker_spec
from ingest.contract import ReceiptV1

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
    broker_host: str = "127.0.0.1"  # several nodes: "nats-1,nats-2:1884" (TOML: hosts = [...])
    broker_port: int = 1883
    state_dir: Path = Path("bridge-state")
    poll_seconds: float = 15.0
    terminals: tuple[TerminalConfig, ...] = field(default_factory=tuple)
    resend_seconds: float = 30.0  # a punch without the server's receipt is sent again
    broker_tls_ca: str | None = None


def load_config(path: Path) -> BridgeConfig:
    """Read the installer's TOML file (see README: the office installer's section)."""
    data = tomllib.loads(path.read_text())
    broker = data.get("broker", {})
    terminals = tuple(TerminalConfig(**t) for t in data.get("terminals", []))
    if not terminals:
        raise ValueError(f"{path}: no [[terminals]]")
    return BridgeConfig(
        broker_host=broker_spec(broker),
        broker_port=int(broker.get("port", 1883)),
        state_dir=Path(data.get("state_dir", "bridge-state")),
        poll_seconds=float(data.get("poll_seconds", 15)),
        terminals=terminals,
        resend_seconds=float(data.get("resend_seconds", 30)),
        broker_tls_ca=broker.get("tls_ca"),
    )


@dataclass(slots=True)
class Position:
    """How far the terminal's attendance log is confirmed stored: a count of records from the
    start of the log, the last of them (to notice a log cleared or rewritten), and what the
    previous poll saw (to tell which clock offset was in force for a record that appeared)."""

    serial: str = ""
    confirmed: int = 0
    head: str | None = None
    seen: int = 0
    seen_offset_s: float | None = None
    seen_at: datetime | None = None

    @classmethod
    def load(cls, path: Path) -> Position:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        if "confirmed" not in data:  # the state of a bridge before receipts: start over
            return cls(serial=data.get("serial", ""))
        seen_at = data.get("seen_at")
        return cls(
            data["serial"],
            data["confirmed"],
            data.get("head"),
            data.get("seen", 0),
            data.get("seen_offset_s"),
            datetime.fromisoformat(seen_at) if seen_at else None,
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = {
            "serial": self.serial,
            "confirmed": self.confirmed,
            "head": self.head,
            "seen": self.seen,
            "seen_offset_s": self.seen_offset_s,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
        }
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


def fingerprint(record: Any) -> str:
    """A record's identity on the terminal (its place in the log is its position)."""
    return f"{record.user_id}|{record.timestamp:%Y%m%d%H%M%S}|{record.punch}|{record.status}"


def offset_in_force(
    local: datetime,
    previous: tuple[float, datetime] | None,
    current: tuple[float, datetime],
    slack: timedelta = timedelta(seconds=5),
) -> float:
    """The clock offset in force when a record that appeared between two polls was made.

    When the offset changed between the polls (the clock was set), the record was made
    under the one that puts its true time between the two polls; the current one otherwise.
    """
    offset_now, at_now = current
    if previous is None or abs(previous[0] - offset_now) < 2:
        return offset_now
    offset_before, at_before = previous
    for offset in (offset_now, offset_before):
        true = local - timedelta(seconds=offset)
        if at_before - slack <= true <= at_now + slack:
            return offset
    return offset_now


class TerminalBridge:
    """One terminal: poll, publish what is not yet confirmed, advance the position on receipt;
    report offline while unreachable."""

    def __init__(self, config: BridgeConfig, terminal: TerminalConfig) -> None:
        self.config = config
        self.terminal = terminal
        self.tz = ZoneInfo(terminal.timezone)
        self.state_path = config.state_dir / f"{terminal.device_id}.json"
        self._receipted: set[str] = set()
        self._lock = threading.Lock()
        self.reader = Reader(
            terminal.device_id,
            config.broker_host,
            config.broker_port,
            password=terminal.mqtt_password,
            outbox=config.state_dir / f"{terminal.device_id}.outbox.sqlite",
            resend_after=config.resend_seconds,
            on_receipt=self._on_receipt,
            tls_ca=config.broker_tls_ca,
        )
        self.online: bool | None = None
        self.forwarded = 0
        self._stop = threading.Event()

    def _on_receipt(self, receipt: ReceiptV1) -> None:
        with self._lock:
            self._receipted.update(receipt.stored)
            self._receipted.update(receipt.refused)

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
        """Read the log, publish records not yet confirmed; returns how many were published."""
        serial, clock, records, users = self._read_terminal()
        now = datetime.now(UTC)
        offset_s = (clock.replace(tzinfo=self.tz) - now).total_seconds()
        if self.online is not True:
            self.reader.set_state("online")
            self.online = True
        position = Position.load(self.state_path)
        if (
            position.serial != serial
            or position.confirmed > len(records)
            or (
                position.confirmed and fingerprint(records[position.confirmed - 1]) != position.head
            )
        ):
            # Another terminal, or its log was cleared: go through it all again (the event
            # ids are stable, so what the server already has is absorbed as duplicates).
            if position.serial:
                log.warning("%s: the terminal's log changed; re-reading it", serial)
            position = Position(serial=serial)
        previous = (
            (position.seen_offset_s, position.seen_at)
            if position.seen_offset_s is not None and position.seen_at is not None
            else None
        )
        published = 0
        for index in range(position.confirmed, len(records)):
            record = records[index]
            event_id = f"{serial}-{record.user_id}-{record.timestamp:%Y%m%d%H%M%S}"
            with self._lock:
                if event_id in self._receipted:
                    continue
            if self.reader.unconfirmed(event_id):
                continue  # sent, its receipt awaited; the reader resends it if overdue
            user = users.get(record.user_id)
            if self.terminal.identify_by == "card" and user is not None and user.card:
                kind, value = "card", str(user.card)
            else:
                kind, value = "pin", str(record.user_id)
            made_under = (
                offset_in_force(record.timestamp.replace(tzinfo=self.tz), previous, (offset_s, now))
                if index >= position.seen
                else offset_s
            )
            self.reader.punch(
                event_id,
                value,
                record.timestamp.replace(tzinfo=self.tz),
                direction=self._direction(record.punch),
                credential_kind=kind,
                verify_mode={1: "fingerprint", 4: "card", 15: "face"}.get(record.status)
                or "unknown",
                extra={"clock_offset_s": round(made_under, 3)},
            )
            published += 1
        # The position moves only past records the server confirmed, in log order.
        with self._lock:
            while position.confirmed < len(records):
                record = records[position.confirmed]
                event_id = f"{serial}-{record.user_id}-{record.timestamp:%Y%m%d%H%M%S}"
                if event_id not in self._receipted:
                    break
                self._receipted.discard(event_id)
                position.confirmed += 1
                position.head = fingerprint(record)
        if previous is not None and abs(previous[0] - offset_s) > 60:
            log.warning(
                "%s: đồng hồ máy chấm công nhảy %+.0f giây (nay lệch %+.0f giây)",
                self.terminal.device_id,
                offset_s - previous[0],
                offset_s,
            )
        position.seen, position.seen_offset_s, position.seen_at = len(records), offset_s, now
        position.save(self.state_path)
        # The terminal's own clock: the server measures its offset from this heartbeat.
        caught_up = position.confirmed == len(records)
        last = records[position.confirmed - 1].timestamp if position.confirmed else None
        sent_up_to = clock if caught_up else last
        self.reader.heartbeat(
            clock.replace(tzinfo=self.tz),
            sent_up_to.replace(tzinfo=self.tz) if sent_up_to else None,
            backlog=len(records) - position.confirmed,
        )
        self.forwarded += published
        return published

    def run(self) -> None:
        self.reader.connect(wait=False)  # while the broker is away the outbox holds punches
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
                    self.reader.set_state("offline")
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
