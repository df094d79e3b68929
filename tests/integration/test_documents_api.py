"""The documents through the API: who may download them, and the score decision route."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine, select

from api.app import create_app
from kycuong.settings import Settings
from store.db import db_session
from store.models import Agency, Employee, Unit
from store.users import create_user
from tests.integration.month import make_month
from tests.signin import bearer


def _client(engine: Engine, **configured: object) -> TestClient:
    make_month(engine)
    with db_session(engine) as db:
        create_user(
            db,
            "truongphong",
            "mật-khẩu-trưởng-phòng",
            "unit_head",
            agency_code="AG",
            unit_code="P1",
        )
        create_user(db, "noivu", "mật-khẩu-nội-vụ", "noi_vu", agency_code="AG")
        create_user(db, "vanthu", "mật-khẩu-văn-thư", "hr_clerk", agency_code="AG")
    settings = Settings(
        database_url=str(engine.url),
        api_secret="test-secret-of-at-least-thirty-two-bytes",
        **configured,  # type: ignore[arg-type]
    )
    return TestClient(create_app(settings, engine))


def test_noi_vu_downloads_the_report_and_the_timesheets_and_a_clerk_may_not(
    sqlite_engine: Engine,
) -> None:
    client = _client(sqlite_engine)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    month = {"year": 2026, "month": 11}
    xlsx = client.get("/api/documents/discipline-report", params=month, headers=noivu)
    assert xlsx.status_code == 200, xlsx.text
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Tổng hợp", "Phòng Một"]
    texts = [c.value for row in book["Tổng hợp"].iter_rows() for c in row if c.value]
    assert "SỞ THỬ NGHIỆM" in texts  # no parent, no recipient configured: nobody addressed
    assert not any(str(t).startswith("Kính gửi") for t in texts)
    pdf = client.get(
        "/api/documents/discipline-report", params={**month, "format": "pdf"}, headers=noivu
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    sheet = client.get(
        "/api/documents/timesheets", params={**month, "format": "xlsx"}, headers=noivu
    )
    assert sheet.status_code == 200
    assert load_workbook(io.BytesIO(sheet.content)).sheetnames == ["Phòng Một"]
    assert client.get(
        "/api/documents/timesheets", params={**month, "format": "pdf"}, headers=noivu
    ).content.startswith(b"%PDF")
    clerk = bearer(client, "vanthu", "mật-khẩu-văn-thư")
    assert client.get("/api/documents/timesheets", params=month, headers=clerk).status_code == 403
    future = client.get(
        "/api/documents/discipline-report", params={"year": 2099, "month": 1}, headers=noivu
    )
    assert future.status_code == 400
    assert future.json()["error"]["code"] == "period_not_started"


def test_a_unit_with_nobody_gets_its_blank_form_not_an_empty_workbook(
    sqlite_engine: Engine,
) -> None:
    """A new unit (nobody yet): its C01a-HD form with the header and a zero "Cộng", to fill in
    by hand; not a workbook holding one blank "Sheet1", nor a PDF with no form on it."""
    client = _client(sqlite_engine)
    with db_session(sqlite_engine) as db:
        agency = db.scalars(select(Agency.id).where(Agency.code == "AG")).one()
        empty = Unit(agency_id=agency, code="P9", name="Trung tâm Lưu trữ lịch sử")
        db.add(empty)
        db.flush()
        unit_id = empty.id
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    asked = {"year": 2026, "month": 11, "unit_id": unit_id}
    sheet = client.get("/api/documents/timesheets", params=asked, headers=noivu)
    assert sheet.status_code == 200, sheet.text
    book = load_workbook(io.BytesIO(sheet.content))
    assert book.sheetnames == ["Trung tâm Lưu trữ lịch sử"]
    texts = [
        c.value
        for row in book["Trung tâm Lưu trữ lịch sử"].iter_rows()
        for c in row
        if c.value is not None
    ]
    assert "BẢNG CHẤM CÔNG" in texts and "Cộng" in texts
    assert "Bộ phận: Trung tâm Lưu trữ lịch sử" in texts
    pdf = client.get("/api/documents/timesheets", params={**asked, "format": "pdf"}, headers=noivu)
    assert pdf.status_code == 200
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "BẢNG CHẤM CÔNG" in text and "Trung tâm Lưu trữ lịch sử" in text


def test_a_unit_head_adjusts_a_score_that_noi_vu_then_reads_and_noi_vu_cannot_decide(
    sqlite_engine: Engine,
) -> None:
    client = _client(sqlite_engine)
    head = bearer(client, "truongphong", "mật-khẩu-trưởng-phòng")
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    with db_session(sqlite_engine) as db:
        absent = db.scalars(select(Employee.id).where(Employee.code == "E0002")).one()
    body = {"year": 2026, "month": 11, "score": 2.0, "flag": "not_good", "note": "Đã nhắc nhở"}
    assert (
        client.post(f"/api/scores/{absent}/decision", json=body, headers=noivu).status_code == 403
    )
    decided = client.post(f"/api/scores/{absent}/decision", json=body, headers=head)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "adjusted" and decided.json()["suggested_score"] == 1.0
    scores = client.get("/api/scores", params={"year": 2026, "month": 11}, headers=noivu).json()
    item = next(i for i in scores["items"] if i["employee_code"] == "E0002")
    assert (item["score"], item["decided_by"], item["unit_code"]) == (2.0, "truongphong", "P1")
    assert "người có thẩm quyền" in scores["notice"]
    xlsx = client.get(
        "/api/scores", params={"year": 2026, "month": 11, "format": "xlsx"}, headers=noivu
    )
    assert xlsx.status_code == 200
    assert client.post("/api/scores/999999/decision", json=body, headers=head).status_code == 404


def test_the_summary_json_has_unit_codes_rates_with_their_terms_and_no_staff_per_person(
    sqlite_engine: Engine,
) -> None:
    client = _client(sqlite_engine)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    body = client.get("/api/summaries", params={"year": 2026, "month": 11}, headers=noivu).json()
    assert body["units"][0]["code"] == "P1" and body["units"][0]["staff"] == 3
    assert {p["staff"] for p in body["people"]} == {None}
    # By hand: 1 late + 2 absence days over 60 working days.
    assert body["total"]["rate"] == {"violations": 3.0, "working_days": 60, "per_100_days": 5.0}
    person = next(p for p in body["people"] if p["code"] == "E0002")
    assert person["rate"] == {"violations": 2.0, "working_days": 20, "per_100_days": 10.0}
    assert body["period"]["complete"] is True and body["period"]["end_day"] == "2026-11-30"


def test_the_csv_per_person_leaves_the_staff_count_empty(sqlite_engine: Engine) -> None:
    client = _client(sqlite_engine)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    answer = client.get(
        "/api/summaries",
        params={"year": 2026, "month": 11, "format": "csv", "by": "employee"},
        headers=noivu,
    )
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    staff = rows[0].index("Tổng số CBCCVC")
    assert [r[staff] for r in rows[1:]] == ["", "", ""]


def test_the_scores_follow_the_agencys_rule_from_configuration(sqlite_engine: Engine) -> None:
    """KC_SCORE_RULE: 3 points a day of unexcused absence and the agency's quy chế as source;
    E0002's two days cost 6 of 5 points (floor 0), not the default 4."""
    own = {"per_absent_day": 3, "source": "Quy chế văn hóa công vụ của Sở"}
    client = _client(sqlite_engine, score_rule=own)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    scores = client.get("/api/scores", params={"year": 2026, "month": 11}, headers=noivu).json()
    item = next(i for i in scores["items"] if i["employee_code"] == "E0002")
    assert (item["suggested_score"], item["reasons"][0]["points"]) == (0.0, -6.0)
    assert scores["rule_source"] == "Quy chế văn hóa công vụ của Sở"


