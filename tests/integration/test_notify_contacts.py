"""Contacts for notifications come with the roster (Email, Số điện thoại columns) or from the
CLI; a bad address refuses the file with the row named, in Vietnamese."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kycuong.cli import main
from kycuong.settings import get_settings
from store.db import db_session
from store.models import Employee, NotificationPreference
from store.roster import RosterError, import_employees, import_units
from tests.integration.test_roster import write_units

HEADER = "Mã cán bộ,Họ và tên,Mã đơn vị,Email,Số điện thoại\n"


def write(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "can_bo.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_the_roster_brings_e_mails_and_phones_and_refuses_a_bad_one(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with db_session(sqlite_engine) as db:
        import_units(db, write_units(tmp_path))
    good = write(tmp_path, "CB001,Nguyễn Thị Hương,VP,huong@snv.gov.vn,0912 345 678\n")
    with db_session(sqlite_engine) as db:
        import_employees(db, good)
    with db_session(sqlite_engine) as db:
        person = db.scalars(select(Employee)).one()
        assert (person.email, person.phone) == ("huong@snv.gov.vn", "0912 345 678")
    bad = write(tmp_path, "CB001,Nguyễn Thị Hương,VP,huong-at-snv,\n")
    with pytest.raises(RosterError) as caught, db_session(sqlite_engine) as db:
        import_employees(db, bad)
    assert caught.value.problems == ["Dòng 2: địa chỉ e-mail “huong-at-snv” không hợp lệ"]
    with db_session(sqlite_engine) as db:
        assert db.scalars(select(Employee.email)).one() == "huong@snv.gov.vn"


def test_the_cli_sets_a_person_s_contact_channel_and_quiet_hours(
    sqlite_url: str,
    sqlite_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KC_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    with db_session(sqlite_engine) as db:
        import_units(db, write_units(tmp_path))
        import_employees(db, write(tmp_path, "CB001,Nguyễn Thị Hương,VP,,\n"))
    try:
        args = ["notify", "contact", "--employee", "CB001", "--email", "h@snv.gov.vn"]
        assert main([*args, "--channel", "webhook", "--quiet", "22:00-06:00"]) == 0
        assert main(["notify", "contact", "--employee", "CB001", "--quiet", "tối"]) == 2
        assert "Lỗi: Giờ yên lặng “tối” không hợp lệ" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    with db_session(sqlite_engine) as db:
        person = db.scalars(select(Employee)).one()
        pref = db.get(NotificationPreference, f"employee:{person.id}")
    assert person.email == "h@snv.gov.vn"
    assert pref is not None and (pref.channel, pref.quiet_from, pref.quiet_to) == (
        "webhook",
        "22:00",
        "06:00",
    )
