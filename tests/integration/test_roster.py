"""Roster import from the files an HR clerk (văn thư, tổ chức cán bộ) actually has: real files
written here in the encodings and shapes Vietnamese offices produce, previewed then applied."""

from __future__ import annotations

import io
import subprocess
import sys
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from kycuong.errors import Invalid
from services import roster
from services.scope import Scope
from services.tabular import normalise_header
from store.db import db_session
from store.models import Agency, Credential, Device, Employee, Punch, Unit, UnmatchedPunch

ADMIN = Scope(0, "cli", "admin", None)
TODAY = date(2026, 12, 1)
UNITS_CSV = (
    "Mã cơ quan;Tên cơ quan;Mã đơn vị;Tên đơn vị;Mã đơn vị cha\n"
    "SNV;Sở Nội vụ;VP;Văn phòng Sở;\n"
    "SNV;Sở Nội vụ;TCBC;Phòng Tổ chức, biên chế;VP\n"
)
PEOPLE = (
    "Mã cán bộ,Họ và tên,Mã đơn vị,Số thẻ\n"
    "CB001,Nguyễn Thị Hương,VP,0002000101\n"
    "CB002,Trần Đức Long,TCBC,0002000102\n"
    "CB003,Phạm Thị Ngọc Ánh,VP,\n"
)
TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Text as Vietnamese Windows Excel saves "CSV (Comma delimited)": code page 1258, the
    tone marks as combining characters after the letter (ễ = ê + U+0303)."""
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode("cp1258")
    return out


def load_units(engine: Engine, digits: int | None = 10) -> None:
    content = "\ufeff".encode() + UNITS_CSV.encode()
    with db_session(engine) as db:
        roster.apply(db, ADMIN, "units", roster.read(content, "don_vi.csv", "units"), TODAY)
        db.scalars(select(Agency)).one().card_digits = digits


def plan(engine: Engine, content: bytes, name: str, kind: str = "employees") -> roster.Preview:
    with db_session(engine) as db:
        return roster.preview(db, ADMIN, kind, roster.read(content, name, kind), TODAY)


def apply(engine: Engine, content: bytes, name: str, kind: str = "employees") -> roster.Applied:
    with db_session(engine) as db:
        return roster.apply(db, ADMIN, kind, roster.read(content, name, kind), TODAY)


def people(engine: Engine) -> dict[str, tuple[str, list[str]]]:
    with db_session(engine) as db:
        found = {}
        for person in db.scalars(select(Employee)):
            cards = db.scalars(select(Credential.value).where(Credential.employee_id == person.id))
            found[person.code] = (person.full_name, sorted(cards))
        return found


def test_headers_match_without_diacritics_case_or_hints() -> None:
    assert normalise_header("Mã đơn vị") == "madonvi"
    assert normalise_header(" HỌ VÀ TÊN (*)") == "hovaten"
    assert normalise_header("Thẻ hiệu lực từ") == "thehieuluctu"


def test_a_windows_1258_csv_from_excel_keeps_the_vietnamese_names(sqlite_engine: Engine) -> None:
    load_units(sqlite_engine)
    content = cp1258(PEOPLE)
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # what gave the traceback before
    preview = plan(sqlite_engine, content, "can_bo.csv")
    assert "Đọc tệp CSV bảng mã Windows-1258, phân cách bằng dấu phẩy." in preview.notes
    assert [r.action for r in preview.rows] == ["create"] * 3
    assert people(sqlite_engine) == {}  # a preview writes nothing
    apply(sqlite_engine, content, "can_bo.csv")
    found = people(sqlite_engine)
    assert found["CB001"] == ("Nguyễn Thị Hương", ["0002000101"])
    assert found["CB003"][0] == "Phạm Thị Ngọc Ánh"
    assert unicodedata.is_normalized("NFC", found["CB003"][0])


def test_a_utf16_csv_with_tabs_as_unicode_text_saves_it(sqlite_engine: Engine) -> None:
    load_units(sqlite_engine)
    content = PEOPLE.replace(",", "\t").encode("utf-16")  # Excel's "Unicode Text"
    preview = plan(sqlite_engine, content, "can_bo.txt")
    assert "Đọc tệp CSV bảng mã UTF-16, phân cách bằng tab." in preview.notes
    assert preview.count("create") == 3 and preview.refused == 0
    apply(sqlite_engine, content, "can_bo.txt")
    assert people(sqlite_engine)["CB002"] == ("Trần Đức Long", ["0002000102"])


def test_a_semicolon_csv_with_bom_and_a_title_row(sqlite_engine: Engine) -> None:
    load_units(sqlite_engine)
    text = "DANH SÁCH CÁN BỘ NĂM 2026;;;\n;;;\n" + PEOPLE.replace(",", ";")
    preview = plan(sqlite_engine, "\ufeff".encode() + text.encode(), "can_bo.csv")
    assert "Đọc tệp CSV bảng mã UTF-8, phân cách bằng dấu chấm phẩy." in preview.notes
    assert "Dòng tiêu đề là dòng 3; các dòng phía trên được bỏ qua." in preview.notes
    assert [r.line for r in preview.rows] == [4, 5, 6]
    assert preview.refused == 0


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_with_title_rows_and_cards_as_numbers_or_without_zeros(
    sqlite_engine: Engine,
) -> None:
    load_units(sqlite_engine)
    content = xlsx(
        [
            ["SỞ NỘI VỤ TỈNH A"],
            ["DANH SÁCH CÁN BỘ, CÔNG CHỨC"],
            [],
            ["STT", "MÃ CÁN BỘ", "Ho va ten", "Đơn vị", "Chức vụ", "Ngày bắt đầu", "Số thẻ"],
            [1, "CB001", "Nguyễn Thị Hương", "VP", "Chánh Văn phòng", "01/03/2024", "0002000101"],
            [2, "CB002", "Trần Đức Long", "TCBC", None, datetime(2025, 6, 15), 2000102],
            [3, "CB003", "Lê Văn An", "Văn phòng Sở", None, None, "2000103"],
        ]
    )
    preview = plan(sqlite_engine, content, "can_bo.xlsx")
    assert "Dòng tiêu đề là dòng 4; các dòng phía trên được bỏ qua." in preview.notes
    assert "Bỏ qua các cột không dùng: STT." in preview.notes
    first, number_cell, lost_zeros = preview.rows
    assert first.warnings == ()
    assert number_cell.line == 6 and any("ô kiểu số của Excel" in w for w in number_cell.warnings)
    assert any(
        "Số thẻ 2000102 thiếu số 0 ở đầu, đã đổi thành 0002000102" in w
        for w in number_cell.warnings
    )
    assert lost_zeros.warnings[0] == (
        "Số thẻ 2000103 thiếu số 0 ở đầu, đã đổi thành 0002000103 (10 chữ số)"
    )
    apply(sqlite_engine, content, "can_bo.xlsx")
    found = people(sqlite_engine)
    assert found["CB002"][1] == ["0002000102"] and found["CB003"][1] == ["0002000103"]
    with db_session(sqlite_engine) as db:
        long = db.scalars(select(Employee).where(Employee.code == "CB002")).one()
        assert long.active_from == date(2025, 6, 15)


def test_an_xlsx_with_a_signature_footer_skips_it_with_a_note(sqlite_engine: Engine) -> None:
    """A roster as offices print it: the data, then a blank line, the place and date, the
    signers' titles, "(Ký, ghi rõ họ tên)", blank lines for the signatures and the names."""
    load_units(sqlite_engine)
    content = xlsx(
        [
            ["DANH SÁCH CÁN BỘ"],
            ["STT", "Mã cán bộ", "Họ và tên", "Đơn vị", "Chức vụ", "Số thẻ"],
            [1, "CB001", "Nguyễn Thị Hương", "VP", "Trưởng phòng", "0002000101"],
            [2, "CB002", "Trần Đức Long", "TCBC", "Chuyên viên", "0002000102"],
            [],
            [None, None, None, None, "Hà Nội, ngày 01 tháng 12 năm 2026"],
            [None, "Người lập biểu", None, None, "Thủ trưởng đơn vị"],
            [None, "(Ký, ghi rõ họ tên)", None, None, "(Ký tên, đóng dấu)"],
            [],
            [],
            [None, "Lê Thị Mai", None, None, "Phạm Văn Hùng"],
        ]
    )
    preview = plan(sqlite_engine, content, "can_bo.xlsx")
    assert [r.code for r in preview.rows] == ["CB001", "CB002"] and preview.refused == 0
    assert (
        "Bỏ qua phần ký tên cuối tệp từ dòng 6 (“Hà Nội, ngày 01 tháng 12 năm 2026”): "
        "4 dòng không phải dữ liệu."
    ) in preview.notes
    apply(sqlite_engine, content, "can_bo.xlsx")
    assert sorted(people(sqlite_engine)) == ["CB001", "CB002"]


