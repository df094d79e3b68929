"""The ZKTeco bridge against a terminal emulator speaking the ZK protocol the way pyzk expects,
through the real Mosquitto into PostgreSQL: a realistic morning arrives once, a bridge killed
in the middle and restarted repeats and skips nothing, and a terminal 7 minutes fast is
measured and corrected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from devices.simulator import Badge, SimEvent, office_day
from devices.zk_emulator import Terminal, ZkEmulator
from ingest.mosquitto import MosquittoProcess
from ingest.worker import IngestWorker
from store.db import db_session
from store.models import Device, Punch
from tests.factories import org
from tests.support import ROOT, ingest_settings, start_ingest, wait_for

DAY = date(2026, 11, 23)
FAST = timedelta(minutes=7)


def stored(engine: Engine) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(Punch)) or 0)


def start_bridge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "kycuong.cli", "bridge", "zkteco", str(config)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=out,
        stderr=out,
    )


def test_a_morning_from_a_zk_terminal_arrives_once_with_its_clock_corrected(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    made = org(pg_engine, employees=25, devices=("ZK-CONG-1",), card_prefix="")
    cards = made["cards"]  # "000000", "000001", … as the terminal stores card numbers
    plan = office_day(
        [Badge(f"E{i:04d}", c) for i, c in enumerate(cards)], ["ZK-CONG-1"], DAY, seed=3
    )
    punches = sorted(
        (e for e in plan.events if e.kind == "punch" and e.card in cards), key=lambda e: e.at
    )
    terminal = Terminal(
        "CKRS2026001",
        users=[(i + 1, f"E{i:04d}", f"Nguyen {i}", int(c)) for i, c in enumerate(cards)],
        clock_offset=FAST,
    )

    def record(event: SimEvent) -> None:  # the terminal stamps its own (fast) local time
        at = event.at.astimezone(terminal_tz).replace(tzinfo=None) + FAST
        punch = 0 if event.direction == "in" else 1
        terminal.add_record(f"E{cards.index(event.card):04d}", at, punch)

    from zoneinfo import ZoneInfo

    terminal_tz = ZoneInfo("Asia/Ho_Chi_Minh")
    half = len(punches) // 2
    for event in punches[:half]:
        record(event)
    ingest = start_ingest(pg_engine, mosquitto.port)
    with ZkEmulator(terminal) as zk:
        config = tmp_path / "bridge.toml"
        config.write_text(
            f'state_dir = "{tmp_path / "state"}"\npoll_seconds = 0.5\n'
            f'[broker]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n'
            f'[[terminals]]\ndevice_id = "ZK-CONG-1"\naddress = "127.0.0.1"\nport = {zk.port}\n'
            'site = "Cổng chính"\n'
        )
        log = tmp_path / "bridge.log"
        bridge = start_bridge(config, log)
        try:
            wait_for(lambda: stored(pg_engine) >= half, 60, "the first half of the morning")
            bridge.send_signal(signal.SIGKILL)  # killed mid-morning
            bridge.wait(10)
            for event in punches[half:]:
                record(event)
            assert stored(pg_engine) == half
            bridge = start_bridge(config, log)
            wait_for(lambda: stored(pg_engine) >= len(punches), 60, "the rest after the restart")
            ingest.wait_idle(10)
        finally:
            bridge.send_signal(signal.SIGTERM)
            bridge.wait(30)
    ingest.stop()
    with db_session(pg_engine) as db:
        rows = db.execute(
            select(Punch.event_id, Punch.credential_value, Punch.punched_at, Punch.device_time)
        ).all()
        device = db.get(Device, "ZK-CONG-1")
    assert (
        len(rows) == len({r.event_id for r in rows}) == len(punches)
    )  # nothing repeated, nothing skipped
    assert all(r.event_id.startswith("CKRS2026001-E") for r in rows)
    assert (
        device is not None
        and device.clock_offset_s is not None
        and abs(device.clock_offset_s - 420) < 5
    )
    truth = sorted(e.at.astimezone(UTC) for e in punches)
    assert abs((sorted(r.device_time for r in rows)[0] - truth[0]) - FAST) < timedelta(
        seconds=2
    )  # as the terminal said
    # Punches that arrived after the drift was measured are stored at their true time.
    corrected = [
        r for r in rows if abs((r.device_time - r.punched_at) - FAST) < timedelta(seconds=5)
    ]
    assert corrected, "the measured offset must correct the terminal's punches"
    assert all(
        abs(min(abs(r.punched_at - t) for t in truth)) < timedelta(seconds=5) for r in corrected
    )


def test_an_unreachable_terminal_is_reported_offline_and_its_backlog_forwarded_later(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    from devices.zkteco import BridgeConfig, TerminalBridge, TerminalConfig
    from tests.support import free_port

    org(pg_engine, employees=2, devices=("ZK-2",), card_prefix="")
    ingest = start_ingest(pg_engine, mosquitto.port)
    port = free_port()
    terminal = Terminal("CKRS2", users=[(1, "E0000", "A", 0), (2, "E0001", "B", 1)])
    config = BridgeConfig("127.0.0.1", mosquitto.port, tmp_path / "state", 0.2, ())
    bridge = TerminalBridge(config, TerminalConfig("ZK-2", "127.0.0.1", port, direction="in"))
    runner = threading.Thread(target=bridge.run, daemon=True)
    runner.start()

    def state() -> str | None:
        with db_session(pg_engine) as db:
            device = db.get(Device, "ZK-2")
            return device.state if device else None

    try:
        wait_for(lambda: state() == "offline", 20, "the terminal reported offline")
        terminal.add_record("E0001", datetime(2026, 11, 23, 7, 31), 1)  # held while unreachable
        with ZkEmulator(terminal, port=port):
            wait_for(
                lambda: state() == "online" and stored(pg_engine) == 1,
                30,
                "the backlog after it returns",
            )
    finally:
        bridge.stop()
        runner.join(30)
        ingest.stop()
    with db_session(pg_engine) as db:
        punch = db.scalars(select(Punch)).one()
    assert (punch.credential_value, punch.direction) == (
        "1",
        "in",
    )  # card 1; a one-way gate says in


def test_the_example_configurations_load() -> None:
    from devices import hikvision, zkteco

    zk = zkteco.load_config(ROOT / "examples" / "zkteco-bridge.toml")
    assert zk.terminals[0].device_id == "SNV-CONG-CHINH" and zk.poll_seconds == 15
    hik = hikvision.load_config(ROOT / "examples" / "hikvision-bridge.toml")
    assert hik.listen_port == 8088 and hik.terminals[0].device_id == "SNV-SANH-1"


def test_a_broker_sigkill_mid_stream_with_ingest_running_loses_and_doubles_no_zk_record(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Punches keep appearing on the terminal while the bridge forwards them and the ingest
    worker stores them, more slowly than they come (a loaded database), so a backlog of
    unconfirmed punches is in flight; Mosquitto (the shipped configuration, its one-second
    snapshot included) is SIGKILLed in the middle and restarted. The broker redelivers what its
    snapshot held, the bridge resends what no receipt confirmed, and the server's key absorbs
    the duplicates: every record is stored exactly once."""
    from devices.zkteco import BridgeConfig, Position, TerminalBridge, TerminalConfig

    employees = 20
    made = org(pg_engine, employees=employees, devices=("ZK-CONG-1",), card_prefix="")
    terminal = Terminal(
        "CKRS2026002",
        users=[(i + 1, f"E{i:04d}", f"Nguyen {i}", int(c)) for i, c in enumerate(made["cards"])],
    )
    total, rate_per_s = 400, 80.0
    base = terminal.now().replace(microsecond=0) - timedelta(hours=2)

    def punching() -> None:  # people badge in at the terminal, 80 a second
        start = time.monotonic()
        for i in range(total):
            terminal.add_record(f"E{i % employees:04d}", base + timedelta(seconds=5 * i), i % 2)
            ahead = (i + 1) / rate_per_s - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    config = BridgeConfig("127.0.0.1", mosquitto.port, tmp_path / "state", 0.2, (), 3.0)
    # Batches of ten, each 0.2 s slower (a loaded database): about 50 punches a second are
    # stored while 80 come, so when the broker dies a hundred or more await their receipts.
    worker = IngestWorker(
        ingest_settings(pg_engine, mosquitto.port, ingest_receive_maximum=10, ingest_batch_size=10),
        pg_engine,
        on_commit=lambda _batch, _outcome: time.sleep(0.2),
    )
    worker.start()
    try:
        assert worker.wait_connected(10)
        with ZkEmulator(terminal) as zk:
            bridge = TerminalBridge(config, TerminalConfig("ZK-CONG-1", "127.0.0.1", zk.port))
            forwarding = threading.Thread(target=bridge.run, daemon=True)
            forwarding.start()
            badges = threading.Thread(target=punching, daemon=True)
            badges.start()
            try:
                wait_for(lambda: stored(pg_engine) >= total // 4, 60, "a quarter of the morning")
                mosquitto.stop(signal.SIGKILL)
                killed_at = stored(pg_engine)
                mosquitto.start()
                assert killed_at < total, "the kill must land mid-stream"
                badges.join(60)
                wait_for(
                    lambda: Position.load(bridge.state_path).confirmed == total,
                    90,
                    "the bridge's position confirmed to the end of the terminal's log",
                    step=0.2,
                )
                worker.wait_idle(10)
            finally:
                bridge.stop()
                forwarding.join(30)
    finally:
        worker.stop()
    with db_session(pg_engine) as db:
        ids = list(db.scalars(select(Punch.event_id)))
    assert len(ids) == len(set(ids)) == total  # each record once: none lost, none doubled
    assert bridge.reader.unconfirmed() == 0
