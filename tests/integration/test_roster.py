"""Roster import from the files an HR clerk (văn thư, tổ chức cán bộ) actually has."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, select

from store.db import db_session
from store.models import Credential, Device, Employee, Punch, Unit, UnmatchedPunch
from store.roster import RosterError, import_employees, import_units, normalise_header

UNITS_CSV = (
    "Mã cơ quan;Tên cơ quan;Mã đơn vị;Tên đơn vị;Mã đơn vị cha\n"
    "SNV;Sở Nội vụ;VP;Văn phòng Sở;\n"
    "SNV;Sở Nội vụ;TCBC;Phòng Tổ chức, biên chế;VP\n"
)


def write_units(tmp_path: Path) -> Path:
    path = tmp_path / "don_vi.csv"
    path.write_bytes("\ufeff".encode() + UNITS_CSV.encode())  # Excel's UTF-8 with BOM
    return path


def write_employees_xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        [
            "STT",
            "Mã cán bộ",
            "Họ và tên",
            "Mã đơn vị",
            "Chức vụ",
            "Ngày bắt đầu",
            "Số thẻ",
            "Thẻ hiệu lực từ",
        ]
    )
    for row in rows:
        sheet.append(row)
    path = tmp_path / "can_bo.xlsx"
    book.save(path)
    return path


def test_headers_match_without_diacritics_or_case() -> None:
    assert normalise_header("Mã đơn vị") == "madonvi"
    assert normalise_header(" HỌ VÀ TÊN ") == "hovaten"
    assert normalise_header("Thẻ hiệu lực từ") == "thehieuluctu"


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_units_then_employees_with_cards_import_and_reimport_updates(
    engine_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    with db_session(engine) as db:
        report = import_units(db, write_units(tmp_path))
    assert report.created == 2
    xlsx = write_employees_xlsx(
        tmp_path,
        [
            [
                1,
                "CB001",
                "Nguyễn Thị Hương",
                "VP",
                "Chánh Văn phòng",
                "01/03/2024",
                "0001234567",
                None,
            ],
            [2, "CB002", "Trần Đức Long", "TCBC", None, "15/06/2025", 7654321, "01/07/2025"],
        ],
    )
    with db_session(engine) as db:
        report = import_employees(db, xlsx)
    assert (report.created, report.cards_assigned) == (2, 2)
    with db_session(engine) as db:
        units = {u.code: u for u in db.scalars(select(Unit))}
        assert units["TCBC"].parent_id == units["VP"].id
        huong = db.scalars(select(Employee).where(Employee.code == "CB001")).one()
        assert huong.full_name == "Nguyễn Thị Hương" and huong.title == "Chánh Văn phòng"
        card = db.scalars(select(Credential).where(Credential.value == "7654321")).one()
        # 01/07/2025 00:00 in Hà Nội is 30/06/2025 17:00 UTC
        assert card.valid_from == datetime(2025, 6, 30, 17, 0, tzinfo=UTC)
    with db_session(engine) as db:
        again = import_employees(db, xlsx)
    assert (again.created, again.updated, again.cards_assigned) == (0, 2, 0)


def test_a_card_handed_to_someone_else_keeps_the_old_holders_history(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with db_session(sqlite_engine) as db:
        import_units(db, write_units(tmp_path))
        import_employees(
            db,
            write_employees_xlsx(
                tmp_path, [[1, "A1", "Lê Văn An", "VP", None, "01/01/2024", "CARD9", None]]
            ),
        )
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "Mã cán bộ,Họ và tên,Mã đơn vị,Số thẻ,Thẻ hiệu lực từ\n"
        "B2,Phạm Thị Bình,VP,CARD9,16/11/2026\n"
    )
    with db_session(sqlite_engine) as db:
        import_employees(db, moved)
    with db_session(sqlite_engine) as db:
        periods = db.execute(
            select(Employee.code, Credential.valid_from, Credential.valid_to)
            .join(Credential, Credential.employee_id == Employee.id)
            .order_by(Credential.valid_from)
        ).all()
    assert [p.code for p in periods] == ["A1", "B2"]
    assert periods[0].valid_to == periods[1].valid_from == datetime(2026, 11, 15, 17, 0, tzinfo=UTC)
    assert periods[1].valid_to is None


def test_a_file_with_bad_rows_changes_nothing_and_names_each_row(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with db_session(sqlite_engine) as db:
        import_units(db, write_units(tmp_path))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Mã cán bộ,Họ và tên,Mã đơn vị,Ngày bắt đầu\n"
        "OK1,Đỗ Minh Quân,VP,01/01/2024\n"
        "X2,,VP,01/01/2024\n"
        "X3,Hồ Thu Trang,NOPE,01/01/2024\n"
        "X4,Vũ Hải,VP,31/02/2024\n"
    )
    with pytest.raises(RosterError) as refused, db_session(sqlite_engine) as db:
        import_employees(db, bad)
    assert [p.split(":")[0] for p in refused.value.problems] == ["Dòng 3", "Dòng 4", "Dòng 5"]
    assert "không tìm thấy đơn vị NOPE" in refused.value.problems[1]
    with db_session(sqlite_engine) as db:
        assert db.scalars(select(Employee)).all() == []


def test_missing_required_column_is_named(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Mã cán bộ,Mã đơn vị\nA,VP\n")
    with pytest.raises(RosterError, match="full_name"), db_session(sqlite_engine) as db:
        import_employees(db, path)


def test_registering_a_card_matches_the_punches_already_received(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from devices.provision import create_device
    from store.punches import insert_punches, record_unmatched

    at = datetime(2026, 11, 23, 0, 31, tzinfo=UTC)
    with db_session(sqlite_engine) as db:
        import_units(db, write_units(tmp_path))
        create_device(db, "D1")
        ids = insert_punches(
            db,
            [
                {
                    "device_id": "D1",
                    "event_id": "e1",
                    "credential_kind": "card",
                    "credential_value": "NEW1",
                    "device_time": at,
                    "clock_offset_s": 0.0,
                    "punched_at": at,
                    "received_at": at,
                    "direction": "in",
                    "verify_mode": None,
                    "raw": "{}",
                }
            ],
        )
        assert record_unmatched(db, ids) == 1
    path = tmp_path / "new.csv"
    path.write_text(
        "Mã cán bộ,Họ và tên,Mã đơn vị,Số thẻ,Thẻ hiệu lực từ\n"
        "N1,Ngô Thanh Tâm,VP,NEW1,01/11/2026\n"
    )
    with db_session(sqlite_engine) as db:
        report = import_employees(db, path)
    assert report.punches_matched == 1
    with db_session(sqlite_engine) as db:
        row = db.scalars(select(UnmatchedPunch)).one()
        person = db.scalars(select(Employee).where(Employee.code == "N1")).one()
        assert row.matched_employee_id == person.id
        assert db.get(Device, "D1") is not None and db.scalars(select(Punch)).one().event_id == "e1"