def test_a_signature_footer_under_the_required_columns_is_skipped(sqlite_engine: Engine) -> None:
    """The signers' titles often sit under the code and unit columns ("Người lập biểu" left,
    "Thủ trưởng đơn vị" right): a line whose filled required cells are all signers' words is
    the footer, not two refused people."""
    load_units(sqlite_engine)
    content = xlsx(
        [
            ["STT", "Mã cán bộ", "Họ và tên", "Đơn vị", "Số thẻ"],
            [1, "CB001", "Nguyễn Thị Hương", "VP", "0002000101"],
            [],
            [None, "Người lập biểu", None, "Thủ trưởng đơn vị"],
            [None, "Lê Thị Mai", None, "Phạm Văn Hùng"],
        ]
    )
    preview = plan(sqlite_engine, content, "can_bo.xlsx")
    assert [r.code for r in preview.rows] == ["CB001"] and preview.refused == 0
    assert (
        "Bỏ qua phần ký tên cuối tệp từ dòng 4 (“Người lập biểu”): 2 dòng không phải dữ liệu."
    ) in preview.notes


def test_a_bad_row_or_a_row_after_a_signature_line_is_still_refused(sqlite_engine: Engine) -> None:
    """Only a block no complete row follows is a footer; a person's row lacking its unit is
    refused even when its title reads like a signer's ("Trưởng phòng")."""
    load_units(sqlite_engine)
    content = xlsx(
        [
            ["Mã cán bộ", "Họ và tên", "Đơn vị", "Chức vụ"],
            ["CB001", "Nguyễn Thị Hương", "VP", "Chuyên viên"],
            ["CB002", "Trần Đức Long", None, "Trưởng phòng"],
            [None, "Tổng cộng: 3 người"],
            ["CB003", "Lê Văn An", "VP", None],
        ]
    )
    preview = plan(sqlite_engine, content, "can_bo.xlsx")
    assert [(r.line, r.action) for r in preview.rows] == [
        (2, "create"),
        (3, "refuse"),
        (4, "refuse"),
        (5, "create"),
    ]
    assert preview.rows[1].reasons == ("Thiếu Đơn vị",)
    assert not any("ký tên" in note for note in preview.notes)


