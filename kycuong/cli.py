"""The `kycuong` command: run the system (or one role of it), simulate, import, provision."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from secrets import token_urlsafe
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

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
        # The embedded broker authenticates like Mosquitto: the ingest signs in with an
        # account of this process, readers with their own passwords.
        from devices.provision import hash_password

        password = token_urlsafe(24)
        settings = settings.model_copy(
            update={"mqtt_username": "kc-ingest", "mqtt_password": password}
        )
        broker = EmbeddedBroker(
            settings.mqtt_host,
            settings.mqtt_port,
            database_url=settings.database_url,
            services={"kc-ingest": hash_password(password)},
        )
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
    from devices.simulator import last_working_day, office_day_from_db, play
    from store.demo import seed_demo

    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        seeded = seed_demo(db, employees=args.employees)
    if seeded:
        log.info("created the demo agency: %d employees in 6 units, 2 readers", args.employees)
        with db_session(engine) as db:
            _demo_users(db)
    broker, worker = _start_ingest(settings)
    rules_worker, scheduler = _start_rules(settings)
    tz = ZoneInfo(settings.timezone)
    day = args.date or last_working_day(datetime.now(tz).date())
    with db_session(engine) as db:
        plan = office_day_from_db(db, day, tz=tz, seed=args.seed)
    assert plan is not None, "the demo agency has people with cards and readers"
    device_ids = sorted({e.device_id for e in plan.events})
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
    device_secrets = seeded.device_secrets if seeded else None
    if device_secrets is None and settings.mqtt_embedded:
        # Shown once at the first run; on the embedded broker the demo readers get new ones.
        from devices.provision import rotate_secret

        with db_session(engine) as db:
            device_secrets = {d: rotate_secret(db, d) for d in device_ids}
    play(plan, settings.mqtt_host, settings.mqtt_port, speed=args.speed, secrets=device_secrets)
    worker.wait_idle(timeout=30)
    # The simulated day is over: judge it whole (the nightly reconciliation does this too).
    from runner.deadlines import nightly

    with db_session(engine) as db:
        nightly(db, day)
    rules_worker.drain()
    _print_summary(settings)
    _print_violations(settings, day)
    if not args.once:
        _serve_api_in_background(settings)
        base = f"http://{settings.api_host}:{settings.api_port}"
        users = ", ".join(f"{u} / {DEMO_PASSWORD}" for u in ("admin", "truongphong.vp", "noivu"))
        print(f"Trang web: {base}/  (đăng nhập: {users})")
        print(f"Báo cáo Nội vụ: {base}/bao-cao?ky=month&nam={day.year}&thang={day.month}")
        print(f"API: {base}/docs (JSON dưới {base}/api)")
        log.info(
            "Kỷ Cương is running (ingest on %s:%d). Ctrl-C to stop.",
            settings.mqtt_host,
            settings.mqtt_port,
        )
        _wait_for_signal()
    scheduler.stop()
    rules_worker.stop()
    worker.stop()
    if broker:
        broker.stop()
    return 0


DEMO_PASSWORD = "kycuong-demo"


def _demo_users(db: DbSession) -> None:
    """Sign-ins for the demo: an admin, the head of the Văn phòng, and Nội vụ for the agency."""
    from store.users import create_user

    create_user(db, "admin", DEMO_PASSWORD, "admin", full_name="Quản trị hệ thống")
    create_user(
        db,
        "truongphong.vp",
        DEMO_PASSWORD,
        "unit_head",
        full_name="Chánh Văn phòng",
        agency_code="SNV",
        unit_code="VP",
    )
    create_user(db, "noivu", DEMO_PASSWORD, "noi_vu", full_name="Phòng Nội vụ", agency_code="SNV")


def _start_rules(settings: Settings):  # type: ignore[no-untyped-def]
    from runner.directory import RulesDirectory
    from runner.worker import DeadlineScheduler, RecomputeWorker

    engine = engine_for(settings.database_url)
    directory = RulesDirectory()
    worker = RecomputeWorker(engine, directory)
    worker.start()
    scheduler = DeadlineScheduler(
        engine,
        directory,
        settings.timezone,
        dead_letter_retention=timedelta(days=settings.dead_letter_retention_days),
    )
    scheduler.start()
    return worker, scheduler


def _print_violations(settings: Settings, day: date) -> None:
    from kycuong.labels import SESSION, VIOLATION
    from store.models import Employee, Unit, ViolationRecord

    with db_session(engine_for(settings.database_url)) as db:
        rows = db.execute(
            select(
                Unit.name,
                Employee.code,
                Employee.full_name,
                ViolationRecord.session,
                ViolationRecord.kind,
                ViolationRecord.minutes,
            )
            .join(Employee, Employee.id == ViolationRecord.employee_id)
            .join(Unit, Unit.id == ViolationRecord.unit_id)
            .where(ViolationRecord.day == day, ViolationRecord.active.is_(True))
            .order_by(Unit.name, Employee.code, ViolationRecord.session)
        ).all()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    print(f"== Vi phạm ngày {day:%d/%m/%Y} ==")
    for kind, label in VIOLATION.items():
        print(f"  {label}: {counts.get(kind, 0)}")
    print()
    for row in rows[:15]:
        minutes = f" {row.minutes} phút" if row.kind in ("late", "early_leave") else ""
        session = SESSION.get(row.session, row.session)
        label = VIOLATION[row.kind] + minutes
        print(f"  {row.code} {row.full_name:<22} {session:<6} {label:<28} ({row.name})")
    if len(rows) > 15:
        print(f"  … và {len(rows) - 15} vi phạm khác")
    print()


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
    from kycuong.metrics import serve

    upgrade(settings.database_url)
    serve(settings.metrics_port)
    broker, worker = _start_ingest(settings)
    _wait_for_signal()
    worker.stop()
    if broker:
        broker.stop()
    return 0


def cmd_rules(_args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.metrics import serve

    upgrade(settings.database_url)
    serve(settings.metrics_port)
    worker, scheduler = _start_rules(settings)
    log.info("rules role running: recompute loop and scheduler (%s)", settings.timezone)
    _wait_for_signal()
    scheduler.stop()
    worker.stop()
    return 0


def cmd_recompute(args: argparse.Namespace, settings: Settings) -> int:
    from runner.worker import RecomputeWorker
    from store.queue import enqueue, keys_for_days

    if args.date_to < args.date_from:
        print("Lỗi: --to phải sau hoặc bằng --from", file=sys.stderr)
        return 2
    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        count = enqueue(db, keys_for_days(db, args.date_from, args.date_to), "manual")
    done = RecomputeWorker(engine).drain()
    print(f"queued {count} keys, recomputed {done}")
    return 0


def cmd_rollups(args: argparse.Namespace, settings: Settings) -> int:
    from store.rollups import rebuild

    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        written = rebuild(db, args.date_from, args.date_to)
    print(f"rebuilt {written} person-months")
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from store.partitions import archive, ensure, ensure_ahead

    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        if args.action == "ensure":
            made = ensure_ahead(db, date.today(), args.ahead)
            if args.since is not None:  # before importing history older than the partitions
                made += ensure(db, args.since, date.today())
            print(f"created {made} monthly partitions")
            return 0
        if args.before is None:
            print("Lỗi: cần --before YYYY-MM-DD", file=sys.stderr)
            return 2
        for done in archive(db, args.before, args.drop):
            what = "dropped" if done.dropped else "detached (pg_dump it, then drop it)"
            print(f"{done.table} {done.month:%m/%Y}: {done.partition} {what}")
    return 0


def cmd_excuses(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.labels import EXCUSE, EXCUSE_STATUS
    from store.excuses import ExcuseError, add_excuse, set_status

    try:
        with db_session(engine_for(settings.database_url)) as db:
            if args.action == "add":
                record = add_excuse(
                    db,
                    args.employee,
                    args.kind,
                    args.date_from,
                    args.date_to or args.date_from,
                    sessions=args.sessions.split(",") if args.sessions else None,
                    approved=args.approved,
                    note=args.note or "",
                )
            else:
                record = set_status(
                    db, args.id, {"approve": "approved", "cancel": "cancelled"}[args.action]
                )
            print(
                f"#{record.id} {EXCUSE[record.kind]} "
                f"{record.first_day:%d/%m/%Y}–{record.last_day:%d/%m/%Y}: "
                f"{EXCUSE_STATUS[record.status]}"
            )
    except ExcuseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_policy(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.replay import ReplayError, load_rules
    from store.queue import enqueue
    from store.rules_config import (
        RulesConfigError,
        bump_rules_version,
        queue_scope,
        save_calendar,
        save_employee_schedule,
        save_schedule_and_policy,
    )

    try:
        doc = load_rules(Path(args.file))
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        since = args.since or today
        with db_session(engine_for(settings.database_url)) as db:
            if args.employee:
                person = save_employee_schedule(db, args.employee, doc.schedule)
                bump_rules_version(db)
                days = [since + timedelta(days=i) for i in range((today - since).days + 1)]
                queued = enqueue(db, [(person, d) for d in days], "rules_changed")
                scope = f"{args.employee} (schedule only)"
            else:
                save_schedule_and_policy(db, args.agency, args.unit, doc.schedule, doc.policy)
                touched = save_calendar(db, doc.calendar, args.agency)
                first, last = min([since, *touched]), max([today, *touched])
                queued = queue_scope(db, args.agency, args.unit, first, last)
                scope = args.agency + (f"/{args.unit}" if args.unit else "")
    except (ReplayError, RulesConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rules saved for {scope}; {queued} keys queued")
    return 0


def cmd_api(_args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    upgrade(settings.database_url)
    if not settings.api_secret:
        log.info("KC_API_SECRET is not set: tokens are signed with the key kept in the database")
    from api.deps import WeakSecret

    try:
        app = create_app(settings)
    except WeakSecret as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
    return 0


def _serve_api_in_background(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        log_level="warning",
    )
    threading.Thread(target=uvicorn.Server(config).run, name="api", daemon=True).start()


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from store.users import UserError, create_user

    if args.action == "create-staff":
        return _create_staff(args, settings)
    if not args.username or not args.role:
        print("error: users create needs a username and --role", file=sys.stderr)
        return 2
    password = args.password or getpass.getpass(f"Mật khẩu cho {args.username}: ")
    try:
        with db_session(engine_for(settings.database_url)) as db:
            user = create_user(
                db,
                args.username,
                password,
                args.role,
                full_name=args.full_name or "",
                agency_code=args.agency,
                unit_code=args.unit,
            )
            print(f"created {user.username} ({user.role})")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _create_staff(args: argparse.Namespace, settings: Settings) -> int:
    """Staff accounts (role employee): the one-time codes are printed once, to hand over."""
    from datetime import UTC

    from kycuong.errors import KcError
    from services.accounts import create_staff_account, create_staff_for_unit
    from services.scope import Scope

    if bool(args.employee) == bool(args.unit):
        print("Lỗi: hãy cho --employee MÃ_CÁN_BỘ hoặc --unit MÃ_ĐƠN_VỊ", file=sys.stderr)
        return 2
    operator = Scope(0, "cli", "admin", None)
    now = datetime.now(UTC)
    try:
        with db_session(engine_for(settings.database_url)) as db:
            made = (
                [create_staff_account(db, operator, args.employee, now)]
                if args.employee
                else create_staff_for_unit(db, operator, args.unit, now)
            )
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        return 2
    print("Mã cán bộ\tHọ và tên\tTên đăng nhập\tMã dùng một lần (đổi khi đăng nhập lần đầu)")
    for account in made:
        print(
            f"{account.employee_code}\t{account.full_name}\t{account.username or ''}\t"
            f"{account.one_time_code or account.problem or ''}"
        )
    print(f"Đã tạo {sum(1 for a in made if a.username)} tài khoản.")
    return 0


def cmd_bridge(args: argparse.Namespace, _settings: Settings) -> int:
    if args.kind == "hikvision":
        import uvicorn

        from devices import hikvision

        try:
            hik = hikvision.load_config(Path(args.config))
        except (OSError, ValueError, TypeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        log.info(
            "Hikvision bridge on %s:%d → %s:%d",
            hik.listen_host,
            hik.listen_port,
            hik.broker_host,
            hik.broker_port,
        )
        uvicorn.run(
            hikvision.create_app(hik), host=hik.listen_host, port=hik.listen_port, log_config=None
        )
        return 0

    from devices.zkteco import load_config, run_bridge

    try:
        config = load_config(Path(args.config))
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info(
        "ZKTeco bridge: %d terminals → %s:%d",
        len(config.terminals),
        config.broker_host,
        config.broker_port,
    )
    run_bridge(config, stop)
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from devices.simulator import last_working_day, office_day_from_db, play

    tz = ZoneInfo(settings.timezone)
    day = args.date or last_working_day(datetime.now(tz).date())
    with db_session(engine_for(settings.database_url)) as db:
        plan = office_day_from_db(db, day, tz=tz, seed=args.seed)
    if plan is None:
        print(
            "Chưa có cán bộ có thẻ hoặc thiết bị nào: chạy `kycuong demo seed` hoặc import trước.",
            file=sys.stderr,
        )
        return 2
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
                count = provision.write_broker_files(db, Path(args.config), services)
                print(
                    f"wrote {args.config}: {count} devices, {len(services)} service accounts; "
                    "restart Mosquitto to apply"
                )
    except provision.ProvisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from store.models import DeadLetter, DeadLetterTally

    with db_session(engine_for(settings.database_url)) as db:
        rows = db.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(args.limit))
        for row in rows:
            seen = f" (×{row.count})" if row.count > 1 else ""
            print(
                f"{row.received_at:%Y-%m-%d %H:%M:%S}\t{row.reason_code}{seen}\t{row.topic}"
                f"\t{row.reason}"
            )
        tallies = list(db.scalars(select(DeadLetterTally).order_by(DeadLetterTally.count.desc())))
        if tallies:
            print("\nbeyond the per-device cap (counted, latest kept as a sample):")
        for tally in tallies:
            print(
                f"{tally.device_id or '?'}\t{tally.reason_code}\t{tally.count} messages"
                f"\t{tally.first_received_at:%Y-%m-%d %H:%M} → "
                f"{tally.last_received_at:%Y-%m-%d %H:%M}\t{tally.sample_reason}"
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
            Path(args.manual) if args.manual else None,
            Path(args.reviews) if args.reviews else None,
        )
    except ReplayError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
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
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--once", action="store_true", help="exit after the simulated day is stored")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("ingest", help="run the ingest worker only")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("bridge", help="bridge office terminals to the MQTT contract")
    p.add_argument("kind", choices=["zkteco", "hikvision"])
    p.add_argument("config", help="TOML file listing the terminals")
    p.set_defaults(func=cmd_bridge)

    p = sub.add_parser("api", help="serve the HTTP API (KC_API_HOST:KC_API_PORT)")
    p.set_defaults(func=cmd_api)

    p = sub.add_parser(
        "users", help="create a user who signs in; create-staff: accounts for staff (self-service)"
    )
    p.add_argument("action", choices=["create", "create-staff"])
    p.add_argument("username", nargs="?", help="for create")
    p.add_argument("--role", choices=["unit_head", "noi_vu", "hr_clerk", "admin", "auditor"])
    p.add_argument("--agency", help="agency code: the scope of Nội vụ, HR clerks, auditors")
    p.add_argument(
        "--unit", help="unit code: the scope of a unit head; with create-staff, everyone in it"
    )
    p.add_argument("--employee", help="create-staff: the employee code of one person")
    p.add_argument("--full-name")
    p.add_argument("--password", help="asked for when left out")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("rules", help="run the rules role: recompute loop and scheduler")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("recompute", help="recompute every person for a date range now")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
    p.set_defaults(func=cmd_recompute)

    p = sub.add_parser("history", help="monthly partitions: create ahead, archive old months")
    p.add_argument("action", choices=["ensure", "archive"])
    p.add_argument("--ahead", type=int, default=3, help="months ahead to create (ensure)")
    p.add_argument("--since", type=date.fromisoformat, default=None, help="and months since")
    p.add_argument("--before", type=date.fromisoformat, default=None, help="archive months before")
    p.add_argument("--drop", action="store_true", help="drop the archived months")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("rollups", help="person-months that summaries read")
    p.add_argument("action", choices=["rebuild"])
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, default=None)
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, default=None)
    p.set_defaults(func=cmd_rollups)

    p = sub.add_parser("excuses", help="leave and business trips: add, approve, cancel")
    p.add_argument("action", choices=["add", "approve", "cancel"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--employee")
    p.add_argument("--kind", default="annual_leave")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat)
    p.add_argument("--to", dest="date_to", type=date.fromisoformat)
    p.add_argument("--sessions", help="e.g. morning or sáng,chiều; all day when left out")
    p.add_argument("--approved", action="store_true")
    p.add_argument("--note")
    p.set_defaults(func=cmd_excuses)

    p = sub.add_parser("policy", help="load an agency's or unit's rules file (TOML or JSON)")
    p.add_argument("action", choices=["load"])
    p.add_argument("file")
    p.add_argument("--agency")
    p.add_argument("--unit")
    p.add_argument("--employee", help="a person's own schedule (part-time, shift rota)")
    p.add_argument(
        "--since", type=date.fromisoformat, help="recompute from this date (default today)"
    )
    p.set_defaults(func=cmd_policy)

    p = sub.add_parser("simulate", help="publish a simulated office day to the broker")
    p.add_argument("--speed", type=float, default=0.0)
    p.add_argument("--date", type=date.fromisoformat, default=None)
    p.add_argument("--seed", type=int, default=2)
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
    p.add_argument(
        "--config",
        default="deploy/mosquitto/dynamic-security.json",
        help="Mosquitto dynamic-security file to write (broker-files)",
    )
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("replay", help="evaluate punch files offline: no broker, no database")
    p.add_argument("--policy", required=True, help="policy file, TOML or JSON (by content)")
    p.add_argument("--punches", required=True, help="punches, JSON lines")
    p.add_argument("--manual", help="accepted forgotten punches (manual), JSON lines")
    p.add_argument("--excuses", help="leave and trips, JSON lines")
    p.add_argument("--reviews", help="reviewers' decisions on violations, JSON lines")
    p.add_argument(
        "--people", help="the only people to judge: a code a line, or JSON with dates and cards"
    )
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
    needs_device = ("create", "enable", "disable", "rotate")
    if args.command == "devices" and args.action in needs_device and not args.device_id:
        print("error: device id required", file=sys.stderr)
        return 2
    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    return int(args.func(args, settings))


if __name__ == "__main__":
    sys.exit(main())