def test_every_route_to_the_report_addresses_it_as_configured(sqlite_engine: Engine) -> None:
    """KC_REPORT_RECIPIENT and KC_REPORT_PLACE reach the report whether it is pulled from
    /api/documents, /api/summaries or the Báo cáo page (the last two said "Sở Nội vụ" and no
    place, whatever the settings)."""
    client = _client(
        sqlite_engine, report_recipient="Ủy ban nhân dân tỉnh Thử nghiệm", report_place="Hà Nội"
    )
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    month = {"year": 2026, "month": 11}
    for route, params in (
        ("/api/documents/discipline-report", month),
        ("/api/summaries", {**month, "format": "xlsx"}),
    ):
        answer = client.get(route, params=params, headers=noivu)
        assert answer.status_code == 200, answer.text
        sheet = load_workbook(io.BytesIO(answer.content))["Tổng hợp"]
        texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
        assert "Kính gửi: Ủy ban nhân dân tỉnh Thử nghiệm" in texts, route
        assert any(t.startswith("Hà Nội, ngày ") for t in texts), route


def test_a_timesheet_pulled_mid_month_says_up_to_which_day_it_counts(
    sqlite_engine: Engine,
) -> None:
    """Pulled on 16/11, November's form is titled "Tháng 11 năm 2026 (số liệu đến hết ngày
    15/11/2026)": the blank days after it are days to come, not days nobody came."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from services.documents import downloads
    from services.scope import Scope

    make_month(sqlite_engine)
    settings = Settings(api_secret="test-secret-of-at-least-thirty-two-bytes")
    mid = datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    with db_session(sqlite_engine) as db:
        asked = downloads.Asked(Scope(1, "noivu", "noi_vu", None), settings, mid)
        doc = downloads.timesheets(db, asked, year=2026, month=11, unit_id=None, file_format="xlsx")
        pdf = downloads.timesheets(db, asked, year=2026, month=11, unit_id=None, file_format="pdf")
        ended = downloads.Asked(asked.scope, settings, mid.replace(month=12, day=1))
        whole = downloads.timesheets(
            db, ended, year=2026, month=11, unit_id=None, file_format="xlsx"
        )
    title = "Tháng 11 năm 2026 (số liệu đến hết ngày 15/11/2026)"
    assert load_workbook(io.BytesIO(doc.content))["Phòng Một"]["A6"].value == title
    assert title in " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert load_workbook(io.BytesIO(whole.content))["Phòng Một"]["A6"].value == "Tháng 11 năm 2026"
    # today (16/11) and after are blank, and counted nowhere: 10 working days up to 15/11
    sheet = load_workbook(io.BytesIO(doc.content))["Phòng Một"]
    on_time = next(
        r for r in sheet.iter_rows(min_row=11, values_only=True) if r[2] == "Chuyên viên"
    )
    assert on_time[3 + 15 : 3 + 30] == (None,) * 15 and on_time[3 + 30] == 10


def test_without_a_year_the_summary_is_this_years_and_a_quarter_alone_means_the_quarter(
    sqlite_engine: Engine,
) -> None:
    from datetime import UTC, datetime

    from rules.zones import zone

    client = _client(sqlite_engine)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    this_year = datetime.now(UTC).astimezone(zone("Asia/Ho_Chi_Minh")).year
    january = client.get("/api/summaries", params={"month": 1}, headers=noivu)
    assert january.status_code == 200, january.text
    assert january.json()["period"]["first_day"] == f"{this_year}-01-01"
    said = client.get("/api/summaries", params={"year": 2026, "quarter": 4}, headers=noivu)
    assert said.status_code == 200, said.text
    assert said.json()["period"]["kind"] == "quarter"
    assert said.json()["period"]["first_day"] == "2026-10-01"
    report = client.get(
        "/api/documents/discipline-report", params={"year": 2026, "quarter": 4}, headers=noivu
    )
    assert report.status_code == 200, report.text


def test_the_report_reads_issuer_under_its_parent_and_says_when_tracking_began(
    sqlite_engine: Engine,
) -> None:
    """The agency under a UBND: the parent then the agency (caps), addressed to the parent;
    tracked from 18/11/2026: the November report, summary and timesheet say so."""
    from datetime import date

    client = _client(sqlite_engine)
    with db_session(sqlite_engine) as db:
        parent = Agency(code="UBND", name="UBND tỉnh Thử nghiệm")
        db.add(parent)
        db.flush()
        agency = db.scalars(select(Agency).where(Agency.code == "AG")).one()
        agency.parent_id = parent.id
        agency.tracking_start = date(2026, 11, 18)
    noivu = bearer(client, "noivu", "mật-khẩu-nội-vụ")
    month = {"year": 2026, "month": 11}
    answer = client.get("/api/documents/discipline-report", params=month, headers=noivu)
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content))["Tổng hợp"]
    assert sheet["A1"].value == "UBND TỈNH THỬ NGHIỆM" and sheet["A2"].value == "SỞ THỬ NGHIỆM"
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Kính gửi: UBND tỉnh Thử nghiệm" in texts
    assert any(t.startswith("Kỳ báo cáo:") and "Theo dõi từ 18/11/2026" in t for t in texts)
    summary = client.get("/api/summaries", params=month, headers=noivu)
    assert "Theo dõi từ 18/11/2026" in summary.json()["period"]["label"]
    form = client.get("/api/documents/timesheets", params=month, headers=noivu)
    assert form.status_code == 200, form.text
    ws = load_workbook(io.BytesIO(form.content)).worksheets[0]
    cells = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "Tháng 11 năm 2026 · Theo dõi từ 18/11/2026" in cells
    assert "–" in cells  # the working days before 18/11