def test_a_csv_card_that_lost_its_zeros_is_warned_without_a_card_format(
    sqlite_engine: Engine,
) -> None:
    """A CSV cannot say a cell was a number: with no card format set (a fresh install), a card
    shorter than the others is still pointed out, and kept as written."""
    load_units(sqlite_engine, digits=None)
    content = cp1258(PEOPLE + "CB004,Lê Văn An,VP,2000104\n")
    preview = plan(sqlite_engine, content, "can_bo.csv")
    *others, short = preview.rows
    assert not [w for r in others for w in r.warnings if "Số thẻ" in w]
    assert (
        "Số thẻ 2000104 có 7 chữ số, các thẻ khác có 10 chữ số: có thể Excel đã bỏ số 0 ở "
        "đầu; hãy kiểm tra, hoặc đặt “Định dạng số thẻ” ở trang Đơn vị để số 0 được tự thêm"
    ) in short.warnings
    assert short.action == "create" and "Nhận thẻ 2000104" in " ".join(short.changes)


def test_a_card_excel_wrote_as_an_exponent_or_too_long_is_refused(sqlite_engine: Engine) -> None:
    load_units(sqlite_engine)
    text = "Mã cán bộ,Họ và tên,Đơn vị,Số thẻ\nCB1,Lê An,VP,2.00E+09\nCB2,Lê Bình,VP,12345678901\n"
    preview = plan(sqlite_engine, text.encode(), "x.csv")
    assert preview.rows[0].action == "refuse"
    assert "số mũ" in preview.rows[0].reasons[0]
    assert preview.rows[1].reasons == ("Số thẻ 12345678901 dài hơn 10 chữ số",)
    with pytest.raises(Invalid) as refused:
        apply(sqlite_engine, text.encode(), "x.csv")
    assert refused.value.message == "Tệp có 2 dòng bị từ chối, chưa nhập gì"
    assert people(sqlite_engine) == {}


