"""The `kycuong` command: run the system (or one role of it), simulate, import, provision."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from secrets import token_urlsafe
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from kycuong import credentials_cli
from kycuong.errors import Invalid, KcError
from kycuong.inputs import choice, parse_day, plain, quoted
from kycuong.labels import DIRECTION
from kycuong.logs import configure
from kycuong.settings import Settings, get_settings
from store.db import db_session, engine_for, upgrade
from store.models import Agency

if TYPE_CHECKING:
    from services.accounts import Assignment, Issued
    from services.scope import Scope

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
        listen = settings.mqtt_brokers[0]
        broker = EmbeddedBroker(
            listen.host,
            listen.port,
            database_url=settings.database_url,
            services={"kc-ingest": hash_password(password)},
        )
        broker.start()
    worker = IngestWorker(settings, engine_for(settings.database_url))
    worker.start()
    if not worker.wait_connected(15):
        log.warning(
            "ingest not connected yet to %s; retrying in the background",
            ", ".join(str(a) for a in settings.mqtt_brokers),
        )
    return broker, worker


def cmd_quickstart(args: argparse.Namespace, settings: Settings) -> int:
    """The demo in one process. It plays the last working day whole (or ``--date``), then
    today as it happens: what the readers would have sent by now at once, each later punch
    when its time comes while the server runs. So Hôm nay shows at any hour what a real office
    would (who has arrived, who is late, the reader that was offline 07:25–07:55 as Tạm tính),
    and the queue holds no "Vắng mặt" for people who came today: the deadlines of today are
    judged only after today's punches so far are stored."""
    from devices.simulator import (
        LiveDay,
        day_seed,
        is_working_day,
        last_working_day,
        office_day_from_db,
        play,
    )
    from store.demo import seed_demo

    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    tz = ZoneInfo(settings.timezone)
    today = datetime.now(tz).date()
    day = args.date or last_working_day(today)
    with db_session(engine) as db:
        # The demo is judged from the simulated day on: a go-live never flags the past.
        seeded = seed_demo(db, employees=args.employees, tracking_start=day)
    if seeded:
        log.info("created the demo agency: %d employees in 6 units, 2 readers", args.employees)
        with db_session(engine) as db:
            _demo_users(db)
    broker, worker = _start_ingest(settings)
    with db_session(engine) as db:
        plan = office_day_from_db(db, day, tz=tz, seed=day_seed(args.seed, day))
        today_plan = None
        if day <= today and is_working_day(today):
            today_plan = office_day_from_db(db, today, tz=tz, seed=day_seed(args.seed, today))
    assert plan is not None, "the demo agency has people with cards and readers"
    device_ids = sorted({e.device_id for e in plan.events})
    device_secrets = seeded.device_secrets if seeded else None
    if device_secrets is None and settings.mqtt_embedded:
        # Shown once at the first run; on the embedded broker the demo readers get new ones.
        from devices.provision import rotate_secret

        with db_session(engine) as db:
            device_secrets = {d: rotate_secret(db, d) for d in device_ids}
    if day != today:  # today itself is played as it happens below, not whole
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
        play(
            plan,
            settings.mqtt_brokers,
            settings.mqtt_port,
            speed=args.speed,
            secrets=device_secrets,
            tls_ca=settings.mqtt_tls_ca,
        )
    live = LiveDay(
        today_plan,
        device_ids,
        settings.mqtt_brokers,
        settings.mqtt_port,
        secrets=device_secrets,
        tls_ca=settings.mqtt_tls_ca,
    )
    live.connect()
    caught_up = live.catch_up()
    live.wait_stored()
    if today_plan is not None:
        log.info(
            "today %s so far: %d events sent up to now; the rest as their time comes",
            today.strftime("%d/%m/%Y"),
            caught_up,
        )
    worker.wait_idle(timeout=30)
    # The rules start once the replay is stored. Running during it, they would judge each
    # person's day on its first punches (the rest "missing", then withdrawn one by one: rows
    # "Đã thu hồi" nobody caused), and the scheduler would find today's deadlines passed
    # before today's punches arrive (everyone "Vắng mặt"). The punches wait in the queue.
    rules_worker, scheduler = _start_rules(settings, start_scheduler=False)
    if day != today:
        # The simulated day is over: judge it whole (the nightly reconciliation does this too).
        from runner.deadlines import nightly

        with db_session(engine) as db:
            nightly(db, day)
    rules_worker.drain()
    scheduler.start()  # today's deadlines passed so far, judged on today's punches so far
    rules_worker.drain()
    _print_summary(settings)
    _print_violations(settings, day)
    if not args.once:
        _serve_api_in_background(settings)
        base = f"http://{settings.api_host}:{settings.api_port}"
        for line in quickstart_links(base, day, _demo_sign_ins(settings), today=today):
            print(line)
        # Written to a file or a pipe, stdout is block-buffered: the links must show now.
        sys.stdout.flush()
        log.info(
            "Kỷ Cương is running (ingest on %s). Ctrl-C to stop.",
            ", ".join(str(a) for a in settings.mqtt_brokers),
        )
        stop = threading.Event()
        playing = threading.Thread(target=live.run, args=(stop,), name="today", daemon=True)
        playing.start()
        _wait_for_signal()
        stop.set()
        playing.join(timeout=10)
    live.close()
    scheduler.stop()
    rules_worker.stop()
    worker.stop()
    if broker:
        broker.stop()
    return 0


DEMO_PASSWORD = "kycuong-demo"


