"""The summary page's ranking a page of units at a time (trang): the same units, ranks and
total as the whole summary, and a page number that cannot be read refused in Vietnamese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from services import summaries as summary_service
from services.scope import scope_of
from store import charts as chart_sums
from store import rollups
from store.db import db_session
from store.models import PersonMonth, Unit, User
from tests.integration.test_api import World, build_world, world_settings
from tests.signin import signed_in

NOW = datetime(2026, 12, 2, 3, tzinfo=UTC)
QUERY = summary_service.SummaryQuery("month", 2026, 11)


@pytest.fixture
def world(pg_engine: Engine) -> Iterator[World]:
    yield build_world(pg_engine, world_settings(pg_engine))


def test_the_pages_of_the_ranking_are_the_whole_summarys_units_in_turn(world: World) -> None:
    settings = world_settings(world.engine)
    with db_session(world.engine) as db:
        scope = scope_of(db, db.scalars(select(User).where(User.username == "noivu_a")).one())
        whole = summary_service.summary(
            db, scope, QUERY, settings.thresholds, NOW, settings.timezone, people="flagged"
        )
        assert len(whole.units) >= 2  # else there is nothing to page
        pages = [
            summary_service.summary_page(
                db, scope, QUERY, settings.thresholds, NOW, settings.timezone, n, size=1
            )
            for n in range(1, len(whole.units) + 2)  # one past the last: the last again
        ]
    assert [p.pages for p in pages] == [len(whole.units)] * len(pages)
    assert [p.page for p in pages] == [*range(1, len(whole.units) + 1), len(whole.units)]
    assert [u for p in pages[:-1] for u in p.report.units] == whole.units
    assert pages[-1].report.units == whole.units[-1:]
    assert all(p.report.total == whole.total and p.report.people == whole.people for p in pages)
    assert {p.unit_count for p in pages} == {len(whole.units)}


def test_a_page_number_that_cannot_be_read_is_refused_in_vietnamese(world: World) -> None:
    client = signed_in(world, "noivu_a")
    params = {"ky": "month", "nam": "2026", "thang": "11"}
    first = client.get("/bao-cao", params=params)
    assert first.status_code == 200 and "Trang sau" not in first.text  # one page: no pager
    assert client.get("/bao-cao", params=params | {"trang": "1"}).status_code == 200
    bad = client.get("/bao-cao", params=params | {"trang": "abc"})
    assert bad.status_code == 400
    assert "Trang phải là một số từ 1 đến 100000" in bad.text and "“abc”" in bad.text


def test_the_ranking_pages_link_to_each_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_service, "UNITS_PER_PAGE", 1)
    client = signed_in(world, "noivu_a")
    params = {"ky": "month", "nam": "2026", "thang": "11"}
    first = client.get("/bao-cao", params=params).text
    assert "Trang 1/" in first and "Trang sau" in first and "Trang trước" not in first
    assert first.count('<td data-label="#">') == 1
    assert '&trang=2" rel="next"' in first.replace("&amp;", "&")
    second = client.get("/bao-cao", params=params | {"trang": "2"}).text
    assert "Trang 2/" in second and "Trang trước" in second
    assert '<td data-label="#">2</td>' in second


def _raw_shape(
    db: DbSession, first: date, last: date, units: frozenset[int] | None
) -> tuple[list[int], list[int]]:
    """The charts' late arrivals as they were counted before the rollups: every violation."""
    weekdays, buckets = [0] * 7, [0] * len(chart_sums.LATE_BUCKETS)
    for day, bucket, count in chart_sums.late_by_day_and_bucket(db, first, last, units):
        weekdays[day.weekday()] += count
        buckets[bucket] += count
    return weekdays, buckets


def test_the_charts_late_arrivals_from_the_rollups_equal_the_violations(world: World) -> None:
    periods = [
        (date(2026, 11, 1), date(2026, 11, 30)),  # a whole month
        (date(2026, 11, 10), date(2026, 12, 5)),  # the parts of two months
        (date(2026, 10, 20), date(2026, 12, 31)),  # parts and a whole month between
        (date(2026, 11, 23), date(2026, 11, 23)),  # one day
    ]

    def compare() -> list[int]:
        with db_session(world.engine) as db:
            units = frozenset(db.scalars(select(Unit.id)))
            seen = []
            for first, last in periods:
                for scope in (None, units, frozenset(sorted(units)[:1])):
                    rolled = chart_sums.late_shape(db, first, last, scope)
                    assert rolled == _raw_shape(db, first, last, scope), (first, last, scope)
                    seen.append(sum(rolled[0]))
            return seen

    before = compare()
    assert max(before) > 0  # late arrivals there are, else nothing is compared
    late = world.violation_id("e1", "late")
    answer = world.client.post(
        f"/api/violations/{late}/review",
        headers=world.headers("head_a1"),
        json={"decision": "excused", "reason_kind": "business_trip", "note": "Họp"},
    )
    assert answer.status_code == 200
    after = compare()
    assert sum(after) < sum(before)  # the excused arrival left the charts at once


def test_a_rebuild_keeps_the_late_arrivals_the_runner_wrote(world: World) -> None:
    columns = [*rollups.LATE_WEEKDAYS, *rollups.LATE_BUCKETS]
    with db_session(world.engine) as db:
        kept = sorted(
            db.execute(
                select(
                    PersonMonth.employee_id,
                    PersonMonth.month,
                    *[getattr(PersonMonth, c) for c in columns],
                )
            )
        )
        rollups.rebuild(db)
        rebuilt = sorted(
            db.execute(
                select(
                    PersonMonth.employee_id,
                    PersonMonth.month,
                    *[getattr(PersonMonth, c) for c in columns],
                )
            )
        )
    assert kept == rebuilt and any(any(r[2:]) for r in kept)
