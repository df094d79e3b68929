"""`kycuong credentials`: register a card or an enrolment number (mã chấm công) for a person,
list a person's credentials or the unknown ones, and name groups of readers.

The CLI acts as an administrator (whoever runs it holds the database); it calls the same
service functions as the pages, and prints Vietnamese messages with local dates.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import Any

from kycuong.errors import KcError
from kycuong.inputs import quoted
from kycuong.labels import CREDENTIAL_KIND
from kycuong.settings import Settings
from rules.zones import zone
from services import credentials as service
from services.scope import Scope
from store import credentials as credential_store
from store.db import db_session, engine_for, upgrade

OPERATOR = Scope(0, "cli", "admin", None)


def _date(text: str) -> date:
    """dd/mm/yyyy or ISO, as people type dates."""
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"“{quoted(text)}” không phải ngày hợp lệ (dạng dd/mm/yyyy)")


def _kind(text: str) -> str:
    """A kind by its code or its Vietnamese label."""
    for code, label in CREDENTIAL_KIND.items():
        if text.strip().lower() in (code, label.lower()):
            return code
    accepted = ", ".join(f"{code} ({label})" for code, label in CREDENTIAL_KIND.items())
    raise argparse.ArgumentTypeError(f"loại mã “{quoted(text)}” không hợp lệ; chọn: {accepted}")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("credentials", help="thẻ và mã chấm công: cấp cho cán bộ, liệt kê, nhóm máy")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="cấp thẻ hoặc mã chấm công (trên một máy hay nhóm máy)")
    a.add_argument("--employee", required=True, help="mã cán bộ")
    a.add_argument("--kind", type=_kind, default="card", help="card, pin, face, fingerprint, qr")
    a.add_argument("--value", required=True, help="số thẻ hoặc mã chấm công trên máy")
    where = a.add_mutually_exclusive_group()
    where.add_argument("--device", help="chỉ có hiệu lực trên máy này")
    where.add_argument("--group", help="có hiệu lực trên mọi máy của nhóm này")
    a.add_argument("--from", dest="date_from", type=_date, required=True, help="dd/mm/yyyy")
    a.add_argument("--to", dest="date_to", type=_date, help="ngày cuối còn hiệu lực, dd/mm/yyyy")
    ls = actions.add_parser("list", help="thẻ và mã của một cán bộ, hoặc thẻ chưa đăng ký")
    ls.add_argument("--employee", help="mã cán bộ (bỏ trống: các mã chưa đăng ký)")
    g = actions.add_parser("group", help="tạo nhóm máy hoặc thêm máy vào nhóm")
    g.add_argument("name")
    g.add_argument("devices", nargs="+", metavar="DEVICE_ID")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    engine = engine_for(settings.database_url)
    now = datetime.now(UTC)
    tz = zone(settings.timezone)
    try:
        with db_session(engine) as db:
            if args.action == "add":
                key = ""
                if args.device:
                    key = f"device:{args.device}"
                elif args.group:
                    group = credential_store.group_by_name(db, args.group)
                    if group is None:
                        raise KcError("not_found", f"Không có nhóm máy “{quoted(args.group)}”.")
                    key = f"group:{group.id}"
                done = service.register(
                    db,
                    OPERATOR,
                    service.CredentialIn(
                        args.employee, args.kind, args.value, key, args.date_from, args.date_to
                    ),
                    now,
                )
                who = f"{done.person.full_name} ({done.person.code})"
                if done.already_held:
                    print(f"{who} đã giữ {CREDENTIAL_KIND[args.kind].lower()} {args.value}.")
                else:
                    print(
                        f"Đã cấp {CREDENTIAL_KIND[args.kind].lower()} {args.value} cho {who} "
                        f"từ {args.date_from:%d/%m/%Y}; {done.punches_matched} lượt chấm công "
                        "đã nhận được ghép."
                    )
            elif args.action == "list" and args.employee:
                person = service.find_person(db, OPERATOR, code=args.employee)
                listed = service.of_person(db, OPERATOR, person.id, now)
                print(f"{person.full_name} ({person.code}), {person.unit_name}:")
                for c in listed.credentials:
                    until = f"{c.valid_to:%d/%m/%Y}" if c.valid_to else "nay"
                    print(
                        f"  {c.kind_label}\t{c.value}\t{c.scope_label}"
                        f"\t{c.valid_from:%d/%m/%Y} – {until}"
                    )
                if not listed.credentials:
                    print("  (chưa có thẻ hay mã nào)")
            elif args.action == "list":
                rows = service.unknown(db, OPERATOR)
                print("Thẻ và mã chưa đăng ký (loại, giá trị, máy, lần đầu, lần cuối, số lượt):")
                for u in rows:
                    print(
                        f"  {u.kind_label}\t{u.value}\t{u.device_id} {u.site}"
                        f"\t{u.first_seen.astimezone(tz):%d/%m/%Y %H:%M}"
                        f"\t{u.last_seen.astimezone(tz):%d/%m/%Y %H:%M}\t{u.count}"
                    )
                if not rows:
                    print("  (không có)")
            else:
                from store.models import Device, Employee

                missing = [d for d in args.devices if db.get(Device, d) is None]
                if missing:
                    raise KcError("not_found", f"Không có đầu đọc: {', '.join(missing)}.")
                agencies = {db.get(Device, d).agency_id for d in args.devices}  # type: ignore[union-attr]
                try:
                    group = credential_store.set_group(
                        db, args.name, args.devices, agencies.pop() if len(agencies) == 1 else None
                    )
                except credential_store.CredentialClash as clash:
                    holder = db.get(Employee, clash.holder_id)
                    who = f"{holder.full_name} ({holder.code})" if holder else "người khác"
                    raise KcError(
                        "credential_held",
                        f"Không thêm được: mã {clash.value} của nhóm đã được cấp cho {who} trên "
                        "máy được thêm; chưa thay đổi gì.",
                    ) from clash
                print(f"Nhóm máy “{group.name}”: đã thêm {', '.join(args.devices)}.")
    except KcError as exc:
        print(f"Lỗi: {exc.message}", file=sys.stderr)
        return 2
    return 0
