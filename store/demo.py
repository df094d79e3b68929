"""A demo agency for the quickstart and tests: units, Vietnamese-named staff, cards, readers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from devices.provision import create_device
from store.models import Agency, Credential, Employee, Unit

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE = [
    "Văn",
    "Thị",
    "Đức",
    "Minh",
    "Ngọc",
    "Thanh",
    "Hữu",
    "Quang",
    "Thu",
    "Xuân",
    "Hồng",
    "Anh",
]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phúc",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Vân",
    "Yến",
]
UNITS = [
    ("VP", "Văn phòng Sở"),
    ("TCBC", "Phòng Tổ chức, biên chế và tổ chức phi chính phủ"),
    ("CCVC", "Phòng Công chức, viên chức"),
    ("CCHC", "Phòng Cải cách hành chính"),
    ("TT", "Thanh tra Sở"),
    ("TDKT", "Ban Thi đua - Khen thưởng"),
]
AGENCY_CODE = "SNV"
PARENT_CODE = "UBND"  # the demo Sở's cơ quan chủ quản
PARENT_NAME = "UBND tỉnh Phú Thọ (demo)"
DEVICES = [("SNV-CONG-CHINH", "Cổng chính", "both"), ("SNV-CONG-PHU", "Cổng phụ", "both")]


@dataclass(frozen=True, slots=True)
class DemoSecrets:
    device_secrets: dict[str, str]


def seed_demo(
    db: DbSession, employees: int = 60, seed: int = 7, tracking_start: date | None = None
) -> DemoSecrets | None:
    """Create the demo agency unless it exists; returns the readers' secrets when created.

    ``tracking_start`` (ngày bắt đầu theo dõi): no day before it is judged; None: no limit.
    """
    if db.scalar(select(func.count()).select_from(Agency).where(Agency.code == AGENCY_CODE)):
        return None
    rng = random.Random(seed)
    # its supervising body (cơ quan chủ quản): a report reads "UBND TỈNH …" above the Sở and
    # goes to it (Kính gửi), as a real one does (Nghị định 30/2020/NĐ-CP)
    parent = db.scalar(select(Agency).where(Agency.code == PARENT_CODE))
    if parent is None:
        parent = Agency(code=PARENT_CODE, name=PARENT_NAME, timezone="Asia/Ho_Chi_Minh")
        db.add(parent)
        db.flush()
    agency = Agency(
        code=AGENCY_CODE,
        name="Sở Nội vụ (demo)",
        parent_id=parent.id,
        timezone="Asia/Ho_Chi_Minh",
        tracking_start=tracking_start,
    )
    db.add(agency)
    db.flush()
    units = [Unit(agency_id=agency.id, code=code, name=name) for code, name in UNITS]
    db.add_all(units)
    db.flush()
    start = date(2024, 1, 1)
    valid_from = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(employees):
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        person = Employee(
            code=f"NV{i + 1:05d}",
            full_name=name,
            unit_id=units[i % len(units)].id,
            active_from=start,
        )
        db.add(person)
        db.flush()
        db.add(
            Credential(
                employee_id=person.id, kind="card", value=demo_card(i), valid_from=valid_from
            )
        )
    secrets = {
        device_id: create_device(
            db,
            device_id,
            site=site,
            direction=direction,
            agency_code=AGENCY_CODE,
            registered_at=valid_from,
        )
        for device_id, site, direction in DEVICES
    }
    return DemoSecrets(secrets)


def demo_card(index: int) -> str:
    """The card number of the demo's ``index``-th employee."""
    return f"00{1_000_000 + index * 7:08d}"
