"""Contacts for notifications come with the roster (Email, Số điện thoại columns) or from the
CLI; a bad address refuses the file with the row named, in Vietnamese."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kycuong.cli import main
from kycuong.errors import Invalid
from kycuong.settings import get_settings
from store.db import db_session
from store.models import Employee, NotificationPreference
from tests.integration.test_roster import apply, load_units, plan

HEADER = "Mã cán bộ,Họ và tên,Mã đơn vị,Email,Số điện thoại\n"


def write(rows: str) -> bytes:
    return (HEADER + rows).encode()


def test_the_roster_brings_e_mails_and_phones_and_refuses_a_bad_one(
    sqlite_engine: Engine,
) -> None:
    load_units(sqlite_engine, None)
    good = write("CB001,Nguyễn Thị Hương,VP,huong@snv.gov.vn,0912 345 678\n")
    apply(sqlite_engine, good, "can_bo.csv")
    with db_session(sqlite_engine) as db:
        person = db.scalars(select(Employee)).one()
        assert (person.email, person.phone) == ("huong@snv.gov.vn", "0912 345 678")
    changed = plan(sqlite_engine, write("CB001,Nguyễn Thị Hương,VP,h@snv.gov.vn,\n"), "c.csv")
    assert changed.rows[0].changes == (
        "E-mail: huong@snv.gov.vn → h@snv.gov.vn",
        "Số điện thoại: 0912 345 678 → (trống)",
    )
    bad = write("CB001,Nguyễn Thị Hương,VP,huong-at-snv,\n")
    assert plan(sqlite_engine, bad, "can_bo.csv").rows[0].reasons == (
        "E-mail “huong-at-snv” không hợp lệ",
    )
    with pytest.raises(Invalid):
        apply(sqlite_engine, bad, "can_bo.csv")
    with db_session(sqlite_engine) as db:
        assert db.scalars(select(Employee.email)).one() == "huong@snv.gov.vn"
    # A file without the contact columns leaves them as they are.
    no_contacts = "Mã cán bộ,Họ và tên,Mã đơn vị\nCB001,Nguyễn Thị Hương,VP\n".encode()
    apply(sqlite_engine, no_contacts, "c.csv")
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
    load_units(sqlite_engine, None)
    apply(sqlite_engine, write("CB001,Nguyễn Thị Hương,VP,,\n"), "can_bo.csv")
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
