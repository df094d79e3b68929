"""`kycuong credentials` as an operator uses it on the office database (embedded SQLite): a group
of readers, an unknown enrolment number listed in local time, registered on the group with
a dd/mm/yyyy date and the Vietnamese kind, its punch matched and judged; clashes refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ingest.pipeline import DeviceDirectory, Message, process_batch
from kycuong.cli import main
from kycuong.settings import get_settings
from runner.worker import RecomputeWorker
from store.db import db_session
from store.demo import seed_demo
from store.models import DayRecord, Employee
from tests.factories import punch_payload
from tests.unit.days import local

DAY = date(2026, 11, 23)
GATE = "SNV-CONG-CHINH"


@pytest.fixture
def demo(
    sqlite_url: str, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("KC_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    with db_session(sqlite_engine) as db:
        seed_demo(db, employees=6)
    yield sqlite_engine
    get_settings.cache_clear()


def face(engine: Engine, event_id: str, value: str, hhmm: str) -> None:
    body = punch_payload(
        GATE, event_id, value, local(DAY, hhmm), credential_kind="pin", verify_mode="face"
    )
    process_batch(
        engine,
        [Message(f"kc/v1/{GATE}/punch", body, datetime.now(UTC))],
        DeviceDirectory(engine),
        timedelta(minutes=5),
    )


def test_an_enrolment_number_is_registered_on_a_group_and_its_punch_judged(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    face(demo, "f1", "CB003", "07:46")
    assert main(["credentials", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Mã chấm công trên máy\tCB003\tSNV-CONG-CHINH" in listed
    assert "23/11/2026 07:46" in listed  # local time, not 00:46 UTC
    assert main(["credentials", "group", "Cổng và sảnh", GATE]) == 0
    assert "Nhóm máy “Cổng và sảnh”: đã thêm SNV-CONG-CHINH." in capsys.readouterr().out
    added = main(
        [
            "credentials", "add", "--employee", "NV00003", "--kind", "Mã chấm công trên máy",
            "--value", "CB003", "--group", "Cổng và sảnh", "--from", "01/11/2026",
        ]
    )  # fmt: skip
    assert added == 0
    out = capsys.readouterr().out
    assert "từ 01/11/2026; 1 lượt chấm công đã nhận được ghép" in out
    clash = main(
        [
            "credentials", "add", "--employee", "NV00004", "--kind", "pin", "--value", "CB003",
            "--device", GATE, "--from", "15/11/2026",
        ]
    )  # fmt: skip
    assert clash == 2
    assert "đã được cấp cho" in capsys.readouterr().err
    assert main(["credentials", "list", "--employee", "NV00003"]) == 0
    assert "CB003\tNhóm máy Cổng và sảnh\t01/11/2026 – nay" in capsys.readouterr().out
    RecomputeWorker(demo, clock=lambda: local(DAY, "12:00").astimezone(UTC)).drain()
    with db_session(demo) as db:
        first_in = db.scalar(
            select(DayRecord.first_in)
            .join(Employee, Employee.id == DayRecord.employee_id)
            .where(Employee.code == "NV00003", DayRecord.day == DAY)
        )
    assert first_in == local(DAY, "07:46").astimezone(UTC)


def test_a_wrong_kind_names_the_accepted_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["credentials", "add", "--employee", "X", "--kind", "mống mắt", "--value", "1",
              "--device", "D", "--from", "01/12/2026"])  # fmt: skip
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "loại mã “mống mắt” không hợp lệ" in err and "fingerprint (Vân tay)" in err