def quickstart_links(base: str, day: date, sign_ins: str, today: date | None = None) -> list[str]:
    """What the quickstart prints to open: today's Hôm nay (played as it happens), the pages
    at the simulated day (the last working day, played whole), the report, the API."""
    shown = f"{day:%d/%m/%Y}"
    live = []
    if today is not None and today != day:
        live = [f"Hôm nay {today:%d/%m/%Y} (máy chấm công gửi dần theo giờ thực): {base}/hom-nay"]
    return [
        f"Trang web: {base}/  (đăng nhập: {sign_ins})",
        *live,
        f"Ngày đã mô phỏng {shown}, trang Hôm nay của đơn vị: {base}/hom-nay?ngay={shown}",
        f"Vi phạm ngày đó: {base}/vi-pham?tu={shown}&den={shown}",
        f"Bảng tháng: {base}/bang-thang?thang={day.month}&nam={day.year}",
        f"Báo cáo Nội vụ: {base}/bao-cao?ky=month&nam={day.year}&thang={day.month}",
        f"API: {base}/docs (JSON dưới {base}/api)",
    ]


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
    create_user(
        db, "vanthu", DEMO_PASSWORD, "hr_clerk", full_name="Văn thư, tổ chức", agency_code="SNV"
    )
    # A member of staff of the Văn phòng (self-service), with the demo password instead of the
    # one-time code a real account gets.
    from services.accounts import create_staff_account
    from services.scope import Scope
    from store.models import Employee, Unit, User
    from store.users import hash_password

    code = db.scalar(
        select(Employee.code)
        .join(Unit, Unit.id == Employee.unit_id)
        .where(Unit.code == "VP")
        .order_by(Employee.code)
        .limit(1)
    )
    if code is not None:
        hr = Scope(0, "demo", "hr_clerk", None)
        create_staff_account(db, hr, code, datetime.now(ZoneInfo("UTC")))
        staff = db.scalars(select(User).where(User.username == code)).one()
        staff.password_hash, staff.must_change_password = hash_password(DEMO_PASSWORD), False


def _demo_sign_ins(settings: Settings) -> str:
    """The demo's sign-ins as the quickstart prints them: "admin / kycuong-demo, …"."""
    from store.models import User

    names = ["admin", "truongphong.vp", "noivu", "vanthu"]
    with db_session(engine_for(settings.database_url)) as db:
        staff = db.scalar(select(User.username).where(User.role == "employee").order_by(User.id))
    if staff:
        names.append(staff)
    return ", ".join(f"{u} / {DEMO_PASSWORD}" for u in names)


