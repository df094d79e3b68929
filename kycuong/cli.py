"""The `kycuong` command: run the system (or one role of it), simulate, import, provision."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kycuong.logs import configure
from kycuong.settings import Settings, get_settings
from store.db import db_session, engine_for, upgrade

log = logging.getLogger("kycuong")


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _start_ingest(settings: Settings):  # type: ignore[no-untyped-def]
    from ingest.broker import EmbeddedBroker
    from ingest.worker import IngestWorker

    broker = None
    if settings.mqtt_embedded:
        broker = EmbeddedBroker(settings.mqtt_host, settings.mqtt_port)
        broker.start()
    worker = IngestWorker(settings, engine_for(settings.database_url))
    worker.start()
    if not worker.wait_connected(15):
        log.warning(
            "ingest not connected yet to %s:%s; retrying in the background",
            settings.mqtt_host,
            settings.mqtt_port,
        )
    return broker, worker


def cmd_quickstart(args: argparse.Namespace, settings: Settings) -> int:
    from devices.simulator import (
        badges_from_db,
        device_ids_from_db,
        last_working_day,
        office_day,
        play,
    )
    from store.demo import seed_demo

    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        seeded = seed_demo(db, employees=args.employees)
    if seeded:
        log.info("created the demo agency: %d employees in 6 units, 2 readers", args.employees)
    broker, worker = _start_ingest(settings)
    tz = ZoneInfo(settings.timezone)
    day = args.date or last_working_day(datetime.now(tz).date())
    with db_session(engine) as db:
        badges = badges_from_db(db, datetime.now(UTC))
        device_ids = device_ids_from_db(db)
    plan = office_day(badges, device_ids, day, tz=tz, seed=args.seed)
    log.info(
        "simulating the office day %s: %d events from %d readers "
        "(%d late, %d absent, reader %s offline 07:25-07:55)",
        day.strftime("%d/%m/%Y"),
        len(plan.events),
        len(device_ids),
        len(plan.late),
        len(plan.absent),
        plan.offline_device,
    )
    secrets = seeded.device_secrets if seeded else None
    play(
        plan,
        settings.mqtt_host,
        settings.mqtt_port,
        speed=args.speed,
        secrets=secrets if settings.mqtt_username else None,
    )
    worker.wait_idle(timeout=30)
    _print_summary(settings)
    if not args.once:
        log.info(
            "Kỷ Cương is running (ingest on %s:%d). Ctrl-C to stop.",
            settings.mqtt_host,
            settings.mqtt_port,
        )
        _wait_for_signal()
    worker.stop()
    if broker:
        broker.stop()
    return 0


def _print_summary(settings: Settings) -> None:
    from store.models import DeadLetter, Device, Punch, UnmatchedPunch

    with db_session(engine_for(settings.database_url)) as db:
        punches = db.scalar(select(func.count()).select_from(Punch))
        unmatched = db.scalar(select(func.count()).select_from(UnmatchedPunch))
        dead = db.execute(
            select(DeadLetter.reason_code, func.count()).group_by(DeadLetter.reason_code)
        ).all()
        devices = db.execute(select(Device.id, Device.state, Device.last_seen_at)).all()
    print("\n== Kỷ Cương: what ingest stored ==")
    print(f"  punches stored (lượt chấm công):   {punches}")
    print(f"  unknown cards (thẻ chưa đăng ký):  {unmatched}")
    print(f"  dead letters (bị từ chối):          {sum(n for _, n in dead)} {dict(dead)}")
    for device_id, state, seen in devices:
        print(
            f"  reader {device_id}: {state or '?'}, last seen {seen:%H:%M:%S} UTC"
            if seen
            else f"  reader {device_id}: never seen"
        )
    print()


def cmd_ingest(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    broker, worker = _start_ingest(settings)
    _wait_for_signal()
    worker.stop()
    if broker:
        broker.stop()
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from devices.simulator import (
        badges_from_db,
        device_ids_from_db,
        last_working_day,
        office_day,
        play,
    )

    tz = ZoneInfo(settings.timezone)
    with db_session(engine_for(settings.database_url)) as db:
        badges = badges_from_db(db, datetime.now(UTC))
        device_ids = device_ids_from_db(db)
    if not badges or not device_ids:
        print(
            "Chưa có cán bộ có thẻ hoặc thiết bị nào: chạy `kycuong demo seed` hoặc import trước.",
            file=sys.stderr,
        )
        return 2
    day = args.date or last_working_day(datetime.now(tz).date())
    plan = office_day(badges, device_ids, day, tz=tz, seed=args.seed)
    secrets = json.loads(Path(args.secrets).read_text()) if args.secrets else None
    play(plan, settings.mqtt_host, settings.mqtt_port, speed=args.speed, secrets=secrets)
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database at head")
    return 0


def cmd_demo_seed(args: argparse.Namespace, settings: Settings) -> int:
    from store.demo import seed_demo

    upgrade(settings.database_url)
    with db_session(engine_for(settings.database_url)) as db:
        seeded = seed_demo(db, employees=args.employees)
    if seeded is None:
        print("demo agency already exists")
        return 0
    _write_secrets(args.secrets_out, seeded.device_secrets)
    return 0


def _write_secrets(path: str | None, secrets: dict[str, str]) -> None:
    if path:
        target = Path(path)
        existing = json.loads(target.read_text()) if target.exists() else {}
        existing.update(secrets)
        target.write_text(json.dumps(existing, indent=2))
        target.chmod(0o600)
        print(f"device secrets written to {path}")
    else:
        for device_id, secret in secrets.items():
            print(f"{device_id}\tusername={device_id}\tpassword={secret}")


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from store.roster import RosterError, import_employees, import_units

    upgrade(settings.database_url)
    path = Path(args.file)
    if not path.exists():
        print(f"Không tìm thấy tệp {path}", file=sys.stderr)
        return 2
    try:
        with db_session(engine_for(settings.database_url)) as db:
            if args.what == "units":
                report = import_units(db, path)
            else:
                report = import_employees(db, path, ZoneInfo(settings.timezone))
    except RosterError as exc:
        print("Không nhập được tệp, chưa thay đổi gì:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"Đã nhập: {report.created} mới, {report.updated} cập nhật, "
        f"{report.cards_assigned} thẻ được cấp, {report.punches_matched} lượt chấm công được ghép"
    )
    for note in report.notes:
        print(f"  {note}")
    return 0


def cmd_devices(args: argparse.Namespace, settings: Settings) -> int:
    from devices import provision
    from store.models import Device

    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    try:
        with db_session(engine) as db:
            if args.action == "create":
                secret = provision.create_device(
                    db,
                    args.device_id,
                    site=args.site,
                    name=args.name or "",
                    direction=args.direction,
                    agency_code=args.agency,
                )
                _write_secrets(args.secrets_out, {args.device_id: secret})
            elif args.action == "rotate":
                _write_secrets(
                    args.secrets_out, {args.device_id: provision.rotate_secret(db, args.device_id)}
                )
            elif args.action in ("enable", "disable"):
                provision.set_enabled(db, args.device_id, args.action == "enable")
                print(f"{args.device_id}: {args.action}d")
            elif args.action == "list":
                for d in db.scalars(select(Device).order_by(Device.id)):
                    offset = f"{d.clock_offset_s:+.1f}s" if d.clock_offset_s is not None else "?"
                    print(
                        f"{d.id}\t{d.site}\t{d.direction}\t{'enabled' if d.enabled else 'disabled'}"
                        f"\t{d.state or '?'}\tclock {offset}\tlast seen {d.last_seen_at or '-'}"
                    )
            elif args.action == "broker-files":
                services = []
                if settings.mqtt_username and settings.mqtt_password:
                    services.append(
                        provision.ServiceAccount(
                            settings.mqtt_username, provision.hash_password(settings.mqtt_password)
                        )
                    )
                count = provision.write_broker_files(
                    db, Path(args.passwd), Path(args.acl), services
                )
                print(
                    f"wrote {args.passwd} and {args.acl}: {count} devices, "
                    f"{len(services)} service accounts; reload Mosquitto (SIGHUP) to apply"
                )
    except provision.ProvisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from store.models import DeadLetter

    with db_session(engine_for(settings.database_url)) as db:
        rows = db.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(args.limit))
        for row in rows:
            print(
                f"{row.received_at:%Y-%m-%d %H:%M:%S}\t{row.reason_code}\t{row.topic}\t{row.reason}"
            )
    return 0


def cmd_replay(args: argparse.Namespace, _settings: Settings) -> int:
    from kycuong.replay import ReplayError, run_replay

    try:
        return run_replay(
            Path(args.policy),
            Path(args.punches),
            Path(args.excuses) if args.excuses else None,
            args.date_from,
            args.date_to,
            args.now,
            Path(args.people) if args.people else None,
        )
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kycuong", description="Kỷ Cương attendance and discipline monitor"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="everything in one process: broker, ingest, simulator")
    p.add_argument("--employees", type=int, default=60)
    p.add_argument(
        "--speed", type=float, default=600.0, help="time compression (0 = as fast as possible)"
    )
    p.add_argument(
        "--date", type=date.fromisoformat, default=None, help="simulated day (YYYY-MM-DD)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--once", action="store_true", help="exit after the simulated day is stored")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("ingest", help="run the ingest worker only")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("simulate", help="publish a simulated office day to the broker")
    p.add_argument("--speed", type=float, default=0.0)
    p.add_argument("--date", type=date.fromisoformat, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--secrets", help="JSON file {device_id: password} for an authenticating broker")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade"])
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("demo", help="create the demo agency")
    p.add_argument("action", choices=["seed"])
    p.add_argument("--employees", type=int, default=60)
    p.add_argument("--secrets-out")
    p.set_defaults(func=cmd_demo_seed)

    p = sub.add_parser("import", help="import units or employees from CSV or XLSX")
    p.add_argument("what", choices=["units", "employees"])
    p.add_argument("file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("devices", help="provision readers and the broker's password and ACL files")
    p.add_argument(
        "action", choices=["create", "list", "enable", "disable", "rotate", "broker-files"]
    )
    p.add_argument("device_id", nargs="?")
    p.add_argument("--site", default="")
    p.add_argument("--name")
    p.add_argument("--direction", default="both", choices=["in", "out", "both"])
    p.add_argument("--agency")
    p.add_argument(
        "--secrets-out", help="append the new secret to this JSON file instead of printing"
    )
    p.add_argument("--passwd", default="deploy/mosquitto/passwd")
    p.add_argument("--acl", default="deploy/mosquitto/acl")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("replay", help="evaluate punch files offline: no broker, no database")
    p.add_argument("--policy", required=True, help="policy file, TOML or JSON")
    p.add_argument("--punches", required=True, help="punches, JSON lines")
    p.add_argument("--excuses", help="leave and trips, JSON lines")
    p.add_argument("--people", help="everyone to evaluate, one code per line (absent people too)")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
    p.add_argument("--now", type=datetime.fromisoformat, help="evaluate as of this instant")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("dead-letters", help="list the most recent refused messages")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_dead_letters)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (
        getattr(args, "action", None) in ("create", "enable", "disable", "rotate")
        and not args.device_id
    ):
        print("error: device id required", file=sys.stderr)
        return 2
    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    return int(args.func(args, settings))


if __name__ == "__main__":
    sys.exit(main())
