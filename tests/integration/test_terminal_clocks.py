"""The ZKTeco bridge tracks the terminal's log by position, not by time, and waits for receipts:
a clock set back or ahead loses and blocks nothing, a punch is corrected by the offset in
force when it was made, and a broker crash loses nothing. Emulator, real Mosquitto, real
PostgreSQL."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from devices.zk_emulator import Terminal, ZkEmulator
from devices.zkteco import BridgeConfig, Position, TerminalBridge, TerminalConfig
from ingest.mosquitto import MosquittoProcess
from store.db import db_session
from store.models import DeadLetter, Punch
from tests.factories import org
from tests.support import mosquitto_available, require, running_ingest, start_ingest, wait_for

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def count(engine: Engine, model: type) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def local_now() -> datetime:
    return datetime.now(TZ).replace(tzinfo=None, microsecond=0)


@dataclass
class Rig:
    engine: Engine
    terminal: Terminal
    bridge: TerminalBridge

    def poll_until(self, done: object, what: str, timeout: float = 30) -> None:
        def check() -> bool:
            self.bridge.poll_once()
            return bool(done())  # type: ignore[operator]

        wait_for(check, timeout, what, step=0.3)


@pytest.fixture
def rig(pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path) -> Iterator[Rig]:
    org(pg_engine, employees=3, devices=("ZK-1",), card_prefix="")
    terminal = Terminal("CKRS9", users=[(1, "E0000", "A", 0), (2, "E0001", "B", 1)])
    with ZkEmulator(terminal) as zk, running_ingest(pg_engine, mosquitto.port):
        config = BridgeConfig("127.0.0.1", mosquitto.port, tmp_path / "state", 0.2, (), 2.0)
        bridge = TerminalBridge(config, TerminalConfig("ZK-1", "127.0.0.1", zk.port))
        bridge.reader.connect()
        try:
            yield Rig(pg_engine, terminal, bridge)
        finally:
            bridge.reader.close()


def test_punches_after_the_clock_was_set_back_to_2000_are_all_forwarded(rig: Rig) -> None:
    for minutes in (30, 20, 10):
        rig.terminal.add_record("E0000", local_now() - timedelta(minutes=minutes))
    rig.poll_until(lambda: count(rig.engine, Punch) == 3, "the first three")
    rig.terminal.clock_offset = datetime(2000, 1, 1, 8, 0) - local_now()  # reset by a power cut
    rig.terminal.add_record("E0001", rig.terminal.now())
    rig.terminal.add_record("E0000", rig.terminal.now() + timedelta(seconds=30))
    rig.poll_until(lambda: count(rig.engine, Punch) == 5, "the two made after the reset")
    with db_session(rig.engine) as db:
        late = db.scalars(select(Punch).order_by(Punch.id).offset(3)).all()
    assert [p.device_time.year for p in late] == [2000, 2000]
    # Corrected by the offset in force then: stored at the true time, not in 2000.
    assert all(abs(p.punched_at - datetime.now(UTC)) < timedelta(minutes=2) for p in late)


def test_a_record_dated_a_year_ahead_is_quarantined_once_and_blocks_nothing(rig: Rig) -> None:
    rig.bridge.poll_once()  # the bridge has seen the clock right
    # Set a year ahead between two polls, punched, and set right again before the next poll.
    rig.terminal.add_record("E0000", local_now() + timedelta(days=365))
    rig.terminal.add_record("E0001", local_now())
    rig.poll_until(
        lambda: count(rig.engine, Punch) == 1 and count(rig.engine, DeadLetter) == 1,
        "the punch stored and the future one quarantined",
    )
    rig.poll_until(
        lambda: Position.load(rig.bridge.state_path).confirmed == 2, "the position past both"
    )
    rig.terminal.add_record("E0000", local_now() + timedelta(seconds=5))
    rig.poll_until(lambda: count(rig.engine, Punch) == 2, "a later punch")
    for _ in range(5):
        rig.bridge.poll_once()
    assert count(rig.engine, DeadLetter) == 1, "the future record must not be resent"
    assert rig.bridge.reader.unconfirmed() == 0


def test_a_punch_made_while_the_clock_was_fast_is_corrected_by_the_offset_then(
    rig: Rig,
) -> None:
    rig.terminal.clock_offset = timedelta(minutes=15)
    rig.bridge.poll_once()  # measures +15 min
    true_time = datetime.now(UTC)
    rig.terminal.add_record("E0000", rig.terminal.now())  # 15 minutes fast, as the terminal says
    rig.terminal.clock_offset = timedelta(0)  # the clock is fixed before the bridge polls again
    rig.poll_until(lambda: count(rig.engine, Punch) == 1, "the punch")
    with db_session(rig.engine) as db:
        punch = db.scalars(select(Punch)).one()
    assert abs(punch.device_time - true_time - timedelta(minutes=15)) < timedelta(seconds=3)
    assert abs(punch.punched_at - true_time) < timedelta(seconds=3)


def test_records_acked_by_a_broker_that_crashes_are_resent_until_stored(
    pg_engine: Engine, tmp_path: Path
) -> None:
    require(mosquitto_available(), "the mosquitto binary is not installed")
    broker = MosquittoProcess(tmp_path / "mosquitto", overrides={"autosave_interval": "3600"})
    broker.start()
    org(pg_engine, employees=3, devices=("ZK-1",), card_prefix="")
    start_ingest(pg_engine, broker.port, mqtt_client_id="ingest-zk").stop()  # session, stopped
    terminal = Terminal("CKRS9", users=[(1, "E0000", "A", 0), (2, "E0001", "B", 1)])
    base = local_now() - timedelta(hours=2)
    total = 200
    for i in range(total):
        terminal.add_record(f"E000{i % 2}", base + timedelta(seconds=20 * i), i % 2)
    with ZkEmulator(terminal) as zk:
        config = BridgeConfig("127.0.0.1", broker.port, tmp_path / "state", 0.3, (), 2.0)
        bridge = TerminalBridge(config, TerminalConfig("ZK-1", "127.0.0.1", zk.port))
        runner = threading.Thread(target=bridge.run, daemon=True)
        runner.start()
        try:
            wait_for(
                lambda: bridge.forwarded == total and bridge.reader.pending == 0,
                30,
                "every record acknowledged by the broker",
            )
            broker.stop(signal.SIGKILL)
            broker.start()
            with running_ingest(pg_engine, broker.port, mqtt_client_id="ingest-zk"):
                wait_for(
                    lambda: Position.load(bridge.state_path).confirmed == total,
                    60,
                    "the position confirmed to the end of the log",
                )
        finally:
            bridge.stop()
            runner.join(30)
            broker.stop()
    assert bridge.reader.resent >= total
    with db_session(pg_engine) as db:
        ids = list(db.scalars(select(Punch.event_id)))
    assert len(ids) == len(set(ids)) == total