def _start_rules(settings: Settings, *, start_scheduler: bool = True):  # type: ignore[no-untyped-def]
    from notify.jobs import NotifyJobs
    from notify.sender import Sender
    from notify.violations import ViolationNotices
    from runner.directory import RulesDirectory
    from runner.worker import DeadlineScheduler, RecomputeWorker

    engine = engine_for(settings.database_url)
    directory = RulesDirectory()
    worker = RecomputeWorker(engine, directory, notices=ViolationNotices.from_settings(settings))
    worker.start()
    scheduler = DeadlineScheduler(
        engine,
        directory,
        settings.timezone,
        dead_letter_retention=timedelta(days=settings.dead_letter_retention_days),
    )
    if settings.notify_enabled:
        # The one scheduler sends too: the digests, the monthly report and the outbox.
        jobs = NotifyJobs(engine, settings)
        jobs.install(scheduler.scheduler)
        jobs.catch_up()
        sender = Sender.from_settings(engine, settings)
        sender.start()
        scheduler.on_stop.append(sender.stop)
    if start_scheduler:
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
    from kycuong.labels import DEAD_LETTER
    from store.models import DeadLetter, Device, Punch, UnmatchedPunch

    with db_session(engine_for(settings.database_url)) as db:
        punches = db.scalar(select(func.count()).select_from(Punch))
        unmatched = db.scalar(select(func.count()).select_from(UnmatchedPunch))
        dead = db.execute(
            select(DeadLetter.reason_code, func.count()).group_by(DeadLetter.reason_code)
        ).all()
        devices = db.execute(select(Device.id, Device.state, Device.last_seen_at)).all()
    tz = ZoneInfo(settings.timezone)
    print("\n== Kỷ Cương: dữ liệu đã nhận ==")
    print(f"  lượt chấm công đã lưu:       {punches}")
    print(f"  lượt quẹt thẻ chưa đăng ký:  {unmatched}")
    refused = ", ".join(f"{DEAD_LETTER.get(code, code)}: {n}" for code, n in dead)
    print(
        f"  bản tin bị từ chối:          {sum(n for _, n in dead)}"
        + (f" ({refused})" if refused else "")
    )
    for device_id, state, seen in devices:
        print(
            f"  máy {device_id}: {state or '?'}, lần cuối {seen.astimezone(tz):%H:%M:%S %d/%m/%Y}"
            if seen
            else f"  máy {device_id}: chưa kết nối lần nào"
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
    from runner.worker import prepare_process

    upgrade(settings.database_url)
    serve(settings.metrics_port)
    prepare_process()
    worker, scheduler = _start_rules(settings)
    log.info("rules role running: recompute loop and scheduler (%s)", settings.timezone)
    _wait_for_signal()
    scheduler.stop()
    worker.stop()
    return 0


def cmd_notify(args: argparse.Namespace, settings: Settings) -> int:
    from notify.sender import Sender

    upgrade(settings.database_url)
    sender = Sender.from_settings(engine_for(settings.database_url), settings)
    if args.once:
        stats = sender.drain()
        print(
            f"đã gửi {stats.sent}, thử lại sau {stats.retried}, không gửi được {stats.failed}, "
            f"hoãn (giờ yên lặng) {stats.postponed}, hủy {stats.cancelled}, "
            f"chờ địa chỉ {stats.waiting}, hết hạn {stats.expired}"
        )
        return 0
    from kycuong.metrics import serve

    serve(settings.metrics_port)
    sender.start()
    log.info("notification sender running")
    _wait_for_signal()
    sender.stop()
    return 0


def cmd_notify_contact(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.errors import KcError
    from services.notifications import set_contact
    from store.models import Employee, User

    try:
        with db_session(engine_for(settings.database_url)) as db:
            if args.employee:
                found = db.scalar(select(Employee.id).where(Employee.code == args.employee))
                recipient = f"employee:{found}" if found else ""
            else:
                found = db.scalar(select(User.id).where(User.username == args.user))
                recipient = f"user:{found}" if found else ""
            set_contact(
                db,
                recipient,
                email=args.email,
                phone=args.phone,
                channel=args.channel,
                quiet=args.quiet,
            )
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        return 2
    print(f"đã lưu liên hệ và tùy chọn nhận thông báo của {args.employee or args.user}")
    return 0


def cmd_recompute(args: argparse.Namespace, settings: Settings) -> int:
    from runner.worker import RecomputeWorker
    from services.effects import describe, recompute_effect
    from services.rules import agency_by_code
    from store.queue import enqueue, keys_for_days

    if args.date_to < args.date_from:
        raise Invalid("date_range", "--to (đến ngày) phải sau hoặc bằng --from (từ ngày)")
    engine = engine_for(settings.database_url)
    now = datetime.now(ZoneInfo(settings.timezone))
    with db_session(engine) as db:
        agency_id = agency_by_code(db, args.agency).id if args.agency else None
        keys = keys_for_days(db, args.date_from, args.date_to, agency_id)
        effect = recompute_effect(db, keys, now, settings.confirm_threshold)
    print(
        f"Tính lại từ {args.date_from:%d/%m/%Y} đến {args.date_to:%d/%m/%Y}: "
        f"{len(keys)} lượt người-ngày."
    )
    for line in describe(effect):
        print(line)
    if args.dry_run:
        print("Chạy thử (--dry-run): chưa thay đổi gì.")
        return 0
    if effect.needs_confirmation and not _confirmed(args.yes):
        return 1
    with db_session(engine) as db:
        count = enqueue(db, keys, "manual")
    done = RecomputeWorker(engine).drain()
    print(f"Đã tính lại {done} lượt người-ngày ({count} được đưa vào hàng đợi).")
    return 0


def _confirmed(yes: bool) -> bool:
    """Ask before a large change; ``--yes`` answers for scripts. A script without it stops."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print(
            "Lỗi: thay đổi này lớn và cần xác nhận: chạy lại với --yes để đồng ý "
            "(hoặc --dry-run để chỉ xem). Chưa thay đổi gì.",
            file=sys.stderr,
        )
        return False
    answer = input("Đồng ý thực hiện? Gõ “có” để tiếp tục [có/không]: ")
    if plain(answer) in ("co", "c", "y", "yes", "dong y"):
        return True
    print("Đã hủy: chưa thay đổi gì.")
    return False


def cmd_rollups(args: argparse.Namespace, settings: Settings) -> int:
    from store.rollups import rebuild

    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        written = rebuild(db, args.date_from, args.date_to)
    print(f"Đã dựng lại {written} bảng tổng hợp người-tháng")
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from store.partitions import archive, ensure, ensure_ahead

    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        if args.action == "ensure":
            made = ensure_ahead(db, date.today(), args.ahead)
            if args.since is not None:  # before importing history older than the partitions
                made += ensure(db, args.since, date.today())
            print(f"Đã tạo {made} phân vùng theo tháng")
            return 0
        if args.before is None:
            raise Invalid(
                "missing_before", "Cần --before (lưu trữ các tháng trước ngày dd/mm/yyyy)"
            )
        for done in archive(db, args.before, args.drop):
            what = "đã xóa" if done.dropped else "đã tách ra (sao lưu bằng pg_dump rồi xóa)"
            print(f"{done.table} {done.month:%m/%Y}: {done.partition} {what}")
    return 0


def cmd_excuses(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.labels import EXCUSE, EXCUSE_STATUS
    from store.excuses import ExcuseError, add_excuse, set_status

    if args.action == "add" and (not args.employee or args.date_from is None):
        raise Invalid("missing", "Cần --employee (mã cán bộ) và --from (từ ngày dd/mm/yyyy)")
    if args.action != "add" and args.id is None:
        raise Invalid("missing", "Cần số của lý do vắng mặt (ví dụ: kycuong excuses approve 12)")
    try:
        with db_session(engine_for(settings.database_url)) as db:
            if args.action == "add":
                record = add_excuse(
                    db,
                    args.employee,
                    choice(EXCUSE, args.kind, "Loại lý do (--kind)"),
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
        raise Invalid("excuse", str(exc)) from exc
    return 0


def cmd_policy(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.replay import ReplayError, load_rules
    from services import rules as rules_service
    from services.effects import describe
    from store.queue import enqueue

    if not args.employee and not args.agency:
        raise Invalid("missing", "Cần --agency (mã cơ quan) hoặc --employee (mã cán bộ)")
    try:
        doc = load_rules(Path(args.file))
    except ReplayError as exc:
        raise Invalid("rules_file", str(exc)) from exc
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(tz)
    today = now.date()
    since = args.since or today
    change = rules_service.RulesChange(args.agency or "", args.unit, args.employee)
    engine = engine_for(settings.database_url)
    with db_session(engine) as db:
        effect = rules_service.preview_change(
            db,
            lambda: rules_service.apply(db, doc, change, since, today),
            now,
            settings.confirm_threshold,
        )
    print(f"Quy định mới cho {change.label}, áp dụng từ ngày {since:%d/%m/%Y}:")
    for line in describe(effect):
        print(line)
    if args.dry_run:
        print("Chạy thử (--dry-run): chưa lưu gì.")
        return 0
    if effect.needs_confirmation and not _confirmed(args.yes):
        return 1
    with db_session(engine) as db:
        queued = enqueue(db, rules_service.apply(db, doc, change, since, today), "rules_changed")
    print(f"Đã lưu quy định cho {change.label}; {queued} lượt người-ngày chờ tính lại.")
    return 0


def cmd_agencies(args: argparse.Namespace, settings: Settings) -> int:
    from runner.worker import RecomputeWorker
    from services import rules as rules_service
    from services.effects import describe
    from store.queue import enqueue

    engine = engine_for(settings.database_url)
    if args.action == "list":
        with db_session(engine) as db:
            rows = rules_service.all_agencies(db)
        if not rows:
            print("Chưa có cơ quan nào: chạy `kycuong demo seed` hoặc nhập danh sách đơn vị.")
        for a in rows:
            start = f"{a.tracking_start:%d/%m/%Y}" if a.tracking_start else "chưa đặt"
            print(f"{a.code}\t{a.name}\tngày bắt đầu theo dõi: {start}\t{a.timezone}")
        return 0
    if not args.code or (args.date is None and not args.clear):
        raise Invalid("missing", "Cần mã cơ quan và ngày: kycuong agencies set-start MÃ dd/mm/yyyy")
    now = datetime.now(ZoneInfo(settings.timezone))
    with db_session(engine) as db:
        agency_id = rules_service.agency_by_code(db, args.code).id

        def change() -> set[tuple[int, date]]:
            agency = db.get(Agency, agency_id)
            assert agency is not None
            return rules_service.tracking_keys(db, agency, args.date, now.date())

        effect = rules_service.preview_change(db, change, now, settings.confirm_threshold)
    target = f"{args.date:%d/%m/%Y}" if args.date else "bỏ (không giới hạn)"
    print(f"Ngày bắt đầu theo dõi của {args.code}: {target}")
    for line in describe(effect):
        print(line)
    if args.dry_run:
        print("Chạy thử (--dry-run): chưa lưu gì.")
        return 0
    if effect.needs_confirmation and not _confirmed(args.yes):
        return 1
    with db_session(engine) as db:
        agency = db.get(Agency, agency_id)
        assert agency is not None
        queued = enqueue(
            db, rules_service.tracking_keys(db, agency, args.date, now.date()), "tracking_start"
        )
    done = RecomputeWorker(engine).drain() if queued else 0
    print(f"Đã lưu; {done} lượt người-ngày được tính lại.")
    if args.date is None:
        print(
            "Để chấm lại những ngày trước đây: kycuong recompute --from dd/mm/yyyy --to dd/mm/yyyy"
        )
    return 0


def cmd_api(_args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app, freeze_startup_heap, server_config

    upgrade(settings.database_url)
    if not settings.api_secret:
        log.info("KC_API_SECRET is not set: tokens are signed with the key kept in the database")
    if settings.password_hash_profile == "cheapest":
        log.warning(
            "KC_PASSWORD_HASH_PROFILE=cheapest: mật khẩu mới được băm với tham số yếu nhất, "
            "chỉ dành cho bộ kiểm thử; bỏ biến này trên máy chủ thật"
        )
    from api.deps import WeakSecret

    try:
        app = create_app(settings)
    except WeakSecret as exc:
        raise Invalid("weak_secret", str(exc)) from exc
    freeze_startup_heap()
    uvicorn.Server(server_config(app, settings)).run()
    return 0


def _serve_api_in_background(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app, server_config

    config = server_config(create_app(settings), settings, log_level="warning")
    threading.Thread(target=uvicorn.Server(config).run, name="api", daemon=True).start()


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    """Users administration from a shell, through the same service as the Người dùng page."""
    import getpass

    from kycuong.errors import KcError
    from services import accounts
    from services.scope import Scope

    if args.action not in ("list", "create-staff") and not args.username:
        print("Lỗi: cần tên đăng nhập, ví dụ: kycuong users disable tp.vp", file=sys.stderr)
        return 2
    if args.action == "create-staff" and bool(args.employee) == bool(args.unit):
        print("Lỗi: hãy cho --employee MÃ_CÁN_BỘ hoặc --unit MÃ_ĐƠN_VỊ", file=sys.stderr)
        return 2
    actor = f"dòng lệnh ({getpass.getuser()})"
    # The shell's operator acts as an admin of no account (user id 0 is never a real user).
    scope = Scope(0, actor, "admin", None)
    now = datetime.now(ZoneInfo("UTC"))
    tz = ZoneInfo(settings.timezone)
    upgrade(settings.database_url)
    try:
        with db_session(engine_for(settings.database_url)) as db:
            if args.action == "list":
                query = accounts.AccountQuery(
                    text=args.search,
                    role=accounts.role_of(args.role) if args.role else None,
                    active=False if args.locked else None,
                )
                found = accounts.listing(db, scope, query)
                for a in found:
                    state = "đang hoạt động" if a.active else "đã khóa"
                    if a.must_change_password:
                        state += ", chờ đổi mật khẩu"
                    print(
                        f"{a.username}\t{a.full_name or '—'}\t{a.role_label}"
                        f"\t{a.scope_label}\t{state}"
                    )
                print(f"({len(found)} người dùng)")
                return 0
            if args.action == "create-staff":
                _create_staff(db, scope, args, now)
                return 0
            if args.action == "create":
                if not args.role:
                    raise KcError("role_required", "Cần --role (vai trò)")
                assignment = _assignment(db, args)
                issued = accounts.create(
                    db,
                    scope,
                    accounts.NewAccount(
                        args.username,
                        args.full_name or "",
                        assignment,
                        args.password,
                        must_change=args.must_change,
                    ),
                    now,
                )
                print(
                    f"Đã tạo {issued.account.username} ({issued.account.role_label}, "
                    f"phạm vi: {issued.account.scope_label})"
                )
                _print_password(issued)
                return 0
            user_id = accounts.find_user(db, scope, args.username).id
            if args.action in ("disable", "enable"):
                account = accounts.set_active(db, scope, user_id, args.action == "enable", now)
                print(
                    f"Đã khóa {account.username}; mọi phiên đăng nhập của người này đã kết thúc."
                    if args.action == "disable"
                    else f"Đã mở khóa {account.username}."
                )
            elif args.action == "reset-password":
                issued = accounts.reset_password(
                    db, scope, user_id, now, password=args.password, must_change=args.must_change
                )
                print(f"Đã cấp lại mật khẩu cho {issued.account.username}.")
                _print_password(issued)
            elif args.action == "set-role":
                if not args.role:
                    raise KcError("role_required", "Cần --role (vai trò)")
                account = accounts.assign(db, scope, user_id, _assignment(db, args), now)
                print(f"{account.username}: {account.role_label}, phạm vi: {account.scope_label}")
            elif args.action == "history":
                for event in accounts.detail(db, scope, user_id).history:
                    changes = f": {'; '.join(event.changes)}" if event.changes else ""
                    print(
                        f"{event.at.astimezone(tz):%d/%m/%Y %H:%M}\t{event.action_label}"
                        f" bởi {event.actor}{changes}"
                    )
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _create_staff(db: DbSession, scope: Scope, args: argparse.Namespace, now: datetime) -> None:
    """Staff accounts (role employee): the one-time passwords are printed once, to hand over."""
    from services import accounts

    made = (
        [accounts.create_staff_account(db, scope, args.employee, now)]
        if args.employee
        else accounts.create_staff_for_unit(db, scope, args.unit, now)
    )
    print("Mã cán bộ\tHọ và tên\tTên đăng nhập\tMật khẩu tạm thời (đổi khi đăng nhập lần đầu)")
    for account in made:
        print(
            f"{account.employee_code}\t{account.full_name}\t{account.username or ''}\t"
            f"{account.one_time_code or account.problem or ''}"
        )
    print(f"Đã tạo {sum(1 for a in made if a.username)} tài khoản (chỉ hiện một lần).")


def _assignment(db: DbSession, args: argparse.Namespace) -> Assignment:
    from services import accounts

    role = accounts.role_of(args.role)
    unit_id = accounts.unit_by_code(db, args.unit, args.agency) if args.unit else None
    agency_id = accounts.agency_by_code(db, args.agency) if args.agency and not args.unit else None
    return accounts.Assignment(role, unit_id=unit_id, agency_id=agency_id)


def _print_password(issued: Issued) -> None:
    if issued.password:
        print(f"Mật khẩu tạm thời (chỉ hiện một lần): {issued.password}")
    if issued.account.must_change_password:
        print("Người dùng phải đặt mật khẩu mới ở lần đăng nhập tới.")


def cmd_bridge(args: argparse.Namespace, _settings: Settings) -> int:
    if args.kind == "hikvision":
        import uvicorn

        from devices import hikvision

        try:
            hik = hikvision.load_config(Path(args.config))
        except (OSError, ValueError, TypeError) as exc:
            raise Invalid(
                "bridge_config", f"Không đọc được tệp cấu hình {args.config}: {exc}"
            ) from exc
        log.info(
            "Hikvision bridge on %s:%d → %s (port %d unless given)",
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
        raise Invalid("bridge_config", f"Không đọc được tệp cấu hình {args.config}: {exc}") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info(
        "ZKTeco bridge: %d terminals → %s (port %d unless given)",
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
    play(
        plan,
        settings.mqtt_brokers,
        settings.mqtt_port,
        speed=args.speed,
        secrets=secrets,
        tls_ca=settings.mqtt_tls_ca,
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("Cơ sở dữ liệu đã ở phiên bản mới nhất")
    return 0


def cmd_demo_seed(args: argparse.Namespace, settings: Settings) -> int:
    from store.demo import seed_demo

    upgrade(settings.database_url)
    with db_session(engine_for(settings.database_url)) as db:
        seeded = seed_demo(db, employees=args.employees, tracking_start=args.tracking_start)
    if seeded is None:
        print("Cơ quan demo đã có sẵn")
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
        print(f"Đã ghi mật khẩu thiết bị vào {path}")
    else:
        for device_id, secret in secrets.items():
            print(f"{device_id}\ttên đăng nhập={device_id}\tmật khẩu={secret}")


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Read a roster file, print its preview (Vietnamese); without --dry-run, apply it."""
    from kycuong.errors import KcError
    from services import roster
    from services.scope import Scope

    upgrade(settings.database_url)
    path = Path(args.file)
    if not path.is_file():
        print(f"Lỗi: không tìm thấy tệp {path}", file=sys.stderr)
        return 2
    operator = Scope(0, "cli", "admin", None)  # the operator at the shell keeps every roster
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    try:
        table = roster.read(
            path.read_bytes(), path.name, args.what, args.encoding, settings.import_max_rows
        )
        with db_session(engine_for(settings.database_url)) as db:
            plan = roster.preview(db, operator, args.what, table, today)
            for line in plan.lines():
                print(line)
            if plan.refused:
                print("Không nhập được tệp: sửa các dòng bị từ chối rồi chạy lại.", file=sys.stderr)
                return 1
            if args.dry_run:
                print("Chạy thử (--dry-run): chưa thay đổi gì.")
                return 0
            applied = roster.apply(db, operator, args.what, table, today)
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        for detail in exc.details or []:
            print(f"  - {detail}", file=sys.stderr)
        return 2
    print(
        f"Đã nhập: {applied.preview.count('create')} mới, {applied.preview.count('update')} "
        f"cập nhật, {applied.cards_assigned} thẻ được cấp, "
        f"{applied.punches_matched} lượt chấm công được ghép"
    )
    return 0


def cmd_devices(args: argparse.Namespace, settings: Settings) -> int:
    from devices import provision
    from kycuong.labels import DIRECTION
    from store.models import Device

    if args.action == "broker-check":
        return _broker_check(args.monitor or ["http://127.0.0.1:8222"])
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
                state = "đã bật" if args.action == "enable" else "đã khóa"
                print(f"{args.device_id}: {state}")
            elif args.action == "list":
                for d in db.scalars(select(Device).order_by(Device.id)):
                    offset = f"{d.clock_offset_s:+.1f}s" if d.clock_offset_s is not None else "?"
                    seen = (
                        d.last_seen_at.astimezone(ZoneInfo(settings.timezone)).strftime(
                            "%d/%m/%Y %H:%M:%S"
                        )
                        if d.last_seen_at
                        else "chưa thấy"
                    )
                    print(
                        f"{d.id}\t{d.site}\t{DIRECTION.get(d.direction, d.direction)}"
                        f"\t{'đang bật' if d.enabled else 'đã khóa'}"
                        f"\t{d.state or '?'}\tlệch đồng hồ {offset}\tlần cuối {seen}"
                    )
            elif args.action == "broker-files" and args.broker == "nats":
                services = []
                if settings.mqtt_username and settings.mqtt_password:
                    services.append(
                        provision.ServiceAccount(
                            settings.mqtt_username,
                            provision.nats_hash_password(settings.mqtt_password),
                        )
                    )
                config = args.config or "deploy/nats/auth/accounts.conf"
                count, skipped = provision.write_nats_files(db, Path(config), services)
                for device_id, reason in skipped.items():
                    print(f"Bỏ qua {device_id}: {reason}")
                print(
                    f"Đã ghi {config}: {count} thiết bị, {len(services)} tài khoản dịch vụ; "
                    "nạp lại cấu hình trên từng nút NATS (nats-server --signal reload) để áp dụng"
                )
            elif args.action == "broker-files":
                services = []
                if settings.mqtt_username and settings.mqtt_password:
                    services.append(
                        provision.ServiceAccount(
                            settings.mqtt_username, provision.hash_password(settings.mqtt_password)
                        )
                    )
                config = args.config or "deploy/mosquitto/dynamic-security.json"
                count = provision.write_broker_files(db, Path(config), services)
                print(
                    f"Đã ghi {config}: {count} thiết bị, {len(services)} tài khoản dịch vụ; "
                    "khởi động lại Mosquitto để áp dụng"
                )
    except provision.ProvisionError as exc:
        raise Invalid("device", str(exc)) from exc
    return 0


def _broker_check(monitors: list[str]) -> int:
    """NATS cluster: name every reader connected under another reader's client id (exit 1)."""
    import httpx

    from devices import provision

    try:
        looked, misuse = provision.nats_client_id_misuse(monitors)
    except (httpx.HTTPError, ValueError) as exc:
        raise Invalid("broker", f"Không đọc được trang giám sát của nút NATS: {exc}") from exc
    for m in misuse:
        print(
            f"Đáng ngờ: tài khoản {m.user} kết nối với mã máy khách {m.client_id} "
            f"(nút {m.node}, từ {m.address}); khóa hoặc đổi mật khẩu thiết bị {m.user}"
        )
    print(
        f"Đã xem {looked} kết nối MQTT trên {len(monitors)} nút: "
        + (f"{len(misuse)} kết nối dùng mã máy khách không phải của mình" if misuse else "ổn")
    )
    return 1 if misuse else 0


def cmd_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from kycuong.labels import DEAD_LETTER
    from store.models import DeadLetter, DeadLetterTally

    tz = ZoneInfo(settings.timezone)
    with db_session(engine_for(settings.database_url)) as db:
        rows = db.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(args.limit))
        for row in rows:
            seen = f" (×{row.count})" if row.count > 1 else ""
            label = DEAD_LETTER.get(row.reason_code, row.reason_code)
            print(
                f"{row.received_at.astimezone(tz):%d/%m/%Y %H:%M:%S}\t{label}{seen}"
                f"\t{row.topic}\t{row.reason}"
            )
        tallies = list(db.scalars(select(DeadLetterTally).order_by(DeadLetterTally.count.desc())))
        if tallies:
            print("\nVượt giới hạn mỗi thiết bị (chỉ đếm, giữ bản tin gần nhất làm mẫu):")
        for tally in tallies:
            label = DEAD_LETTER.get(tally.reason_code, tally.reason_code)
            print(
                f"{tally.device_id or '?'}\t{label}\t{tally.count} bản tin"
                f"\t{tally.first_received_at.astimezone(tz):%d/%m/%Y %H:%M} → "
                f"{tally.last_received_at.astimezone(tz):%d/%m/%Y %H:%M}\t{tally.sample_reason}"
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
        raise Invalid("replay", str(exc)) from exc


class _Parser(argparse.ArgumentParser):
    """argparse with its refusals in Vietnamese (the help text stays as written)."""

    _PATTERNS = (
        (r"the following arguments are required: (.*)", "thiếu tham số bắt buộc: {0}"),
        (
            r"argument (\S+): invalid choice: '?([^']*)'? \(choose from (.*)\)",
            "{0}: “{1}” không hợp lệ; chọn một trong: {2}",
        ),
        (r"argument (\S+): invalid \S+ value: '?([^']*)'?", "{0}: giá trị “{1}” không hợp lệ"),
        (r"argument (\S+): expected one argument", "{0}: cần một giá trị"),
        (r"argument (\S+): (.*)", "{0}: {1}"),
        (r"unrecognized arguments: (.*)", "tham số không nhận ra: {0}"),
    )

    def error(self, message: str) -> NoReturn:
        import re

        for pattern, text in self._PATTERNS:
            found = re.fullmatch(pattern, message)
            if found:
                groups = list(found.groups())
                if "chọn một trong" in text:  # "'', 'utf-8'" → "utf-8": the values as typed
                    choices = (c.strip().strip("'\"") for c in groups[2].split(","))
                    groups[2] = ", ".join(c for c in choices if c)
                message = text.format(*groups)
                break
        self.exit(2, f"Lỗi: {message}\nXem hướng dẫn: {self.prog} --help\n")


def _day(text: str) -> date:
    """A date argument: dd/mm/yyyy or ISO (kycuong.inputs.parse_day)."""
    try:
        return parse_day(text, "ngày")
    except KcError as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("ngày: ")) from None


def _chooser(vocabulary: dict[str, str], field: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return choice(vocabulary, text, field)
        except KcError as exc:
            raise argparse.ArgumentTypeError(exc.message.removeprefix(f"{field}: ")) from None

    return parse


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"“{quoted(text)}” không phải thời điểm hợp lệ (dạng 2026-11-23T08:00:00+07:00)"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kycuong", description="Kỷ Cương attendance and discipline monitor")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="everything in one process: broker, ingest, simulator")
    p.add_argument("--employees", type=int, default=60)
    p.add_argument(
        "--speed", type=float, default=600.0, help="time compression (0 = as fast as possible)"
    )
    p.add_argument("--date", type=_day, default=None, help="simulated day (YYYY-MM-DD)")
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
        "users",
        help="users who sign in: list, create, lock, reset, set a role; create-staff: accounts "
        "for staff (self-service)",
    )
    p.add_argument(
        "action",
        choices=[
            "list",
            "create",
            "create-staff",
            "disable",
            "enable",
            "reset-password",
            "set-role",
            "history",
        ],
    )
    p.add_argument("username", nargs="?")
    p.add_argument(
        "--role",
        help="vai trò: its code or Vietnamese label (unit_head/Trưởng đơn vị, noi_vu/Nội vụ, "
        "hr_clerk/Văn thư, tổ chức cán bộ, admin/Quản trị hệ thống, auditor/Thanh tra, kiểm tra)",
    )
    p.add_argument("--agency", help="agency code: the scope of Nội vụ, HR clerks, auditors")
    p.add_argument(
        "--unit", help="unit code: the scope of a unit head; with create-staff, everyone in it"
    )
    p.add_argument("--employee", help="create-staff: the employee code of one person")
    p.add_argument("--full-name")
    p.add_argument("--password", help="left out: a one-time password is made and printed once")
    p.add_argument(
        "--no-must-change",
        dest="must_change",
        action="store_false",
        help="a typed password need not be changed at the next sign-in",
    )
    p.add_argument("--search", help="list: part of the username or full name")
    p.add_argument("--locked", action="store_true", help="list: only locked accounts")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("rules", help="run the rules role: recompute loop and scheduler")
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("notify", help="notifications: the outbox's sender")
    nsub = p.add_subparsers(dest="notify_cmd", required=True)
    q = nsub.add_parser("send", help="send due messages (the rules role does it too)")
    q.add_argument("--once", action="store_true", help="send what is due now, then exit")
    q.set_defaults(func=cmd_notify)
    q = nsub.add_parser(
        "contact", help="a person's or account's e-mail, phone, channel, quiet hours"
    )
    who = q.add_mutually_exclusive_group(required=True)
    who.add_argument("--employee", help="employee code")
    who.add_argument("--user", help="user name (unit heads, Nội vụ)")
    q.add_argument("--email")
    q.add_argument("--phone")
    q.add_argument("--channel", choices=["email", "webhook", "auto"])
    q.add_argument("--quiet", help="quiet hours, local: 21:00-06:30, none or default")
    q.set_defaults(func=cmd_notify_contact)

    p = sub.add_parser("recompute", help="recompute every person for a date range now")
    p.add_argument("--from", dest="date_from", type=_day, required=True)
    p.add_argument("--to", dest="date_to", type=_day, required=True)
    p.add_argument("--agency", help="only this agency's people (code)")
    p.add_argument("--yes", action="store_true", help="confirm a large change (scripts)")
    p.add_argument("--dry-run", action="store_true", help="only show the effect")
    p.set_defaults(func=cmd_recompute)

    p = sub.add_parser("agencies", help="agencies: list them, set the tracking start date")
    p.add_argument("action", choices=["list", "set-start"])
    p.add_argument("code", nargs="?", help="agency code (set-start)")
    p.add_argument(
        "date",
        nargs="?",
        type=_day,
        metavar="ngày",  # named so in a refusal ("Lỗi: ngày: …"), not "date"
        help="tracking start, dd/mm/yyyy (set-start)",
    )
    p.add_argument("--clear", action="store_true", help="remove the tracking start")
    p.add_argument("--yes", action="store_true", help="confirm a large change (scripts)")
    p.add_argument("--dry-run", action="store_true", help="only show the effect")
    p.set_defaults(func=cmd_agencies)

    p = sub.add_parser("history", help="monthly partitions: create ahead, archive old months")
    p.add_argument("action", choices=["ensure", "archive"])
    p.add_argument("--ahead", type=int, default=3, help="months ahead to create (ensure)")
    p.add_argument("--since", type=_day, default=None, help="and months since")
    p.add_argument("--before", type=_day, default=None, help="archive months before")
    p.add_argument("--drop", action="store_true", help="drop the archived months")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("rollups", help="person-months that summaries read")
    p.add_argument("action", choices=["rebuild"])
    p.add_argument("--from", dest="date_from", type=_day, default=None)
    p.add_argument("--to", dest="date_to", type=_day, default=None)
    p.set_defaults(func=cmd_rollups)

    p = sub.add_parser("excuses", help="leave and business trips: add, approve, cancel")
    p.add_argument("action", choices=["add", "approve", "cancel"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--employee")
    p.add_argument(
        "--kind", default="annual_leave", help="the code or the label, e.g. 'Nghỉ phép năm'"
    )
    p.add_argument("--from", dest="date_from", type=_day)
    p.add_argument("--to", dest="date_to", type=_day)
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
    p.add_argument("--since", type=_day, help="recompute from this date (default today)")
    p.add_argument("--yes", action="store_true", help="confirm a large change (scripts)")
    p.add_argument("--dry-run", action="store_true", help="only show the effect, save nothing")
    p.set_defaults(func=cmd_policy)

    p = sub.add_parser("simulate", help="publish a simulated office day to the broker")
    p.add_argument("--speed", type=float, default=0.0)
    p.add_argument("--date", type=_day, default=None)
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
    p.add_argument(
        "--tracking-start", type=_day, default=None, help="the agency's tracking start (dd/mm/yyyy)"
    )
    p.set_defaults(func=cmd_demo_seed)

    p = sub.add_parser("import", help="import units or employees from CSV or XLSX (preview first)")
    p.add_argument("what", choices=["units", "employees"])
    p.add_argument("file")
    p.add_argument(
        "--dry-run", action="store_true", help="print the preview (Vietnamese), change nothing"
    )
    p.add_argument(
        "--encoding",
        default="",
        choices=["", "utf-8", "utf-16", "cp1258"],
        help="a CSV's encoding when detection guesses wrong (cp1258: Windows-1258)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("devices", help="provision readers and the broker's password and ACL files")
    p.add_argument(
        "action",
        choices=["create", "list", "enable", "disable", "rotate", "broker-files", "broker-check"],
    )
    p.add_argument("device_id", nargs="?")
    p.add_argument("--site", default="")
    p.add_argument("--name")
    p.add_argument(
        "--direction", default="both", type=_chooser(DIRECTION, "hướng"), help="in, out, both"
    )
    p.add_argument("--agency")
    p.add_argument(
        "--secrets-out", help="append the new secret to this JSON file instead of printing"
    )
    p.add_argument(
        "--broker",
        default="mosquitto",
        choices=["mosquitto", "nats"],
        help="whose files broker-files writes: Mosquitto's (default) or the NATS cluster's",
    )
    p.add_argument(
        "--config",
        help="file to write (broker-files); default deploy/mosquitto/dynamic-security.json, "
        "with --broker nats deploy/nats/auth/accounts.conf",
    )
    p.add_argument(
        "--monitor",
        action="append",
        help="broker-check: a NATS node's monitoring address (repeat for every node); "
        "default http://127.0.0.1:8222",
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
    p.add_argument("--from", dest="date_from", type=_day, required=True)
    p.add_argument("--to", dest="date_to", type=_day, required=True)
    p.add_argument("--now", type=_instant, help="evaluate as of this instant")
    p.set_defaults(func=cmd_replay)

    credentials_cli.add_parser(sub)

    p = sub.add_parser("dead-letters", help="list the most recent refused messages")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_dead_letters)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; a domain error is one Vietnamese line (``Lỗi: …``, exit 2), an
    unexpected one a sentence saying what to do (exit 1), never a traceback."""
    args = build_parser().parse_args(argv)
    needs_device = ("create", "enable", "disable", "rotate")
    if args.command == "devices" and args.action in needs_device and not args.device_id:
        print("Lỗi: cần mã thiết bị (ví dụ: kycuong devices create SNV-CONG-1)", file=sys.stderr)
        return 2
    try:
        settings = get_settings()
    except Exception as exc:  # pydantic's ValidationError: a KC_ variable people set
        print(f"Lỗi: cấu hình KC_… không hợp lệ: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level, settings.log_format)
    try:
        return int(args.func(args, settings))
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Đã dừng.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The output's reader went away (`kycuong devices list | head`): end quietly, as a
        # command killed by SIGPIPE; the rest of the output goes nowhere, not to a traceback.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        log.debug("unexpected error", exc_info=True)
        if isinstance(exc, OperationalError):
            print(
                "Lỗi: không kết nối được cơ sở dữ liệu. Kiểm tra KC_DATABASE_URL và máy chủ "
                "cơ sở dữ liệu, rồi chạy lại.",
                file=sys.stderr,
            )
        else:
            print(
                f"Lỗi không mong muốn ({type(exc).__name__}: {exc}). Chưa chắc thao tác đã "
                "hoàn tất: chạy lại với KC_LOG_LEVEL=DEBUG để xem chi tiết và gửi cho "
                "người quản trị hệ thống.",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