def test_missing_columns_are_named_in_vietnamese(sqlite_engine: Engine) -> None:
    with pytest.raises(Invalid) as refused:
        roster.read("Mã cán bộ,Ghi chú\nA,x\n".encode(), "x.csv", "employees")
    assert refused.value.message == "Thiếu cột bắt buộc: Họ và tên, Đơn vị"
    with pytest.raises(Invalid) as nothing:
        roster.read("Tên,Tuổi\nA,3\n".encode(), "x.csv", "employees")
    assert "Không tìm thấy dòng tiêu đề" in nothing.value.message
    assert "Mã cán bộ, Họ và tên, Đơn vị" in nothing.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "Excel 97-2003 (.xls)"),
        (b"PK\x03\x04 not a workbook", "Tệp Excel bị hỏng"),
        (bytes(range(256)) * 4, "Hãy lưu tệp dưới dạng CSV UTF-8 hoặc Excel (.xlsx)"),
        (b"   ", "Tệp trống"),
    ],
    ids=["xls", "broken-xlsx", "binary", "empty"],
)
def test_an_unreadable_file_gets_one_sentence_saying_what_to_do(
    content: bytes, message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        roster.read(content, "x.csv", "employees")
    assert message in refused.value.message


def test_bad_rows_are_refused_with_reasons_and_nothing_is_written(
    sqlite_engine: Engine,
) -> None:
    load_units(sqlite_engine, digits=None)
    bad = (
        "Mã cán bộ,Họ và tên,Mã đơn vị,Ngày bắt đầu,Ngày kết thúc\n"
        "OK1,Đỗ Minh Quân,VP,01/01/2024,\n"
        "X2,,VP,01/01/2024,\n"
        "X3,Hồ Thu Trang,NOPE,01/01/2024,\n"
        "X4,Vũ Hải,VP,31/02/2024,\n"
        "X5,Mai Lan,VP,01/05/2024,01/04/2024\n"
        "OK1,Đỗ Minh Quân,VP,01/01/2024,\n"
    ).encode()
    preview = plan(sqlite_engine, bad, "bad.csv")
    assert [r.action for r in preview.rows] == ["create"] + ["refuse"] * 5
    reasons = [r.reasons[0] for r in preview.rows[1:]]
    assert reasons == [
        "Thiếu Họ và tên",
        "Không tìm thấy đơn vị NOPE trong phạm vi của bạn",
        "Ngày bắt đầu: “31/02/2024” không phải ngày hợp lệ "
        "(nhập dạng dd/mm/yyyy, ví dụ 15/11/2026)",
        "Ngày kết thúc 01/04/2024 trước ngày bắt đầu 01/05/2024",
        "Mã cán bộ OK1 trùng với dòng 2",
    ]
    with pytest.raises(Invalid) as refused:
        apply(sqlite_engine, bad, "bad.csv")
    assert refused.value.details[0] == "Dòng 3: Thiếu Họ và tên"
    assert people(sqlite_engine) == {}


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_units_then_people_import_and_a_reimport_shows_what_changes(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    load_units(engine)
    with db_session(engine) as db:
        units = {u.code: u for u in db.scalars(select(Unit))}
        assert units["TCBC"].parent_id == units["VP"].id
    apply(engine, PEOPLE.encode(), "p.csv")
    again = plan(engine, PEOPLE.encode(), "p.csv")
    assert [r.action for r in again.rows] == ["unchanged"] * 3
    moved = PEOPLE.replace("CB003,Phạm Thị Ngọc Ánh,VP,", "CB003,Phạm Thị Ngọc Ánh,TCBC,")
    changed = plan(engine, moved.encode(), "p.csv")
    assert changed.rows[2].action == "update"
    assert changed.rows[2].changes == ("Đơn vị: Văn phòng Sở → Phòng Tổ chức, biên chế",)
    assert changed.summary() == "0 tạo mới, 1 cập nhật, 2 không đổi, 0 từ chối, 0 cảnh báo"


def test_a_fresh_install_by_import_judges_nobody_before_the_day_after_it(
    sqlite_engine: Engine,
) -> None:
    """The first go-live through the roster import, no tracking start typed: the agency the
    file creates is tracked from tomorrow, so the scheduler's first catch-up (36 h back) and
    the nightly reconciliation of the import day flag nobody absent."""
    from runner.deadlines import nightly, tick
    from runner.directory import RulesDirectory
    from runner.worker import RecomputeWorker
    from store.models import ViolationRecord

    load_units(sqlite_engine)
    apply(sqlite_engine, PEOPLE.encode(), "can_bo.csv")
    with db_session(sqlite_engine) as db:
        assert db.scalars(select(Agency)).one().tracking_start == date(2026, 12, 2)
    directory = RulesDirectory(max_age_s=0)
    with db_session(sqlite_engine) as db:  # the import at 12:30 on 01/12, the rules role started
        tick(db, directory, datetime(2026, 12, 1, 5, 30, tzinfo=UTC))
    with db_session(sqlite_engine) as db:  # 01:00 on 02/12: the import day reconciled
        tick(db, directory, datetime(2026, 12, 1, 18, 0, tzinfo=UTC))
        nightly(db, TODAY)
    RecomputeWorker(sqlite_engine, directory).drain()
    with db_session(sqlite_engine) as db:
        assert db.scalars(select(ViolationRecord)).all() == []


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_a_person_imported_with_a_past_start_is_judged_from_it_since_the_tracking_start(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    """The days between a person's start date and the import are judged (the runner's own
    triggers name only the days to come), never before the agency's tracking start; the
    preview says how many."""
    from runner.directory import RulesDirectory
    from runner.worker import RecomputeWorker
    from store.models import RecomputeRequest, ViolationRecord

    engine: Engine = request.getfixturevalue(engine_name)
    load_units(engine)
    with db_session(engine) as db:
        db.scalars(select(Agency)).one().tracking_start = date(2026, 11, 9)
    text = (
        "Mã cán bộ,Họ và tên,Đơn vị,Ngày bắt đầu\n"
        "CB010,Đặng Thu Thảo,VP,16/11/2026\n"
        "CB011,Vũ Minh Khôi,VP,01/10/2024\n"
        "CB012,Hồ Thị Lan,VP,02/12/2026\n"
    )
    preview = plan(engine, text.encode(), "moi.csv")
    assert preview.rows[0].changes == (
        "Đơn vị: Văn phòng Sở",
        "Sẽ tính lại 16 ngày đã qua (từ 16/11/2026 đến 01/12/2026)",
    )
    assert preview.rows[1].changes[-1] == (
        "Sẽ tính lại 23 ngày đã qua (từ 09/11/2026 đến 01/12/2026)"
    )
    assert preview.rows[2].changes == ("Đơn vị: Văn phòng Sở",)  # starts tomorrow
    apply(engine, text.encode(), "moi.csv")
    with db_session(engine) as db:
        queued = db.execute(
            select(Employee.code, func.min(RecomputeRequest.day), func.count())
            .join(Employee, Employee.id == RecomputeRequest.employee_id)
            .group_by(Employee.code)
            .order_by(Employee.code)
        ).all()
    assert [tuple(q) for q in queued] == [
        ("CB010", date(2026, 11, 16), 16),
        ("CB011", date(2026, 11, 9), 23),
    ]
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 local on 01/12
    RecomputeWorker(engine, RulesDirectory(max_age_s=0), clock=lambda: now).drain()
    with db_session(engine) as db:
        absent = db.execute(
            select(Employee.code, func.min(ViolationRecord.day))
            .join(Employee, Employee.id == ViolationRecord.employee_id)
            .where(ViolationRecord.kind == "absent", ViolationRecord.active.is_(True))
            .group_by(Employee.code)
            .order_by(Employee.code)
        ).all()
    # Nobody punched: absent from their first judged working day, not a day earlier.
    assert [tuple(a) for a in absent] == [
        ("CB010", date(2026, 11, 16)),
        ("CB011", date(2026, 11, 9)),
    ]
    # Imported again, nothing changes and nothing is queued anew.
    again = plan(engine, text.encode(), "moi.csv")
    assert [r.action for r in again.rows] == ["unchanged"] * 3


def test_a_unit_file_with_a_cycle_or_an_unknown_parent_is_refused(sqlite_engine: Engine) -> None:
    load_units(sqlite_engine)
    text = (
        "Mã cơ quan,Mã đơn vị,Tên đơn vị,Mã đơn vị cha\n"
        "SNV,VP,Văn phòng Sở,TCBC\n"
        "SNV,KT,Phòng Kế toán,XX\n"
    )
    preview = plan(sqlite_engine, text.encode(), "u.csv", "units")
    assert preview.rows[0].reasons == (
        "Đơn vị cha TCBC tạo thành vòng lặp (đơn vị trực thuộc chính cấp dưới)",
    )
    assert preview.rows[1].reasons == ("Không tìm thấy đơn vị cha XX trong cơ quan SNV",)


def test_a_card_handed_to_someone_else_keeps_the_old_holders_history(
    sqlite_engine: Engine,
) -> None:
    load_units(sqlite_engine, digits=None)
    apply(
        sqlite_engine,
        "Mã cán bộ,Họ và tên,Đơn vị,Số thẻ\nA1,Lê Văn An,VP,CARD9\n".encode(),
        "a.csv",
    )
    moved = (
        "Mã cán bộ,Họ và tên,Đơn vị,Số thẻ,Thẻ hiệu lực từ\nB2,Phạm Thị Bình,VP,CARD9,16/11/2026\n"
    )
    preview = plan(sqlite_engine, moved.encode(), "b.csv")
    assert preview.rows[0].warnings[-1] == (
        "Thẻ CARD9 chuyển từ Lê Văn An (A1) sang cán bộ này từ 16/11/2026"
    )
    apply(sqlite_engine, moved.encode(), "b.csv")
    with db_session(sqlite_engine) as db:
        periods = db.execute(
            select(Employee.code, Credential.valid_from, Credential.valid_to)
            .join(Credential, Credential.employee_id == Employee.id)
            .order_by(Credential.valid_from)
        ).all()
    assert [p.code for p in periods] == ["A1", "B2"]
    assert periods[0].valid_to == periods[1].valid_from == datetime(2026, 11, 15, 17, 0, tzinfo=UTC)
    back = "Mã cán bộ,Họ và tên,Đơn vị,Số thẻ,Thẻ hiệu lực từ\nA1,Lê Văn An,VP,CARD9,01/11/2026\n"
    refused = plan(sqlite_engine, back.encode(), "c.csv")
    # The date in the message is the local date the card changed hands, not 15/11 in UTC.
    assert refused.rows[0].reasons == (
        "Thẻ CARD9 đã được cấp cho người khác từ 16/11/2026: Thẻ hiệu lực từ phải sau ngày đó",
    )


def test_registering_a_card_matches_the_punches_already_received(sqlite_engine: Engine) -> None:
    from devices.provision import create_device
    from store.punches import insert_punches, record_unmatched

    load_units(sqlite_engine, digits=None)
    at = datetime(2026, 11, 23, 0, 31, tzinfo=UTC)
    with db_session(sqlite_engine) as db:
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
    text = (
        "Mã cán bộ,Họ và tên,Mã đơn vị,Số thẻ,Thẻ hiệu lực từ\n"
        "N1,Ngô Thanh Tâm,VP,NEW1,01/11/2026\n"
    )
    applied = apply(sqlite_engine, text.encode(), "n.csv")
    assert applied.punches_matched == 1 and applied.cards_assigned == 1
    with db_session(sqlite_engine) as db:
        row = db.scalars(select(UnmatchedPunch)).one()
        person = db.scalars(select(Employee).where(Employee.code == "N1")).one()
        assert row.matched_employee_id == person.id
        assert db.get(Device, "D1") is not None and db.scalars(select(Punch)).one().event_id == "e1"


def test_the_cli_previews_with_dry_run_and_applies_without(
    sqlite_url: str, tmp_path: object
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    units = folder / "don_vi.csv"
    units.write_bytes(cp1258(UNITS_CSV))
    people_file = folder / "can_bo.csv"
    people_file.write_bytes(cp1258(PEOPLE + "CB009,Lý Thị Mai,NOPE,\n"))
    env = {"KC_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kycuong.cli", "import", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = run("units", str(units), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    tomorrow = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=1)
    assert (
        f"Dòng 2: Tạo mới VP Văn phòng Sở (tạo cơ quan SNV, ngày bắt đầu theo dõi "
        f"{tomorrow:%d/%m/%Y})" in dry.stdout
    )
    assert "Chạy thử (--dry-run): chưa thay đổi gì." in dry.stdout
    assert run("units", str(units)).returncode == 0
    bad = run("employees", str(people_file))
    assert bad.returncode == 1
    assert "Dòng 5: Từ chối CB009 Lý Thị Mai (Không tìm thấy đơn vị NOPE" in bad.stdout
    assert "Traceback" not in bad.stderr
    people_file.write_bytes(cp1258(PEOPLE))
    good = run("employees", str(people_file))
    assert good.returncode == 0, good.stderr
    assert "Đã nhập: 3 mới, 0 cập nhật, 2 thẻ được cấp" in good.stdout
    unreadable = folder / "x.xls"
    unreadable.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    refused = run("employees", str(unreadable))
    assert refused.returncode == 2 and refused.stderr.startswith("Lỗi: Tệp Excel 97-2003 (.xls)")
