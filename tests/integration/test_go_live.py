"""A safe go-live on the real PostgreSQL: a fresh install with a tracking start date today
judges nobody before it (a recompute of last month, the nightly reconciliation, the
scheduler's first catch-up), and nobody is judged before their own start date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from kycuong.cli import main
from kycuong.settings import get_settings
from runner.deadlines import nightly, tick
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.models import Agency, Employee, RecomputeRequest, Unit, ViolationRecord

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def install(pg_url: str, pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh install: the CLI on an empty database (migrated by the fixture)."""
    monkeypatch.setenv("KC_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield pg_engine
    get_settings.cache_clear()


def violations(engine: Engine, before: date | None = None) -> int:
    query = select(func.count()).select_from(ViolationRecord)
    query = query.where(ViolationRecord.active.is_(True))
    if before is not None:
        query = query.where(ViolationRecord.day < before)
    with db_session(engine) as db:
        return int(db.scalar(query) or 0)


def test_a_go_live_with_a_tracking_start_today_judges_nobody_before_it(
    install: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(TZ).date()
    assert main(["demo", "seed", "--employees", "12", "--tracking-start", f"{today:%d/%m/%Y}"]) == 0
    assert main(["agencies", "list"]) == 0
    assert f"SNV\tSở Nội vụ (demo)\tngày bắt đầu theo dõi: {today:%d/%m/%Y}" in (
        capsys.readouterr().out
    )

    # The documented recompute of last month: nothing appears, so nothing needs confirming.
    last_month_end = today.replace(day=1) - timedelta(days=1)
    first = last_month_end.replace(day=1)
    assert (
        main(["recompute", "--from", f"{first:%d/%m/%Y}", "--to", f"{last_month_end:%d/%m/%Y}"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Không có vi phạm nào xuất hiện hay bị thu hồi" in out
    assert violations(install) == 0

    # The scheduler's first catch-up (36 h back) and the nightly reconciliation of yesterday.
    directory = RulesDirectory(max_age_s=0)
    now = datetime.now(UTC)
    with db_session(install) as db:
        tick(db, directory, now)
        nightly(db, today - timedelta(days=1))
        queued_before = db.scalar(
            select(func.count())
            .select_from(RecomputeRequest)
            .where(RecomputeRequest.reason == "deadline", RecomputeRequest.day < today)
        )
    assert queued_before == 0, "the catch-up reached before the tracking start"
    RecomputeWorker(install, directory).drain()
    assert violations(install, before=today) == 0


def test_a_person_starting_on_the_15th_is_not_judged_on_the_14th(
    install: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "seed", "--employees", "6"]) == 0  # no tracking start: the past counts
    with db_session(install) as db:
        unit = db.scalars(select(Unit).order_by(Unit.id)).first()
        assert unit is not None
        db.add(
            Employee(
                code="MOI15",
                full_name="Lê Thị Mới",
                unit_id=unit.id,
                active_from=date(2026, 10, 15),
            )
        )
    # October 2026: the 14th is a Wednesday, the 15th a Thursday; nobody punched at all.
    assert main(["recompute", "--from", "01/10/2026", "--to", "31/10/2026", "--yes"]) == 0
    with db_session(install) as db:
        days = set(
            db.scalars(
                select(ViolationRecord.day)
                .join(Employee, Employee.id == ViolationRecord.employee_id)
                .where(Employee.code == "MOI15", ViolationRecord.active.is_(True))
            )
        )
    assert min(days) == date(2026, 10, 15)
    assert date(2026, 10, 14) not in days

    # A tracking start set later withdraws what was judged before it (after its preview).
    assert main(["agencies", "set-start", "SNV", "20/10/2026", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "thu hồi" in out and "Chạy thử (--dry-run): chưa lưu gì." in out
    assert violations(install, before=date(2026, 10, 20)) > 0
    assert main(["agencies", "set-start", "SNV", "20/10/2026", "--yes"]) == 0
    assert violations(install, before=date(2026, 10, 20)) == 0
    assert violations(install) > 0  # from the 20th on, still judged
    with db_session(install) as db:
        agency = db.scalars(select(Agency).where(Agency.code == "SNV")).one()
        assert agency.tracking_start == date(2026, 10, 20)
